/**
 * One signaling connection, from the accepted upgrade to its close: admission (peer id,
 * duplicates, capacity), the `connected` greeting, then a pull loop that decodes each frame
 * and answers it as PROTOCOL.md says. Bad frames get an `error` reply; the connection stays.
 *
 * @since 2.0.0
 */
import { Clock, Effect, Exit, type Scope } from "effect"
import type { Socket } from "effect/socket"
import type { WebSocket } from "ws"
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
import { type PeerRecord, Registry } from "./Registry.ts"
import { ServerConfig } from "./ServerConfig.ts"
import { ServerHooks, ServerStats } from "./ServerEvents.ts"

/** A live socket as the keepalive sweeper and shutdown see it. */
export interface LiveConnection {
  readonly peerId: PeerId
  readonly ws: WebSocket
  lastSeen: number
  /** Why the server is closing it, when the server is the one closing. */
  closing: string | undefined
}

export const CLOSE_POLICY = 1008

const frame = (message: object): string => JSON.stringify(message)

/** Runs one accepted WebSocket until it closes. `live` is the server's set of sockets. */
export const runConnection = Effect.fnUntraced(function*(
  ws: WebSocket,
  pull: Effect.Effect<ReadonlyArray<string>, Socket.SocketError>,
  requestedPeerId: string | null,
  live: Set<LiveConnection>
): Effect.fn.Return<void, Socket.SocketError, Registry | ServerConfig | ServerStats | Scope.Scope> {
  const config = yield* ServerConfig
  const registry = yield* Registry
  const stats = yield* ServerStats
  const hooks = yield* ServerHooks

  if (requestedPeerId === null || !isPeerIdString(requestedPeerId)) {
    stats.connectionsRejected++
    ws.close(CLOSE_POLICY, "Invalid peerId format")
    return
  }
  const peerId = requestedPeerId.toLowerCase() as PeerId
  const send = (text: string) => {
    if (ws.readyState === 1) ws.send(text)
  }
  const admitted = yield* Effect.exit(
    registry.connect(peerId, { send, close: (code, reason) => ws.close(code, reason) }, config.maxConnections)
  )
  if (Exit.isFailure(admitted)) {
    stats.connectionsRejected++
    const reason = admitted.cause.reasons[0]
    ws.close(CLOSE_POLICY, reason?._tag === "Fail" ? reason.error.message : "Connection refused")
    return
  }

  const now = yield* Clock.currentTimeMillis
  const conn: LiveConnection = { peerId, ws, lastSeen: now, closing: undefined }
  const onPong = () => {
    conn.lastSeen = Date.now()
  }
  ws.on("pong", onPong)
  live.add(conn)
  stats.connectionsAccepted++
  const nonce = makeNonce()
  let network: string | undefined
  const bucket = new TokenBucket(config.rateLimit, now)
  // refused frames drain a second bucket; a sender that keeps flooding empties it and is closed
  const abuse = new TokenBucket({ perSecond: config.rateLimit.perSecond, burst: config.rateLimitCloseAfter }, now)
  let refused = 0

  const systemFields = (ts: number) => ({ fromPeerId: "system", timestamp: ts }) as const
  const replyError = (code: ErrorCode, error: string, ts: number) => {
    stats.errorsSent++
    send(frame({ type: "error", error, code, ...systemFields(ts) }))
  }

  const leaveNetwork = (reason: string) =>
    Effect.gen(function*() {
      const left = network
      if (left === undefined) return
      network = undefined
      const told = yield* registry.leave(peerId)
      const ts = Date.now()
      for (const other of told) {
        stats.disconnectsSent++
        yield* registry.deliver(other, frame({
          type: "peer-disconnected",
          data: { peerId, reason, timestamp: ts },
          ...systemFields(ts),
          targetPeerId: other,
          networkName: left
        }))
      }
    })

  yield* Effect.addFinalizer(() =>
    Effect.gen(function*() {
      live.delete(conn)
      ws.off("pong", onPong)
      const reason = conn.closing ?? "disconnected"
      yield* leaveNetwork(reason)
      const counts = yield* registry.counts
      hooks.peerDisconnected?.({ peerId, reason, totalConnections: counts.connections - 1 })
    })
  )
  hooks.peerConnected?.({ peerId, totalConnections: (yield* registry.counts).connections })
  send(frame({ type: "connected", data: { peerId, nonce }, ...systemFields(now) }))

  const announce = Effect.fnUntraced(function*(
    message: Extract<ClientMessage, { type: "announce" }>,
    ts: number
  ) {
    const { peerId: claimed, publicKey, signature, ...extras } = message.data
    if (claimed !== undefined && claimed !== peerId) {
      return replyError("peer-id-mismatch", "announce data.peerId differs from the connection's peerId", ts)
    }
    const networkName = message.networkName ?? DEFAULT_NETWORK
    let verified = false
    if (publicKey !== undefined || signature !== undefined) {
      const failure = publicKey === undefined || signature === undefined
        ? "bad-encoding"
        : yield* Effect.promise(() => verifyAnnounceProof({ peerId, networkName, nonce, publicKey, signature }))
      if (failure !== undefined) {
        stats.identityRejected++
        return replyError("identity-invalid", `Identity proof rejected: ${failure}`, ts)
      }
      verified = true
      stats.identityVerified++
    } else if (config.requireIdentity) {
      stats.identityRejected++
      return replyError("identity-required", "This server requires an identity proof (publicKey and signature) in announce", ts)
    }
    if (network !== undefined) yield* leaveNetwork("re-announced")
    const data: JsonObject = publicKey === undefined ? extras : { ...extras, publicKey }
    const record: PeerRecord = { peerId, networkName, verified, data, announcedAt: ts }
    const chosen = yield* registry.announce(record, config.discoveryK, config.discoveryRandom)
    network = networkName
    hooks.peerAnnounced?.({ peerId, networkName, verified })
    for (const other of chosen) {
      stats.discoveriesSent += 2
      send(discovered(other, peerId, ts))
      yield* registry.deliver(other.peerId, discovered(record, other.peerId, ts))
    }
  })

  const relay = Effect.fnUntraced(function*(
    message: Extract<ClientMessage, { type: "offer" | "answer" | "ice-candidate" }>,
    ts: number
  ) {
    if (network === undefined) return replyError("not-announced", "Announce before sending signaling messages", ts)
    const target = yield* registry.lookup(message.targetPeerId)
    // the same answer for "absent" and "in another network": no cross-network existence leak
    if (target === undefined || target.networkName !== network) {
      return replyError("unknown-peer", `Unknown peer ${message.targetPeerId} in network ${network}`, ts)
    }
    const delivered = yield* registry.deliver(target.peerId, frame({
      type: message.type,
      data: message.data,
      fromPeerId: peerId,
      targetPeerId: target.peerId,
      networkName: network,
      timestamp: ts
    }))
    if (delivered) stats.messagesRelayed++
    else replyError("unknown-peer", `Unknown peer ${message.targetPeerId} in network ${network}`, ts)
  })

  const handle = (message: ClientMessage, ts: number): Effect.Effect<void> => {
    switch (message.type) {
      case "announce":
        return announce(message, ts)
      case "offer":
      case "answer":
      case "ice-candidate":
        return relay(message, ts)
      case "goodbye": {
        const reason = typeof message.data?.reason === "string" ? message.data.reason : "goodbye"
        hooks.peerGoodbye?.({ peerId, reason })
        return leaveNetwork(reason)
      }
      case "ping":
        return Effect.sync(() => send(frame({ type: "pong", data: { timestamp: ts }, ...systemFields(ts) })))
      case "cleanup":
        return Effect.void
    }
  }

  while (true) {
    const frames = yield* pull
    const ts = yield* Clock.currentTimeMillis
    conn.lastSeen = ts
    for (const text of frames) {
      stats.messagesReceived++
      if (!bucket.take(ts)) {
        stats.rateLimited++
        if (!abuse.take(ts)) {
          conn.closing = "rate-limit"
          ws.close(CLOSE_POLICY, "Rate limit exceeded")
          return
        }
        if (refused++ % 100 === 0) replyError("rate-limited", "Too many messages; slow down", ts)
        continue
      }
      const decoded = decodeClientFrame(text)
      if (isFrameProblem(decoded)) replyError(decoded.code, decoded.message, ts)
      else yield* handle(decoded, ts)
    }
  }
})

const discovered = (about: PeerRecord, to: PeerId, ts: number): string =>
  frame({
    type: "peer-discovered",
    data: { ...about.data, peerId: about.peerId, isHub: false, ...(about.verified ? { verified: true } : {}) },
    fromPeerId: "system",
    targetPeerId: to,
    networkName: about.networkName,
    timestamp: ts
  })
