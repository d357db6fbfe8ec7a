/**
 * A connection's way in and out: the per-address cap, the peer-id check, registration, the
 * `connected` greeting, the announce deadline, and the release of all of it on close.
 *
 * A second connection for a peer id that is held is refused with 1008 "Peer already
 * connected", as in 1.x, when the holder has proved the id. When the holder has not (it
 * has not announced, or announced without a proof, so it may be squatting on someone
 * else's id), the newcomer is greeted as a contender: an announce with a valid proof for
 * the id takes it over (the holder is closed), and anything less closes the contender with
 * "Peer already connected" (see Announce.ts).
 *
 * @since 2.0.0
 */
import { Effect, Exit, Fiber, Scope } from "effect"
import { isPeerIdString, type PeerId } from "../schema/PeerId.ts"
import { awaitAnnounce, CLOSE_POLICY, Connection, OPEN } from "./Connection.ts"
import type { Hub } from "./Hub.ts"
import { unavailable } from "./Announce.ts"
import { receive, run } from "./Inbound.ts"
import { leaveNetwork } from "./Membership.ts"
import { connectedFrame } from "./ServerFrames.ts"
import type { SignalingWebSocket } from "./SignalingSocket.ts"

/** Takes over an upgraded socket: admission, greeting, then its frames until it closes. */
export const accept = (hub: Hub, ws: SignalingWebSocket, requestedPeerId: string | null, remoteAddress: string | undefined): void => {
  const early = ws.early
  ws.early = undefined
  if (ws.readyState !== OPEN) return
  const { config, perAddress, stats } = hub
  if (requestedPeerId === null || !isPeerIdString(requestedPeerId)) {
    stats.connectionsRejected++
    ws.close(CLOSE_POLICY, "Invalid peerId format")
    return
  }
  const address = addressKey(remoteAddress)
  const open = perAddress.get(address) ?? 0
  if (open >= config.maxConnectionsPerIp) {
    stats.connectionsRejected++
    ws.close(CLOSE_POLICY, "Too many connections from this address")
    return
  }
  perAddress.set(address, open + 1)
  const c = new Connection(hub, requestedPeerId.toLowerCase() as PeerId, ws, address, Date.now())
  ws.connection = c
  run(c, admit(c))
  if (early !== undefined) for (const text of early) receive(c, text)
}

/** IPv4 clients of a dual-stack server show as `::ffff:a.b.c.d`: counted as `a.b.c.d`. */
const addressKey = (address: string | undefined): string =>
  address === undefined ? "unknown" : address.startsWith("::ffff:") ? address.slice(7) : address

const admit = Effect.fnUntraced(function*(c: Connection) {
  const { config, hooks, live, registry, stats } = c.hub
  const admitted = yield* Effect.exit(Scope.provide(registry.connect(c.peerId, c, config.maxConnections), c.scope))
  if (Exit.isSuccess(admitted)) {
    c.registered = true
  } else {
    const reason = admitted.cause.reasons[0]
    const failure = reason?._tag === "Fail" ? reason.error : undefined
    if (failure?._tag === "RegistryUnavailable") return yield* unavailable(c, admitted.cause)
    const error = failure?._tag === "RegistryError" ? failure : undefined
    const holder = error?.reason === "already-connected" && live.size < config.maxConnections
      ? yield* Effect.exit(registry.lookup(c.peerId))
      : undefined
    if (holder !== undefined && Exit.isFailure(holder)) return yield* unavailable(c, holder.cause)
    const contender = holder !== undefined && holder.value?.verified !== true
    if (!contender) {
      stats.connectionsRejected++
      c.refuse(error?.message ?? "Connection refused", "refused")
      return
    }
  }
  c.admitted = true
  live.add(c)
  stats.connectionsAccepted++
  awaitAnnounce(c, c.lastSeen)
  if (c.registered) {
    c.reported = true
    hooks.peerConnected?.({ peerId: c.peerId, totalConnections: (yield* registry.counts).connections })
  }
  c.send(connectedFrame(c.peerId, c.nonce, c.lastSeen))
})

/** Leaves the network, the registry, and tells the hooks; once, whoever calls first. */
export const finalize = (c: Connection): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (c.done) return Effect.void
    c.done = true
    c.queue = undefined
    const inflight = c.inflight
    c.inflight = undefined
    const hub = c.hub
    hub.live.delete(c)
    hub.pending.delete(c)
    const open = hub.perAddress.get(c.address) ?? 1
    if (open <= 1) hub.perAddress.delete(c.address)
    else hub.perAddress.set(c.address, open - 1)
    return Effect.gen(function*() {
      if (inflight !== undefined) yield* Fiber.interrupt(inflight)
      const reason = c.closing ?? "disconnected"
      yield* leaveNetwork(c, reason)
      yield* Scope.close(c.scope, Exit.void)
      if (!c.reported) return
      const counts = yield* hub.registry.counts
      hub.hooks.peerDisconnected?.({ peerId: c.peerId, reason, code: c.closeCode ?? 1005, totalConnections: counts.connections })
    })
  })

/** Closes the connections that have waited longer than `announceTimeout` to announce. */
export const expireUnannounced = (hub: Hub, now: number): void => {
  const timeout = hub.config.announceTimeout
  for (const c of hub.pending) {
    if (now - c.waitingSince < timeout) return // the set is in deadline order
    hub.pending.delete(c)
    hub.stats.announceTimeouts++
    // a contender that never tried to prove the id gets 1.x's answer for a duplicate
    c.refuse(c.registered ? "Announce timeout" : "Peer already connected", "announce-timeout")
  }
}
