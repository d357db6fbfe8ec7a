/**
 * Leaving a network: the registry says who knew the leaver (they get `peer-disconnected`)
 * and which ring neighbours now meet over the gap (they get `peer-discovered` about each
 * other). Used by goodbye, close, re-announce, and a takeover of an unverified holder's id.
 *
 * A store that cannot be reached while leaving is not the leaver's problem: the registry's
 * own repair (the lease sweep of a shared backend) tells the others later.
 *
 * @since 2.0.0
 */
import { Effect } from "effect"
import type { Delivery, LeaveResult } from "../internal/registry.ts"
import type { PeerId } from "../schema/PeerId.ts"
import type { Connection } from "./Connection.ts"
import type { Hub } from "./Hub.ts"
import { disconnectedFrame, discoveredFrame } from "./ServerFrames.ts"

/** Takes the connection out of the network it announced in, if any, and tells whom that concerns. */
export const leaveNetwork = (c: Connection, reason: string): Effect.Effect<void> => {
  const left = c.network
  if (left === undefined) return Effect.void
  c.network = undefined
  return c.hub.registry.leave(c.peerId).pipe(
    Effect.flatMap((result) => tellLeft(c.hub, c.peerId, left, result, reason)),
    Effect.catchTag("RegistryUnavailable", (error) => Effect.logWarning(`leave of ${c.peerId} not recorded`, error))
  )
}

/** Sends what `result` asks for after `peerId` left `networkName`. */
export const tellLeft = (hub: Hub, peerId: PeerId, networkName: string, result: LeaveResult, reason: string): Effect.Effect<void> => {
  const { told, introductions } = result
  if (told.length === 0 && introductions.length === 0) return Effect.void
  const { registry, stats } = hub
  const ts = Date.now()
  const deliveries: Array<Delivery> = []
  for (const other of told) {
    stats.disconnectsSent++
    deliveries.push({ to: other, frame: disconnectedFrame(peerId, reason, other, networkName, ts), note: { kind: "gone", about: peerId } })
  }
  for (const { about, to } of introductions) {
    stats.discoveriesSent++
    deliveries.push({ to, frame: discoveredFrame(about, to, ts), note: { kind: "intro", about: about.peerId } })
  }
  return registry.deliverAll(deliveries).pipe(
    Effect.catchTag("RegistryUnavailable", (error) => Effect.logWarning(`peer-disconnected about ${peerId} not delivered`, error))
  )
}
