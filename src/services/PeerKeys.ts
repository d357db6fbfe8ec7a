/**
 * Public keys this peer knows for others: announced through signaling, proven in a link
 * handshake, or first seen signing a message. A key the id derives from (a verified key)
 * always wins: it replaces whatever was pinned before. Otherwise the first key known for a
 * custom id is kept, so a later message claiming that id with another key is recognised as
 * forged.
 *
 * Bounded: at most `PEER_KEYS_LIMIT` ids (16,384) are remembered, the least recently used
 * forgotten first, so made-up ids cannot grow it.
 *
 * @since 2.0.0
 */
import { Context, Layer } from "effect"
import { BoundedMap } from "../internal/boundedMap.ts"
import type { PeerId } from "../schema/PeerId.ts"

/** Most ids whose keys a peer remembers. */
export const PEER_KEYS_LIMIT = 16_384

export class PeerKeys extends Context.Service<PeerKeys, {
  keyOf(peerId: PeerId): string | undefined
  /**
   * Remembers `key` for `peerId`; true when `key` is (now) the known one. A `derived` key (the
   * id derives from it, checked by the caller) replaces any other; otherwise the first key
   * known is kept.
   */
  pin(peerId: PeerId, key: string, derived?: boolean): boolean
}>()("peerpigeon/PeerKeys") {
  static readonly layer = Layer.sync(PeerKeys, () => {
    const keys = new BoundedMap<PeerId, string>(PEER_KEYS_LIMIT)
    return PeerKeys.of({
      keyOf: (peerId) => keys.get(peerId),
      pin: (peerId, key, derived = false) => {
        const known = keys.touch(peerId)
        if (known === undefined || (derived && known !== key)) {
          keys.set(peerId, key)
          return true
        }
        return known === key
      }
    })
  })
}
