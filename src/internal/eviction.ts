/**
 * Which connection to give up for a closer peer. A full node keeps its slots for the peers
 * XOR-closest to itself, which is what makes routing converge: when a candidate is closer
 * than the farthest connected peer, that farthest peer is evicted to make room.
 *
 * @since 2.0.0
 */
import { distance } from "../schema/PeerId.ts"

export interface EvictionOptions {
  /** Connections the node keeps at most; eviction is only considered when they are all used. */
  readonly maxPeers: number
  /** Connections the node must keep; an eviction may never leave fewer. */
  readonly minPeers: number
}

/**
 * The connected peer to evict so that `candidate` can take its slot, or `undefined` to
 * keep the current connections. An id is returned only when
 * - the node is full: `connected` holds at least `maxPeers` ids,
 * - `candidate` is strictly XOR-closer to `self` than the farthest connected peer (the one
 *   returned), and
 * - the swap leaves at least `minPeers` connections (only binding when `minPeers` exceeds
 *   `maxPeers`: the swap itself keeps the count).
 *
 * A candidate that is `self` or already connected is never a reason to evict. XOR distance
 * from `self` is distinct for distinct ids, so the farthest peer is unique.
 */
export const chooseEviction = <A extends string>(
  self: string,
  connected: Iterable<A>,
  candidate: string,
  options: EvictionOptions
): A | undefined => {
  if (candidate === self) return undefined
  const peers = new Set<A>()
  for (const id of connected) {
    if (id === candidate) return undefined
    if (id !== self) peers.add(id)
  }
  if (peers.size < options.maxPeers) return undefined
  // After evicting one and adding the candidate the count is unchanged.
  if (peers.size < options.minPeers) return undefined
  let farthest: A | undefined
  let farthestDistance = -1n
  for (const id of peers) {
    const d = distance(self, id)
    if (d > farthestDistance) {
      farthest = id
      farthestDistance = d
    }
  }
  if (farthest === undefined) return undefined
  return distance(self, candidate) < farthestDistance ? farthest : undefined
}
