/**
 * Public keys this peer knows for others: announced through signaling, proven in a link
 * handshake, or first seen signing a message. The first key known for an id is kept, so a
 * later message claiming that id with another key is recognised as forged.
 *
 * @since 2.0.0
 */
import { Context, Layer } from "effect"
import type { PeerId } from "../schema/PeerId.ts"

export class PeerKeys extends Context.Service<PeerKeys, {
  keyOf(peerId: PeerId): string | undefined
  /** Remembers `key` for `peerId` unless one is known; true when `key` is (now) the known one. */
  pin(peerId: PeerId, key: string): boolean
}>()("peerpigeon/PeerKeys") {
  static readonly layer = Layer.sync(PeerKeys, () => {
    const keys = new Map<PeerId, string>()
    return PeerKeys.of({
      keyOf: (peerId) => keys.get(peerId),
      pin: (peerId, key) => {
        const known = keys.get(peerId)
        if (known === undefined) {
          keys.set(peerId, key)
          return true
        }
        return known === key
      }
    })
  })
}
