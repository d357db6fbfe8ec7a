/**
 * One signaling connection, from the accepted upgrade to its close: admission (peer id,
 * duplicates, capacity), the `connected` greeting, then each frame decoded and answered as
 * PROTOCOL.md says. Bad frames get an `error` reply; the connection stays.
 *
 * Memory is what limits how many idle peers one server holds, so a connection is one small
 * `Connection` object: frames arrive through module-level `ws` listeners (no closures, fiber
 * or generator per connection), and only the steps that touch the `Registry` run as Effects,
 * each as a short fiber with the server's context. With the in-memory registry those finish
 * at once; a step that has to wait (identity verification, an async registry backend) holds
 * the connection's later frames in a queue until it is done, so nothing overtakes it.
 *
 * @since 2.0.0
 */
import { Cause, type Context, Effect, Exit, Fiber, Scope } from "effect"
import type { Socket as NetSocket } from "node:net"
import { WebSocket } from "ws"
import { makeNonce, verifyAnnounceProof } from "../internal/identityProof.ts"
import { TokenBucket } from "../internal/tokenBucket.ts"
import { isPeerIdString, type PeerId } from "../schema/PeerId.ts"
import {
  type ClientMessage,
  DEFAULT_NETWORK,
  decodeClientFrame,
  type ErrorCode,
  isFrameProblem,
  type JsonObject
} from "../schema/Signaling.ts"
import { type PeerRecord, type PeerSink, Registry } from "./Registry.ts"
import { ServerConfig, type ServerOptions } from "./ServerConfig.ts"
import { ServerHooks, type ServerHooksShape, ServerStats, type StatsCounters } from "./ServerEvents.ts"

/** A live socket as the keepalive sweeper and shutdown see it. */
export interface LiveConnection {
  readonly peerId: PeerId
  readonly ws: WebSocket
  lastSeen: number
  /** Why the server is closing it, when the server is the one closing. */
  closing: string | undefined
}

export const CLOSE_POLICY = 1008
const CLOSE_INTERNAL = 1011
const OPEN = 1

const frame = (message: object): string => JSON.stringify(message)

// ------------------------------------------------------------------ the server's sockets

// platform-node hides the `ws` object behind `request.upgrade`; we need it for protocol-level
// ping/pong, close codes and direct frame handling. `ws` builds server sockets from the class
// given in the server options, and `setSocket` is where it meets the HTTP request's socket,
// so we remember the pair until the route takes it.
const upgraded = new WeakMap<object, SignalingWebSocket>()

/** The `ws` class of the signaling server's sockets (pass it as the `WebSocket` option). */
export class SignalingWebSocket extends WebSocket {
  /** Set once the route has accepted the socket. */
  connection: Connection | undefined = undefined
  /** Frames that arrived between the handshake and the route accepting the socket. */
  early: Array<string> | undefined = undefined

  setSocket(socket: object, ...rest: Array<unknown>): void {
    upgraded.set(socket, this)
    // listening from the handshake on, so no frame can arrive before anyone listens
    this.on("message", onMessage)
    this.on("pong", onPong)
    this.on("close", onClose)
    this.on("error", ignore) // ws closes the socket itself after an error; 'close' follows
    ;(WebSocket.prototype as unknown as { setSocket: (...args: Array<unknown>) => void }).setSocket.call(this, socket, ...rest)
  }

  /**
   * Effect's socket reader is only used to complete the handshake: its EventTarget
   * listeners would buffer every frame for a pull that never comes (and keep the request's
   * context alive), so they are not registered. Frames go to the listeners above.
   */
  override addEventListener(): void {}
}

/** The WebSocket upgraded from this HTTP request socket (once). */
export const takeWebSocket = (requestSocket: object): SignalingWebSocket | undefined => {
  const ws = upgraded.get(requestSocket)
  upgraded.delete(requestSocket)
  return ws
}

const ignore = (): void => {}

const textOf = (data: WebSocket.RawData): string =>
  Array.isArray(data)
    ? Buffer.concat(data).toString("utf8")
    : data instanceof ArrayBuffer
    ? Buffer.from(data).toString("utf8")
    : data.toString("utf8")

function onMessage(this: WebSocket, data: WebSocket.RawData): void {
  const ws = this as SignalingWebSocket
  if (ws.readyState !== OPEN) return
  const c = ws.connection
  if (c === undefined) (ws.early ??= []).push(textOf(data))
  else receive(c, textOf(data))
}

function onPong(this: WebSocket): void {
  const c = (this as SignalingWebSocket).connection
  if (c !== undefined) c.lastSeen = Date.now()
}

function onClose(this: WebSocket): void {
  const c = (this as SignalingWebSocket).connection
  if (c !== undefined) run(c, finalize(c))
}

// ------------------------------------------------------------------ per server

/** What every connection of one server shares; built once per server by `makeHub`. */
export class Hub {
  readonly live: Set<LiveConnection>
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
  accept(ws: SignalingWebSocket, requestedPeerId: string | null): void {
    const early = ws.early
    ws.early = undefined
    if (ws.readyState !== OPEN) return
    if (requestedPeerId === null || !isPeerIdString(requestedPeerId)) {
      this.stats.connectionsRejected++
      ws.close(CLOSE_POLICY, "Invalid peerId format")
      return
    }
    const c = new Connection(this, requestedPeerId.toLowerCase() as PeerId, ws, Date.now())
    ws.connection = c
    run(c, admit(c))
    if (early !== undefined) for (const text of early) receive(c, text)
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

// ------------------------------------------------------------------ per connection

/** All a connection holds; also the registry's way to reach it. */
class Connection implements LiveConnection, PeerSink {
  readonly hub: Hub
  readonly peerId: PeerId
  readonly ws: SignalingWebSocket
  lastSeen: number
  closing: string | undefined = undefined
  /** The network it announced in. */
  network: string | undefined = undefined
  readonly nonce: string
  readonly bucket: TokenBucket
  /** Refused frames drain it; a sender that keeps flooding empties it and is closed. */
  readonly abuse: TokenBucket
  refused = 0
  /** Holds the registry membership; closed when the connection ends. */
  readonly scope: Scope.Closeable
  admitted = false
  done = false
  /** The step still running, while one waits; later frames queue behind it. */
  inflight: Fiber.Fiber<void> | undefined = undefined
  queue: Array<string> | undefined = undefined

  constructor(hub: Hub, peerId: PeerId, ws: SignalingWebSocket, now: number) {
    this.hub = hub
    this.peerId = peerId
    this.ws = ws
    this.lastSeen = now
    this.nonce = makeNonce()
    this.bucket = new TokenBucket(hub.config.rateLimit, now)
    this.abuse = new TokenBucket({ perSecond: hub.config.rateLimit.perSecond, burst: hub.config.rateLimitCloseAfter }, now)
    this.scope = Scope.makeUnsafe()
  }

  send(text: string): void {
    if (this.ws.readyState === OPEN) this.ws.send(text)
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason)
  }
}

/**
 * Runs one step with the server's context. Done at once (the in-memory registry): nothing
 * more. Otherwise the connection's later frames wait in its queue until the step ends.
 */
const run = (c: Connection, effect: Effect.Effect<void>): void => {
  const fiber = Effect.runForkWith(c.hub.context)(effect)
  const exit = fiber.pollUnsafe()
  if (exit !== undefined) {
    if (Exit.isFailure(exit)) report(c, exit.cause)
    return
  }
  if (c.done) {
    // finalizing: nothing waits behind it
    fiber.addObserver((exit) => {
      if (Exit.isFailure(exit)) report(c, exit.cause)
    })
    return
  }
  c.inflight = fiber
  fiber.addObserver((exit) => {
    if (c.inflight !== fiber) return // interrupted by the close
    c.inflight = undefined
    if (Exit.isFailure(exit)) report(c, exit.cause)
    drain(c)
  })
}

/** A defect in a step (a throwing hook, a broken backend): reported, and the socket closed. */
const report = (c: Connection, cause: Cause.Cause<unknown>): void => {
  if (Cause.hasInterruptsOnly(cause)) return
  reportError(c, Cause.squash(cause))
}

const reportError = (c: Connection, error: unknown): void => {
  try {
    c.hub.hooks.error?.({ peerId: c.peerId, error: error instanceof Error ? error : new Error(String(error)) })
  } catch {
    // a throwing error hook has nowhere left to go
  }
  if (c.ws.readyState <= OPEN) {
    c.closing ??= "internal-error"
    c.ws.close(CLOSE_INTERNAL, "Internal error")
  }
}

const admit = Effect.fnUntraced(function*(c: Connection) {
  const { config, hooks, live, registry, stats } = c.hub
  const admitted = yield* Effect.exit(Scope.provide(registry.connect(c.peerId, c, config.maxConnections), c.scope))
  if (Exit.isFailure(admitted)) {
    stats.connectionsRejected++
    const reason = admitted.cause.reasons[0]
    c.ws.close(CLOSE_POLICY, reason?._tag === "Fail" ? reason.error.message : "Connection refused")
    return
  }
  c.admitted = true
  live.add(c)
  stats.connectionsAccepted++
  hooks.peerConnected?.({ peerId: c.peerId, totalConnections: (yield* registry.counts).connections })
  c.send(frame({ type: "connected", data: { peerId: c.peerId, nonce: c.nonce }, fromPeerId: "system", timestamp: c.lastSeen }))
})

/** Leaves the network, the registry, and tells the hooks; once, whoever calls first. */
const finalize = (c: Connection): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (c.done) return Effect.void
    c.done = true
    c.queue = undefined
    const inflight = c.inflight
    c.inflight = undefined
    c.hub.live.delete(c)
    return Effect.gen(function*() {
      if (inflight !== undefined) yield* Fiber.interrupt(inflight)
      const reason = c.closing ?? "disconnected"
      yield* leaveNetwork(c, reason)
      yield* Scope.close(c.scope, Exit.void)
      if (!c.admitted) return
      const counts = yield* c.hub.registry.counts
      c.hub.hooks.peerDisconnected?.({ peerId: c.peerId, reason, totalConnections: counts.connections })
    })
  })

/** One frame as it arrives: liveness, counters and the rate limit, then in order. */
const receive = (c: Connection, text: string): void => {
  if (c.done || c.ws.readyState !== OPEN) return
  const stats = c.hub.stats
  const ts = Date.now()
  c.lastSeen = ts
  stats.messagesReceived++
  if (!c.bucket.take(ts)) {
    stats.rateLimited++
    if (!c.abuse.take(ts)) {
      c.closing = "rate-limit"
      c.queue = undefined
      c.ws.close(CLOSE_POLICY, "Rate limit exceeded")
      return
    }
    if (c.refused++ % 100 === 0) replyError(c, "rate-limited", "Too many messages; slow down", ts)
    return
  }
  if (c.inflight !== undefined || !c.admitted || c.queue !== undefined) (c.queue ??= []).push(text)
  else handleSafely(c, text)
}

/** Handles queued frames until one has to wait. */
const drain = (c: Connection): void => {
  const queue = c.queue
  if (queue === undefined) return
  while (queue.length > 0 && c.inflight === undefined && !c.done && c.ws.readyState === OPEN) {
    handleSafely(c, queue.shift()!)
  }
  if (queue.length === 0 && c.queue === queue) c.queue = undefined
}

const handleSafely = (c: Connection, text: string): void => {
  try {
    handle(c, text)
  } catch (error) {
    reportError(c, error)
  }
}

const handle = (c: Connection, text: string): void => {
  const ts = Date.now()
  const message = decodeClientFrame(text)
  if (isFrameProblem(message)) return replyError(c, message.code, message.message, ts)
  switch (message.type) {
    case "announce":
      return run(c, announce(c, message, ts))
    case "offer":
    case "answer":
    case "ice-candidate":
      return relay(c, message, ts)
    case "goodbye": {
      const reason = typeof message.data?.reason === "string" ? message.data.reason : "goodbye"
      c.hub.hooks.peerGoodbye?.({ peerId: c.peerId, reason })
      if (c.network !== undefined) run(c, leaveNetwork(c, reason))
      return
    }
    case "ping":
      return c.send(frame({ type: "pong", data: { timestamp: ts }, fromPeerId: "system", timestamp: ts }))
    case "cleanup":
      return
  }
}

const replyError = (c: Connection, code: ErrorCode, error: string, ts: number): void => {
  c.hub.stats.errorsSent++
  c.send(frame({ type: "error", error, code, fromPeerId: "system", timestamp: ts }))
}

const leaveNetwork = (c: Connection, reason: string): Effect.Effect<void> => {
  const left = c.network
  if (left === undefined) return Effect.void
  c.network = undefined
  const { registry, stats } = c.hub
  return Effect.flatMap(registry.leave(c.peerId), ({ introductions, told }) => {
    if (told.length === 0 && introductions.length === 0) return Effect.void
    const ts = Date.now()
    return Effect.andThen(
      Effect.forEach(told, (other) => {
        stats.disconnectsSent++
        return registry.deliver(
          other,
          frame({
            type: "peer-disconnected",
            data: { peerId: c.peerId, reason, timestamp: ts },
            fromPeerId: "system",
            timestamp: ts,
            targetPeerId: other,
            networkName: left
          })
        )
      }, { discard: true }),
      Effect.forEach(introductions, ({ about, to }) => {
        stats.discoveriesSent++
        return registry.deliver(to, discovered(about, to, ts))
      }, { discard: true })
    )
  })
}

const announce = Effect.fnUntraced(function*(c: Connection, message: Extract<ClientMessage, { type: "announce" }>, ts: number) {
  const { config, hooks, registry, stats } = c.hub
  const peerId = c.peerId
  const { peerId: claimed, publicKey, signature, ...extras } = message.data
  if (claimed !== undefined && claimed !== peerId) {
    return replyError(c, "peer-id-mismatch", "announce data.peerId differs from the connection's peerId", ts)
  }
  const networkName = message.networkName ?? DEFAULT_NETWORK
  let verified = false
  if (publicKey !== undefined || signature !== undefined) {
    const nonce = c.nonce
    const failure = publicKey === undefined || signature === undefined
      ? "bad-encoding"
      : yield* Effect.promise(() => verifyAnnounceProof({ peerId, networkName, nonce, publicKey, signature }))
    if (failure !== undefined) {
      stats.identityRejected++
      return replyError(c, "identity-invalid", `Identity proof rejected: ${failure}`, ts)
    }
    verified = true
    stats.identityVerified++
  } else if (config.requireIdentity) {
    stats.identityRejected++
    return replyError(c, "identity-required", "This server requires an identity proof (publicKey and signature) in announce", ts)
  }
  if (c.network !== undefined) yield* leaveNetwork(c, "re-announced")
  const data: JsonObject = publicKey === undefined ? extras : { ...extras, publicKey }
  const record: PeerRecord = { peerId, networkName, verified, data, announcedAt: ts }
  const chosen = yield* registry.announce(record, config.discoveryK, config.discoveryRandom)
  c.network = networkName
  hooks.peerAnnounced?.({ peerId, networkName, verified })
  if (chosen.length === 0) return
  stats.discoveriesSent += 2 * chosen.length
  // the newcomer's discoveries leave in one write (one syscall instead of one per frame)
  const socket = corkable(c.ws)
  socket?.cork()
  try {
    for (const other of chosen) c.send(discovered(other, peerId, ts))
  } finally {
    socket?.uncork()
  }
  for (const other of chosen) yield* registry.deliver(other.peerId, discovered(record, other.peerId, ts))
})

/** Relays offer / answer / ice-candidate to a peer of the same network, stamped with the sender's id. */
const relay = (c: Connection, message: Extract<ClientMessage, { type: "offer" | "answer" | "ice-candidate" }>, ts: number): void => {
  const network = c.network
  if (network === undefined) return replyError(c, "not-announced", "Announce before sending signaling messages", ts)
  const { registry, stats } = c.hub
  run(
    c,
    Effect.flatMap(registry.lookup(message.targetPeerId), (target) => {
      // the same answer for "absent" and "in another network": no cross-network existence leak
      if (target === undefined || target.networkName !== network) {
        return Effect.sync(() => replyError(c, "unknown-peer", `Unknown peer ${message.targetPeerId} in network ${network}`, ts))
      }
      return Effect.map(
        registry.deliver(
          target.peerId,
          frame({
            type: message.type,
            data: message.data,
            fromPeerId: c.peerId,
            targetPeerId: target.peerId,
            networkName: network,
            timestamp: ts
          })
        ),
        (delivered) => {
          if (delivered) stats.messagesRelayed++
          else replyError(c, "unknown-peer", `Unknown peer ${message.targetPeerId} in network ${network}`, ts)
        }
      )
    })
  )
}

/** The TCP socket under a ws, when it has one that can batch writes. */
const corkable = (ws: WebSocket): NetSocket | undefined => {
  const socket = (ws as unknown as { _socket?: unknown })._socket
  return typeof socket === "object" && socket !== null && typeof (socket as NetSocket).cork === "function" &&
      typeof (socket as NetSocket).uncork === "function"
    ? socket as NetSocket
    : undefined
}

const discovered = (about: PeerRecord, to: PeerId, ts: number): string =>
  frame({
    type: "peer-discovered",
    data: { ...about.data, peerId: about.peerId, isHub: false, ...(about.verified ? { verified: true } : {}) },
    fromPeerId: "system",
    targetPeerId: to,
    networkName: about.networkName,
    timestamp: ts
  })
