/**
 * Which link to give up when a peer is over `maxPeers` (pure; `layers/Connections.ts` acts on
 * the answer). Protected links (ring neighbours, the long link: `protectedLinks.ts`) and links
 * carrying media are never chosen, except where nothing else is left and the peer is over
 * capacity anyway.
 *
 * @since 2.0.0
 */
import { commonPrefixLength, distance } from "../schema/PeerId.ts"
import { chooseEviction } from "./eviction.ts"

export interface CapacityInput<A extends string> {
  readonly self: string
  /** Connected links (those being evicted left out). */
  readonly connected: ReadonlyArray<A>
  /** Links kept whatever happens (ring neighbours, the long link). */
  readonly kept: ReadonlySet<string>
  /** Links carrying media. */
  readonly media: ReadonlySet<string>
  readonly maxPeers: number
  readonly minPeers: number
  readonly evictionStrategy: boolean
  /** The link count a neighbour last announced, if known. */
  readonly degreeOf: (id: A) => number | undefined
}

/** The links of `ids` that may be given up. */
export const unprotected = <A extends string>(input: CapacityInput<A>, ids: ReadonlyArray<A>): Array<A> =>
  ids.filter((id) => !input.kept.has(id) && !input.media.has(id))

export const farthestOf = <A extends string>(self: string, ids: ReadonlyArray<A>): A | undefined =>
  ids.length === 0 ? undefined : ids.reduce((a, b) => (distance(self, a) > distance(self, b) ? a : b))

/** For a priority link: the farthest neighbour known to keep at least minPeers without us. */
export const spareOf = <A extends string>(input: CapacityInput<A>, ids: ReadonlyArray<A>): A | undefined =>
  farthestOf(input.self, unprotected(input, ids).filter((id) => (input.degreeOf(id) ?? 0) > input.minPeers))

/**
 * The link to give up for `candidate`: the farthest one, when the candidate is closer by at
 * least one XOR bucket (a longer common prefix with us). Merely "closer" would let every
 * newcomer displace someone, and the displaced peer displace the next: endless churn.
 */
export const evictionFor = <A extends string>(input: CapacityInput<A>, connected: ReadonlyArray<A>, candidate: A): A | undefined => {
  if (connected.length < input.maxPeers) return undefined
  const open = unprotected(input, connected)
  const victim = chooseEviction(input.self, open, candidate, {
    maxPeers: input.maxPeers - (connected.length - open.length),
    minPeers: 0 // a swap keeps the count
  })
  return victim !== undefined && commonPrefixLength(input.self, candidate) > commonPrefixLength(input.self, victim) ? victim : undefined
}

/**
 * After `added` connected and the peer is over `maxPeers`: the link to evict to make room, or
 * `added` itself when none should go. A protected `added` pushes out the farthest other link;
 * a bridge (a priority link) the farthest neighbour known to keep at least minPeers without us;
 * otherwise, with the eviction strategy on, a farther link for a closer `added`.
 */
export const victimFor = <A extends string>(input: CapacityInput<A>, added: A, bridge: boolean): A => {
  const others = unprotected(input, input.connected.filter((id) => id !== added))
  const victim = input.kept.has(added)
    ? farthestOf(input.self, others)
    : bridge
    ? spareOf(input, others)
    : input.evictionStrategy
    ? evictionFor(input, others, added)
    : undefined
  return victim ?? added
}

/** Over capacity with nothing new: the farthest unprotected link, else the farthest without media. */
export const overCapacityVictim = <A extends string>(input: CapacityInput<A>): A | undefined =>
  farthestOf(input.self, unprotected(input, input.connected)) ?? farthestOf(input.self, input.connected.filter((id) => !input.media.has(id)))
