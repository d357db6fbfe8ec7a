/**
 * Configuration of the signaling server: one documented `defaults` object, and a service
 * holding the resolved values.
 *
 * @since 2.0.0
 */
import { Context, Layer } from "effect"
import type { TokenBucketOptions } from "../internal/tokenBucket.ts"

export interface ServerOptions {
  /** TCP port; 0 lets the OS choose (read it back from `PeerPigeonServer.port`). Default 3000. */
  readonly port: number
  /** Interface to bind, exactly as given. Default `"localhost"`. */
  readonly host: string
  /** Simultaneous WebSocket connections; more are closed with 1008. Default 1000. */
  readonly maxConnections: number
  /**
   * Simultaneous WebSocket connections from one remote address; more are closed with 1008
   * "Too many connections from this address". Behind a reverse proxy every client shares the
   * proxy's address: raise it there. Default 50.
   */
  readonly maxConnectionsPerIp: number
  /**
   * A connection that has not announced this long after its greeting (or after its goodbye)
   * is closed with 1008 "Announce timeout" (a contender for a held id, see Admission.ts:
   * "Peer already connected"), so an idle socket cannot hold a peer id or a slot.
   * Default 10000 ms.
   */
  readonly announceTimeout: number
  /**
   * Largest announce extras (what is kept of `announce.data`: all but `peerId`, `signature`,
   * `verified` and `isHub`, as JSON, in UTF-8 bytes); a larger announce gets an
   * `announce-too-large` error and is refused. They are stored for as long as the peer stays
   * and re-sent in every `peer-discovered` about it. Default 4096.
   */
  readonly maxAnnounceExtras: number
  /**
   * Per-connection limit on accepted announces (the first one included; refused ones do not
   * count), separate from `rateLimit`: every announce makes its receivers re-plan their links.
   * Over it, an `error` (`rate-limited`) and the announce is refused. Default 1/s sustained,
   * bursts of 3.
   */
  readonly announceRateLimit: TokenBucketOptions
  /** Largest frame in bytes; a larger one closes the connection with 1009. Default 1 MiB. */
  readonly maxMessageSize: number
  /** A peer silent this long (no frame, no pong) is dropped. Default 300000 ms. */
  readonly peerTimeout: number
  /** How often WebSocket pings go out to every connection. Default 30000 ms. */
  readonly pingInterval: number
  /** How often stale peers are swept. Default 60000 ms. */
  readonly cleanupInterval: number
  /** `Access-Control-Allow-Origin` for the HTTP endpoints. Default `"*"`. */
  readonly corsOrigin: string
  /** How many XOR-closest peers a newcomer is told about (and who are told about it). Default 8. */
  readonly discoveryK: number
  /** How many random extra peers a newcomer is told about, for connectivity. Default 2. */
  readonly discoveryRandom: number
  /** Refuse announces without a valid identity proof. Default false. */
  readonly requireIdentity: boolean
  /** Per-connection message rate limit. Default 100/s sustained, bursts of 200. */
  readonly rateLimit: TokenBucketOptions
  /** Frames refused by the rate limit, in a row without a quiet period, before the connection is closed (1008). Default 1000. */
  readonly rateLimitCloseAfter: number
  /**
   * Scale-out: a Redis URL (`redis://[user:password@]host:port`, `rediss://` for TLS) shared
   * by several servers, which then act as one (docs/DEPLOYMENT.md). Default none: this
   * process alone, in memory.
   */
  readonly redis: string | undefined
  /** With `redis`: a unix socket path instead of a URL. Default none. */
  readonly redisSocket: string | undefined
  /** With `redis`: the longest wait for one Redis call, after which the step fails (1013 or `relay-failed`). Default 2000 ms. */
  readonly redisCommandTimeout: number
}

export const defaults: ServerOptions = {
  port: 3000,
  host: "localhost",
  maxConnections: 1000,
  maxConnectionsPerIp: 50,
  announceTimeout: 10_000,
  maxAnnounceExtras: 4096,
  announceRateLimit: { perSecond: 1, burst: 3 },
  maxMessageSize: 1024 * 1024,
  peerTimeout: 300_000,
  pingInterval: 30_000,
  cleanupInterval: 60_000,
  corsOrigin: "*",
  discoveryK: 8,
  discoveryRandom: 2,
  requireIdentity: false,
  rateLimit: { perSecond: 100, burst: 200 },
  rateLimitCloseAfter: 1000,
  redis: undefined,
  redisSocket: undefined,
  redisCommandTimeout: 2000
}

/** Checks options a user supplied; throws a `RangeError` naming the bad field. */
export const resolveOptions = (partial: Partial<ServerOptions> = {}): ServerOptions => {
  const o: ServerOptions = { ...defaults, ...dropUndefined(partial) }
  const int = (name: keyof ServerOptions, value: number, min: number, max = Number.MAX_SAFE_INTEGER) => {
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new RangeError(`PeerPigeonServer option ${name} must be an integer in [${min}, ${max}], got ${value}`)
    }
  }
  int("port", o.port, 0, 65535)
  int("maxConnections", o.maxConnections, 1)
  int("maxConnectionsPerIp", o.maxConnectionsPerIp, 1)
  int("announceTimeout", o.announceTimeout, 1)
  int("maxAnnounceExtras", o.maxAnnounceExtras, 0)
  int("maxMessageSize", o.maxMessageSize, 64)
  int("peerTimeout", o.peerTimeout, 1)
  int("pingInterval", o.pingInterval, 1)
  int("cleanupInterval", o.cleanupInterval, 1)
  int("discoveryK", o.discoveryK, 1, 1000)
  int("discoveryRandom", o.discoveryRandom, 0, 1000)
  int("rateLimitCloseAfter", o.rateLimitCloseAfter, 1)
  int("redisCommandTimeout", o.redisCommandTimeout, 1)
  if (o.redis !== undefined && !/^rediss?:\/\//.test(o.redis)) {
    throw new RangeError(`PeerPigeonServer option redis must be a redis:// or rediss:// URL, got ${o.redis}`)
  }
  if (typeof o.host !== "string" || o.host.length === 0) throw new RangeError("PeerPigeonServer option host must be a non-empty string")
  for (const name of ["rateLimit", "announceRateLimit"] as const) {
    if (!(o[name].perSecond > 0) || !(o[name].burst >= 1)) {
      throw new RangeError(`PeerPigeonServer option ${name} needs perSecond > 0 and burst >= 1`)
    }
  }
  return o
}

const dropUndefined = <A extends object>(a: A): Partial<A> =>
  Object.fromEntries(Object.entries(a).filter(([, v]) => v !== undefined)) as Partial<A>

export class ServerConfig extends Context.Service<ServerConfig, ServerOptions>()("peerpigeon/server/ServerConfig") {
  static readonly layer = (partial: Partial<ServerOptions> = {}) => Layer.sync(ServerConfig, () => resolveOptions(partial))
}
