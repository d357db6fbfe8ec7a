/**
 * What every connection of one server shares: configuration, registry, counters, hooks, the
 * server's context, the live sockets, the connections still due to announce and the count
 * of connections per remote address. Also the two periodic sweeps over them (keepalive and
 * the announce deadline), as plain functions the server's supervised loops call.
 *
 * @since 2.0.0
 */
import { type Context, Effect } from "effect"
import { Registry } from "./Registry.ts"
import { accept, expireUnannounced, finalize } from "./Admission.ts"
import { type Connection, type LiveConnection, report } from "./Connection.ts"
import { ServerConfig, type ServerOptions } from "./ServerConfig.ts"
import { ServerHooks, type ServerHooksShape, ServerStats, type StatsCounters } from "./ServerEvents.ts"
import type { SignalingWebSocket } from "./SignalingSocket.ts"

/** What every connection of one server shares; built once per server by `makeHub`. */
export class Hub {
  readonly live: Set<LiveConnection>
  /** Admitted connections that have not announced (yet, or since their goodbye), oldest first. */
  readonly pending = new Set<Connection>()
  /** Open connections per remote address, for `maxConnectionsPerIp`. */
  readonly perAddress = new Map<string, number>()
  readonly config: ServerOptions
  readonly registry: Registry["Service"]
  readonly stats: StatsCounters
  readonly hooks: ServerHooksShape
  /** The server's context: registry steps run with it. */
  readonly context: Context.Context<never>

  constructor(
    live: Set<LiveConnection>,
    config: ServerOptions,
    registry: Registry["Service"],
    stats: StatsCounters,
    hooks: ServerHooksShape,
    context: Context.Context<never>
  ) {
    this.live = live
    this.config = config
    this.registry = registry
    this.stats = stats
    this.hooks = hooks
    this.context = context
  }

  /** Takes over an upgraded socket: admission, greeting, then its frames until it closes. */
  accept(ws: SignalingWebSocket, requestedPeerId: string | null, remoteAddress?: string): void {
    accept(this, ws, requestedPeerId, remoteAddress)
  }

  /** Closes connections that missed their announce deadline (`announceTimeout`). */
  expireUnannounced(now: number): void {
    expireUnannounced(this, now)
  }

  /** Closes every socket with 1001 and releases their registrations (server shutdown). */
  readonly shutdown: Effect.Effect<void> = Effect.suspend(() => {
    const all = [...this.live] as Array<Connection>
    for (const c of all) {
      c.closing = "server-shutdown"
      c.ws.close(1001, "Server shutting down")
    }
    return Effect.forEach(all, (c) => Effect.catchCause(finalize(c), (cause) => Effect.sync(() => report(c, cause))), {
      discard: true
    })
  })
}

/** The hub of one server, over the sockets set that keepalive and shutdown walk. */
export const makeHub = (live: Set<LiveConnection>): Effect.Effect<Hub, never, Registry | ServerConfig | ServerStats> =>
  Effect.gen(function*() {
    const config = yield* ServerConfig
    const registry = yield* Registry
    const stats = yield* ServerStats
    const hooks = yield* ServerHooks
    const context = yield* Effect.context<never>()
    return new Hub(live, config, registry, stats, hooks, context)
  })

/**
 * Keepalive: pings every socket; one silent for `peerTimeout` is terminated (its close
 * handler then leaves the network and frees the slot) and counted in `timeouts`.
 */
export const keepalive = (live: Iterable<LiveConnection>, config: ServerOptions, stats: StatsCounters, now: number): void => {
  for (const conn of live) {
    if (now - conn.lastSeen > config.peerTimeout) {
      if (conn.closing === undefined) stats.timeouts++
      conn.closing ??= "timeout"
      conn.ws.terminate()
    } else if (conn.ws.readyState === 1) {
      conn.ws.ping()
    }
  }
}
