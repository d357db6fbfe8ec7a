/**
 * `Signaling` over a WebSocket to a PeerPigeon signaling server (PROTOCOL.md).
 *
 * One session per `connect`: a fiber dials, waits for `connected`, announces with the identity
 * proof, confirms the announce with a `ping` (the server answers in order, so the `pong` means
 * the announce was accepted, and an `error` before it means it was refused), then reads frames
 * into a `PubSub` of `SignalingEvent`s. When the socket drops, the same fiber re-dials with
 * exponential backoff and jitter and re-announces, until `disconnect` or the layer's Scope
 * closes. Nothing but this fiber and its socket depends on the server, so an outage only
 * shows up as `Disconnected` / `Connected` events.
 *
 * Requires `Socket.WebSocketConstructor`: `NodeSocket.layerWebSocketConstructor` in Node
 * (>= 22, its global WebSocket), `Socket.layerWebSocketConstructorGlobal` in browsers.
 *
 * @since 2.0.0
 */
import { Clock, Context, Deferred, Duration, Effect, Exit, Fiber, Layer, PubSub, Random, Scope, Semaphore } from "effect"
import { Socket } from "effect/socket"
import { type BackoffOptions, backoffDelay } from "../internal/backoff.ts"
import { announceChallenge } from "../internal/identityProof.ts"
import { supervised } from "../internal/supervise.ts"
import type { PeerId } from "../schema/PeerId.ts"
import { decodeServerFrame, type JsonObject, type ServerMessage } from "../schema/Signaling.ts"
import { Identity } from "../services/Identity.ts"
import { MeshConfig } from "../services/MeshConfig.ts"
import type { Signal } from "../services/PeerTransport.ts"
import { Signaling, SignalingError, type SignalingEvent } from "../services/Signaling.ts"

// ---------------------------------------------------------------------------------------------
// Options

export interface WsSignalingOptions {
  /** Time allowed to open the socket, receive `connected` and have the announce accepted. Default 10 s. */
  readonly connectTimeout: Duration.Input
  /** Reconnection delays (see `internal/backoff.ts`). Default 1 s base, 30 s cap, factor 2, 20 % jitter. */
  readonly backoff: BackoffOptions
  /**
   * Interval of the app-level `ping`. A connection that has received nothing for two intervals
   * is treated as dead and re-dialled: browsers cannot see WebSocket-level pings, so this is
   * how they notice a half-open socket. Default 60 s.
   */
  readonly keepAliveInterval: Duration.Input
}

export const defaults: WsSignalingOptions = {
  connectTimeout: Duration.seconds(10),
  backoff: { baseMs: 1_000, maxMs: 30_000, factor: 2, jitter: 0.2 },
  keepAliveInterval: Duration.seconds(60)
}

/** Tunables of `layer`; override with `layerOptions` or `Layer.succeed(WsSignalingOptions, ...)`. */
export const WsSignalingOptions = Context.Reference<WsSignalingOptions>("peerpigeon/WsSignalingOptions", {
  defaultValue: () => defaults
})

/** Provides `WsSignalingOptions` from a partial object; missing fields keep their defaults. */
export const layerOptions = (options: Partial<WsSignalingOptions>) =>
  Layer.succeed(WsSignalingOptions, {
    ...defaults,
    ...options,
    backoff: { ...defaults.backoff, ...options.backoff }
  })

// ---------------------------------------------------------------------------------------------
// URL

/**
 * The socket URL for `url`: `http(s)` becomes `ws(s)`, the user's path and query are kept,
 * `peerId` is set, and any fragment (which WebSocket refuses) is dropped.
 */
export const signalingUrl = (url: string, peerId: string): Effect.Effect<string, SignalingError> =>
  Effect.suspend(() => {
    const invalid = (why: string) =>
      Effect.fail(new SignalingError({ reason: "invalid-url", message: `Invalid signaling URL ${JSON.stringify(url)}: ${why}` }))
    let parsed: URL
    try {
      parsed = new URL(url)
    } catch {
      return invalid("not a URL")
    }
    const scheme = schemes[parsed.protocol]
    if (scheme === undefined) return invalid(`unsupported scheme ${parsed.protocol}, expected ws, wss, http or https`)
    parsed.protocol = scheme
    parsed.hash = ""
    parsed.searchParams.set("peerId", peerId)
    return Effect.succeed(parsed.toString())
  })

const schemes: Record<string, string | undefined> = { "ws:": "ws:", "wss:": "wss:", "http:": "ws:", "https:": "wss:" }

// ---------------------------------------------------------------------------------------------
// Layer

/** An announced connection. */
interface Link {
  /** Sends one text frame; fails with "not-connected" unless the socket is open. */
  readonly send: (text: string) => Effect.Effect<void, SignalingError>
  /** The next decoded server message; fails when the socket closes. */
  readonly next: Effect.Effect<ServerMessage, Socket.SocketError>
  /** When the last frame arrived (Clock millis), for the keepalive. */
  lastFrameAt: number
}

const OPEN = 1
const NORMAL_CLOSE = 1000
const POLICY_CLOSE = 1008

export const layer: Layer.Layer<Signaling, never, Identity | MeshConfig | Socket.WebSocketConstructor> = Layer.effect(
  Signaling,
  Effect.gen(function*() {
    const identity = yield* Identity
    const { networkName } = yield* MeshConfig
    const makeWebSocket = yield* Socket.WebSocketConstructor
    const options = yield* WsSignalingOptions
    const connectTimeout = Duration.fromInputUnsafe(options.connectTimeout)
    const keepAliveMs = Duration.toMillis(Duration.fromInputUnsafe(options.keepAliveInterval))
    const peerId = identity.peerId

    const events = yield* Effect.acquireRelease(PubSub.unbounded<SignalingEvent>(), PubSub.shutdown)
    // sessions live in their own child scope, closed after the goodbye finalizer below
    const sessions = yield* Scope.fork(yield* Effect.scope)
    const lock = yield* Semaphore.make(1)
    const publish = (event: SignalingEvent) => PubSub.publish(events, event)

    let session: { readonly url: string; readonly fiber: Fiber.Fiber<void> } | undefined
    let current: Link | undefined

    // -- one connection --------------------------------------------------------------------

    const dial = Effect.fnUntraced(function*(url: string) {
      let raw: Socket.WebSocketLike | undefined
      const socket = yield* Socket.fromWebSocket(
        Effect.acquireRelease(
          Effect.try({
            try: () => (raw = makeWebSocket(url)),
            catch: (cause) => new Socket.SocketError({ reason: new Socket.SocketOpenError({ kind: "Unknown", cause }) })
          }),
          (ws) => Effect.sync(() => ws.close(NORMAL_CLOSE))
        ),
        { openTimeout: connectTimeout }
      )
      const pull = yield* Socket.readerString(socket)
      const ws = raw!
      let batch: Array<string> = []
      const next: Effect.Effect<ServerMessage, Socket.SocketError> = Effect.gen(function*() {
        while (true) {
          if (batch.length === 0) {
            batch = [...(yield* pull)]
            link.lastFrameAt = yield* Clock.currentTimeMillis
          }
          const text = batch.shift()!
          const decoded = decodeServerFrame(text)
          if (Exit.isSuccess(decoded)) return decoded.value
          yield* Effect.logDebug("WsSignaling: skipping undecodable frame", text.slice(0, 200))
        }
      })
      const link: Link = {
        next,
        lastFrameAt: yield* Clock.currentTimeMillis,
        send: (text) =>
          Effect.suspend(() => {
            if (ws.readyState !== OPEN) return notConnected
            try {
              ws.send(text)
              return Effect.void
            } catch (cause) {
              return Effect.fail(new SignalingError({ reason: "not-connected", message: `Send failed: ${String(cause)}` }))
            }
          })
      }
      return link
    })

    /** Dials, announces and confirms; `early` holds what arrived before the confirming pong. */
    const handshake = Effect.fnUntraced(function*(url: string) {
      const link = yield* dial(url)
      let hello: Extract<ServerMessage, { type: "connected" }> | undefined
      while (hello === undefined) {
        const m = yield* link.next
        if (m.type === "connected") hello = m
      }
      const nonce = hello.data.nonce
      // A server without a nonce (PeerPigeon 1.x) verifies nothing. A custom peer id is not
      // derived from the key, so its proof would fail (id-mismatch) and the announce be refused:
      // such a peer announces without one and is seen as unverified.
      const proof = nonce === undefined || !identity.verified ? {} : {
        publicKey: identity.publicKey,
        signature: yield* identity.sign(announceChallenge(networkName, peerId, nonce))
      }
      yield* link.send(JSON.stringify({ type: "announce", data: { peerId, ...proof }, networkName }))
      yield* link.send(JSON.stringify({ type: "ping", networkName }))
      const early: Array<ServerMessage> = []
      while (true) {
        const m = yield* link.next
        if (m.type === "pong") break
        if (m.type === "error") {
          return yield* new SignalingError({ reason: "refused", message: `Announce refused: ${m.error}` })
        }
        early.push(m)
      }
      return { link, early }
    }, (effect) =>
      effect.pipe(
        Effect.timeoutOrElse({
          duration: connectTimeout,
          orElse: () =>
            Effect.fail(new SignalingError({ reason: "timeout", message: `No announced connection within ${Duration.format(connectTimeout)}` }))
        }),
        Effect.catchTag("SocketError", (e) => Effect.fail(fromSocketError(e)))
      ))

    const dispatch = (m: ServerMessage): Effect.Effect<void> => {
      switch (m.type) {
        case "peer-discovered": {
          if (m.targetPeerId !== peerId || m.data.peerId === peerId) return Effect.void
          const { peerId: id, isHub: _isHub, verified, ...data } = m.data
          return publish({ _tag: "PeerDiscovered", peerId: id, verified: verified === true, data: data as JsonObject })
        }
        case "peer-disconnected":
          if (m.targetPeerId !== peerId) return Effect.void
          return publish({ _tag: "PeerLeft", peerId: m.data.peerId, reason: m.data.reason ?? "disconnected" })
        case "offer":
        case "answer":
        case "ice-candidate":
          if (m.targetPeerId !== peerId) return Effect.void
          return publish({ _tag: "Signal", from: m.fromPeerId, signal: { kind: m.type, data: m.data } })
        case "error": {
          // the server names the target it could not reach in the message
          const named = m.code === "unknown-peer" ? /\b([0-9a-f]{40})\b/.exec(m.error)?.[1] : undefined
          return publish({ _tag: "ServerError", message: m.error, code: m.code, peerId: named as PeerId | undefined })
        }
        case "connected":
        case "pong":
          return Effect.void
      }
    }

    /** Reads until the socket closes; returns why. */
    const read = (link: Link): Effect.Effect<string> =>
      Effect.forever(Effect.flatMap(link.next, dispatch)).pipe(
        Effect.catch((e) => Effect.succeed(closeReason(e)))
      )

    /** Pings every interval; returns once nothing has arrived for two intervals. */
    const keepAlive = (link: Link): Effect.Effect<string> =>
      Effect.gen(function*() {
        while (true) {
          yield* Effect.sleep(Duration.millis(keepAliveMs))
          if ((yield* Clock.currentTimeMillis) - link.lastFrameAt >= 2 * keepAliveMs) return "keepalive-timeout"
          yield* Effect.ignore(link.send(JSON.stringify({ type: "ping", networkName })))
        }
      })

    // -- the session: connect, then reconnect until stopped -----------------------------------

    const runSession = (url: string, first: Deferred.Deferred<void, SignalingError>): Effect.Effect<void> =>
      Effect.gen(function*() {
        let attempt = 0
        while (true) {
          const outcome = yield* Effect.gen(function*() {
            const { early, link } = yield* handshake(url)
            current = link
            attempt = 0
            yield* publish({ _tag: "Connected" })
            yield* Deferred.succeed(first, undefined)
            for (const m of early) yield* dispatch(m)
            return yield* Effect.raceFirst(read(link), keepAlive(link))
          }).pipe(
            Effect.ensuring(Effect.sync(() => {
              current = undefined
            })),
            Effect.scoped,
            Effect.exit
          )
          if (Exit.isSuccess(outcome)) {
            yield* publish({ _tag: "Disconnected", reason: outcome.value, willReconnect: true })
          } else {
            const error = Exit.findErrorOption(outcome)
            // the first attempt belongs to the caller of connect: it fails there, no retrying
            if (!(yield* Deferred.isDone(first))) {
              if (error._tag === "Some") yield* Deferred.fail(first, error.value)
              else yield* Deferred.failCause(first, outcome.cause)
              return
            }
            yield* Effect.logDebug("WsSignaling: reconnect failed", error._tag === "Some" ? error.value.message : outcome.cause)
          }
          const r = yield* Random.next
          yield* Effect.sleep(Duration.millis(backoffDelay(Math.min(attempt++, 64), options.backoff, () => r)))
        }
      }).pipe(
        Effect.onInterrupt(() =>
          Deferred.fail(first, new SignalingError({ reason: "connect-failed", message: "Disconnected before the connection was established" }))
        )
      )

    /** Ends the session: goodbye if announced, close (1000), no more reconnecting. */
    const stop = (reason: string) =>
      Effect.gen(function*() {
        const ended = session
        if (ended === undefined) return
        session = undefined
        const link = current
        if (link !== undefined) {
          const timestamp = yield* Clock.currentTimeMillis
          yield* Effect.ignore(link.send(JSON.stringify({
            type: "goodbye",
            data: { peerId, timestamp, reason: "peer_disconnect" },
            networkName
          })))
        }
        // interrupting closes the connection's Scope, which closes the socket with 1000
        yield* Fiber.interrupt(ended.fiber)
        yield* publish({ _tag: "Disconnected", reason, willReconnect: false })
      })

    yield* Effect.addFinalizer(() => lock.withPermit(stop("closed")))

    const connect = Effect.fn("Signaling.connect")(function*(url: string) {
      const target = yield* signalingUrl(url, peerId)
      const first = yield* lock.withPermit(Effect.gen(function*() {
        if (session?.url === target && current !== undefined) return undefined
        yield* stop("replaced")
        const first = yield* Deferred.make<void, SignalingError>()
        // supervised: a defect (in a handler, say) restarts reconnecting instead of ending it
        const fiber = yield* Effect.forkIn(supervised("WsSignaling.session", runSession(target, first)), sessions)
        session = { url: target, fiber }
        return { first, fiber }
      }))
      if (first === undefined) return
      yield* Deferred.await(first.first).pipe(
        Effect.onError(() =>
          lock.withPermit(Effect.gen(function*() {
            if (session?.fiber !== first.fiber) return
            session = undefined
            yield* Fiber.interrupt(first.fiber)
          }))
        )
      )
    })

    const send = Effect.fn("Signaling.send")(function*(to: PeerId, signal: Signal) {
      const link = current
      if (link === undefined) return yield* notConnected
      yield* link.send(JSON.stringify({ type: signal.kind, data: signal.data, targetPeerId: to, networkName }))
    })

    return Signaling.of({
      connect,
      disconnect: lock.withPermit(stop("disconnect")).pipe(Effect.withSpan("Signaling.disconnect")),
      send,
      isConnected: Effect.sync(() => current !== undefined),
      subscribe: PubSub.subscribe(events)
    })
  }).pipe(Effect.annotateLogs("module", "Signaling"))
)

const notConnected = Effect.fail(new SignalingError({ reason: "not-connected", message: "Not connected to a signaling server" }))

const closeReason = (e: Socket.SocketError): string => {
  const r = e.reason
  if (r._tag === "SocketCloseError") return r.closeReason ? `closed (${r.code}: ${r.closeReason})` : `closed (${r.code})`
  return r.message
}

const fromSocketError = (e: Socket.SocketError): SignalingError => {
  const r = e.reason
  if (r._tag === "SocketOpenError") {
    return r.kind === "Timeout"
      ? new SignalingError({ reason: "timeout", message: "Timed out opening the signaling socket" })
      : new SignalingError({ reason: "connect-failed", message: `Could not open the signaling socket: ${describeCause(r.cause)}` })
  }
  if (r._tag === "SocketCloseError" && r.code === POLICY_CLOSE) {
    return new SignalingError({ reason: "refused", message: `Server refused the connection: ${r.closeReason ?? "policy violation"}` })
  }
  return new SignalingError({ reason: "connect-failed", message: `Signaling socket failed during the handshake: ${closeReason(e)}` })
}

const describeCause = (cause: unknown): string => {
  if (cause instanceof Error) return cause.message
  if (typeof cause === "object" && cause !== null && "message" in cause && typeof cause.message === "string" && cause.message !== "") {
    return cause.message
  }
  return "connection error"
}
