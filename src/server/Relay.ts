/**
 * Relaying `offer` / `answer` / `ice-candidate`: only from an announced connection, only to
 * a peer of the same network, and stamped with the sender's own connection id (never a
 * client-supplied `fromPeerId`).
 *
 * @since 2.0.0
 */
import { Effect } from "effect"
import type { ClientMessage } from "../schema/Signaling.ts"
import { type Connection, replyError } from "./Connection.ts"
import { relayedFrame } from "./ServerFrames.ts"

export type RelayMessage = Extract<ClientMessage, { type: "offer" | "answer" | "ice-candidate" }>

export const relay = (c: Connection, message: RelayMessage, ts: number): Effect.Effect<void> => {
  const network = c.network
  if (network === undefined) {
    return Effect.sync(() => replyError(c, "not-announced", "Announce before sending signaling messages", ts))
  }
  const { registry, stats } = c.hub
  // the same answer for "absent" and "in another network": no cross-network existence leak
  const unknown = () => replyError(c, "unknown-peer", `Unknown peer ${message.targetPeerId} in network ${network}`, ts)
  return Effect.flatMap(registry.lookup(message.targetPeerId), (target) => {
    if (target === undefined || target.networkName !== network) return Effect.sync(unknown)
    return Effect.map(
      registry.deliver(target.peerId, relayedFrame(message.type, message.data, c.peerId, target.peerId, network, ts)),
      (delivered) => {
        if (delivered) stats.messagesRelayed++
        else unknown()
      }
    )
  })
}
