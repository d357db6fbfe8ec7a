/**
 * Leaving a network: the registry says who knew the leaver (they get `peer-disconnected`)
 * and which ring neighbours now meet over the gap (they get `peer-discovered` about each
 * other). Used by goodbye, close, re-announce, and a takeover of an unverified holder's id.
 *
 * @since 2.0.0
 */
import { Effect } from "effect"
import type { LeaveResult } from "../internal/registry.ts"
import type { PeerId } from "../schema/PeerId.ts"
import type { Connection } from "./Connection.ts"
import type { Hub } from "./Hub.ts"
import { disconnectedFrame, discoveredFrame } from "./ServerFrames.ts"

/** Takes the connection out of the network it announced in, if any, and tells whom that concerns. */
export const leaveNetwork = (c: Connection, reason: string): Effect.Effect<void> => {
  const left = c.network
  if (left === undefined) return Effect.void
  c.network = undefined
  return Effect.flatMap(c.hub.registry.leave(c.peerId), (result) => tellLeft(c.hub, c.peerId, left, result, reason))
}

/** Sends what `result` asks for after `peerId` left `networkName`. */
export const tellLeft = (hub: Hub, peerId: PeerId, networkName: string, result: LeaveResult, reason: string): Effect.Effect<void> => {
  const { told, introductions } = result
  if (told.length === 0 && introductions.length === 0) return Effect.void
  const { registry, stats } = hub
  const ts = Date.now()
  return Effect.andThen(
    Effect.forEach(told, (other) => {
      stats.disconnectsSent++
      return registry.deliver(other, disconnectedFrame(peerId, reason, other, networkName, ts))
    }, { discard: true }),
    Effect.forEach(introductions, ({ about, to }) => {
      stats.discoveriesSent++
      return registry.deliver(to, discoveredFrame(about, to, ts))
    }, { discard: true })
  )
}
