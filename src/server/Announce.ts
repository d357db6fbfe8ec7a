/**
 * `announce`: a connection joins a network, proves its peer id if it can, and the registry
 * picks whom it meets. Here are the limits on what an announce may do: at most
 * `announceRateLimit` of them, extras of at most `maxAnnounceExtras` bytes, `verified` and
 * `isHub` never taken from the client, and the peer id only won from an unverified holder
 * with a valid identity proof (a takeover).
 *
 * @since 2.0.0
 */
import { Cause, Effect, Exit, Scope } from "effect"
import type { Socket as NetSocket } from "node:net"
import type { WebSocket } from "ws"
import { verifyAnnounceProof } from "../internal/identityProof.ts"
import { type PeerRecord, RegistryUnavailable } from "../internal/registry.ts"
import { TokenBucket } from "../internal/tokenBucket.ts"
import { type ClientMessage, DEFAULT_NETWORK, type JsonObject } from "../schema/Signaling.ts"
import { type Connection, replyError } from "./Connection.ts"
import { leaveNetwork, tellLeft } from "./Membership.ts"
import { discoveredFrame } from "./ServerFrames.ts"

export type AnnounceMessage = Extract<ClientMessage, { type: "announce" }>

/** The close reason an unverified holder gets when a verified announce takes its peer id over. */
export const TAKEOVER_REASON = "Peer id taken over by a verified announce"

export const announce = Effect.fnUntraced(function*(c: Connection, message: AnnounceMessage, ts: number) {
  const { config, hooks, registry, stats } = c.hub
  const peerId = c.peerId
  // `verified` and `isHub` are for the server to say, never the peer
  const { peerId: claimed, publicKey, signature, verified: _verified, isHub: _isHub, ...extras } = message.data
  if (claimed !== undefined && claimed !== peerId) {
    return replyError(c, "peer-id-mismatch", "announce data.peerId differs from the connection's peerId", ts)
  }
  const data: JsonObject = publicKey === undefined ? extras : { ...extras, publicKey }
  // stored for as long as the peer stays, and re-sent in every peer-discovered about it
  const size = Buffer.byteLength(JSON.stringify(data), "utf8")
  if (size > config.maxAnnounceExtras) {
    return replyError(c, "announce-too-large", `Announce extras are ${size} bytes of JSON; at most ${config.maxAnnounceExtras} allowed`, ts)
  }
  const networkName = message.networkName ?? DEFAULT_NETWORK
  const verified = yield* checkIdentity(c, networkName, publicKey, signature, ts)
  if (verified === undefined) return
  // each accepted announce makes its receivers re-plan their links: limited on its own
  if (!(c.announces ??= new TokenBucket(config.announceRateLimit, ts)).take(ts)) {
    stats.rateLimited++
    return replyError(c, "rate-limited", `Too many announces; at most ${config.announceRateLimit.perSecond} per second`, ts)
  }
  if (!c.registered && !(yield* register(c, verified))) return
  // the id may have been taken over, or the socket closed, while the proof was checked
  if (!c.registered || c.done) return
  if (c.network !== undefined) yield* leaveNetwork(c, "re-announced")
  const record: PeerRecord = { peerId, networkName, verified, data, announcedAt: ts }
  const joined = yield* Effect.exit(registry.announce(record, config.discoveryK, config.discoveryRandom))
  if (Exit.isFailure(joined)) return yield* unavailable(c, joined.cause)
  const chosen = joined.value
  c.network = networkName
  c.hub.pending.delete(c)
  hooks.peerAnnounced?.({ peerId, networkName, verified })
  if (chosen.length === 0) return
  stats.discoveriesSent += 2 * chosen.length
  // the newcomer's discoveries leave in one write (one syscall instead of one per frame)
  const socket = corkable(c.ws)
  socket?.cork()
  try {
    for (const other of chosen) c.send(discoveredFrame(other, peerId, ts))
  } finally {
    socket?.uncork()
  }
  const told = chosen.map((other) => ({
    to: other.peerId,
    frame: discoveredFrame(record, other.peerId, ts),
    note: { kind: "meet" as const, about: peerId }
  }))
  yield* registry.deliverAll(told).pipe(
    Effect.catchTag("RegistryUnavailable", (error) => Effect.logWarning(`introductions of ${peerId} not delivered`, error))
  )
})

/**
 * The store failed an announce or a registration: the socket closes with 1013 (try again
 * later), and the client reconnects, through the load balancer, to a server that can serve it.
 * Anything else is a defect.
 */
export const unavailable = (c: Connection, cause: Cause.Cause<unknown>): Effect.Effect<void> => {
  const error = Cause.squash(cause)
  if (!(error instanceof RegistryUnavailable)) return Effect.failCause(cause as Cause.Cause<never>)
  c.hub.stats.unavailableClosed++
  c.unavailable()
  return Effect.logWarning(`${c.peerId}: ${error.message}`)
}

/**
 * Checks the identity proof, if any: true (verified), false (no proof, and none required),
 * or undefined when the announce is refused. A contender that cannot prove the id is
 * closed: the id is someone else's.
 */
const checkIdentity = Effect.fnUntraced(function*(
  c: Connection,
  networkName: string,
  publicKey: string | undefined,
  signature: string | undefined,
  ts: number
) {
  const { config, stats } = c.hub
  if (publicKey === undefined && signature === undefined) {
    if (!config.requireIdentity) return false
    stats.identityRejected++
    replyError(c, "identity-required", "This server requires an identity proof (publicKey and signature) in announce", ts)
    return refuseContender(c)
  }
  const failure = publicKey === undefined || signature === undefined
    ? "bad-encoding"
    : yield* Effect.promise(() => verifyAnnounceProof({ peerId: c.peerId, networkName, nonce: c.nonce, publicKey, signature }))
  if (failure !== undefined) {
    stats.identityRejected++
    replyError(c, "identity-invalid", `Identity proof rejected: ${failure}`, ts)
    return refuseContender(c)
  }
  stats.identityVerified++
  return true
})

/** A contender whose announce proves nothing is refused as a duplicate (1.x's answer). */
const refuseContender = (c: Connection): undefined => {
  if (!c.registered) {
    c.hub.stats.connectionsRejected++
    c.refuse("Peer already connected", "already-connected")
  }
  return undefined
}

/**
 * Registers a contender: with a proof it claims the id (an unverified holder is closed and
 * its network told), without one it gets the id only if nobody holds it any more. True when
 * it now holds the id; otherwise it has been closed.
 */
const register = Effect.fnUntraced(function*(c: Connection, verified: boolean) {
  if (c.registered) return true
  const { config, hooks, registry, stats } = c.hub
  const joined = yield* Effect.exit(Scope.provide(
    verified
      ? registry.claim(c.peerId, c, config.maxConnections, TAKEOVER_REASON)
      : Effect.as(registry.connect(c.peerId, c, config.maxConnections), undefined),
    c.scope
  ))
  if (Exit.isFailure(joined)) {
    const reason = joined.cause.reasons[0]
    if (reason?._tag === "Fail" && reason.error._tag === "RegistryUnavailable") {
      yield* unavailable(c, joined.cause)
      return false
    }
    stats.connectionsRejected++
    c.refuse(reason?._tag === "Fail" ? reason.error.message : "Connection refused", "refused")
    return false
  }
  c.registered = true
  const displaced = joined.value
  if (displaced !== undefined) {
    stats.takeovers++
    if (displaced.networkName !== undefined) yield* tellLeft(c.hub, c.peerId, displaced.networkName, displaced, "displaced")
  }
  c.reported = true
  hooks.peerConnected?.({ peerId: c.peerId, totalConnections: (yield* registry.counts).connections })
  return true
})

/** The TCP socket under a ws, when it has one that can batch writes. */
const corkable = (ws: WebSocket): NetSocket | undefined => {
  const socket = (ws as unknown as { _socket?: unknown })._socket
  return typeof socket === "object" && socket !== null && typeof (socket as NetSocket).cork === "function" &&
      typeof (socket as NetSocket).uncork === "function"
    ? socket as NetSocket
    : undefined
}
