/**
 * Which links a peer keeps whatever closer peers come along.
 *
 * - Ring links (see ring.ts) keep the mesh connected.
 * - One long link, to a peer in the other half of the id space (no common prefix bit),
 *   keeps it small: a ring alone is N/2 hops across, a ring plus one random far link per
 *   peer is about log2 N. XOR distance is symmetric, so a long link is long for both ends,
 *   and both want to keep it.
 *
 * Eviction in favour of closer peers (eviction.ts) only ever picks among the other links.
 *
 * @since 2.0.0
 */
import { commonPrefixLength, distance, randomPeerId } from "../schema/PeerId.ts"

/** A link to the other half of the id space, as seen from `self`. */
export const isLong = (self: string, id: string): boolean => commonPrefixLength(self, id) === 0

/** A random id in the other half of the id space from `self` (its first bit flipped). */
export const otherHalfPoint = (self: string, random: string = randomPeerId()): string => {
  const top = (parseInt(self[0]!, 16) & 8) ^ 8
  return ((parseInt(random[0]!, 16) & 7) | top).toString(16) + random.slice(1)
}

/** Peers keep a long link only when it leaves room for both ring links and at least one more. */
export const wantsLongLink = (maxPeers: number): boolean => maxPeers >= 3

/**
 * The protected links among `connected`: every ring neighbour, plus (when `maxPeers` has room
 * for one) the farthest long link that is not a ring link.
 */
export const protectedLinks = <A extends string>(
  self: string,
  connected: Iterable<A>,
  ring: ReadonlySet<string>,
  maxPeers: number
): Set<A> => {
  const out = new Set<A>()
  let long: A | undefined
  for (const id of connected) {
    if (ring.has(id)) out.add(id)
    else if (wantsLongLink(maxPeers) && isLong(self, id) && (long === undefined || distance(self, id) > distance(self, long))) long = id
  }
  if (long !== undefined) out.add(long)
  return out
}
