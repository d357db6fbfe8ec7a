/**
 * Relaying `offer` / `answer` / `ice-candidate`: only from an announced connection, only to
 * a peer of the same network, and stamped with the sender's own connection id (never a
 * client-supplied `fromPeerId`). The registry looks the target up and delivers in one step
 * (one round trip when the target is on another server); a target that cannot be reached
 * (its server not listening, the store unreachable) is answered with `relay-failed`.
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
  const target = message.targetPeerId
  const frame = relayedFrame(message.type, message.data, c.peerId, target, network, ts)
  return registry.relay(network, target, frame).pipe(
    Effect.catchTag("RegistryUnavailable", () => Effect.succeed("failed" as const)),
    Effect.map((outcome) => {
      if (outcome === "delivered") stats.messagesRelayed++
      // the same answer for "absent" and "in another network": no cross-network existence leak
      else if (outcome === "unknown") replyError(c, "unknown-peer", `Unknown peer ${target} in network ${network}`, ts)
      else {
        stats.relayFailures++
        replyError(c, "relay-failed", `Could not deliver to ${target}; try again`, ts)
      }
    })
  )
}
