/**
 * The ring that keeps a mesh connected. Order every peer id of a network numerically and
 * join the ends: if each peer keeps a link to the ids just below (`pred`) and just above
 * (`succ`) its own, the links form one cycle through every peer, so the mesh is connected
 * whatever its other links are. The signaling server tells each peer its ring neighbours
 * (when it joins, and again when a neighbour leaves); the optimizer dials them first and
 * never evicts them.
 *
 * @since 2.0.0
 */
import { toBigInt } from "../schema/PeerId.ts"

export interface RingNeighbours<A> {
  readonly pred: A | undefined
  readonly succ: A | undefined
}

/**
 * The ids just below and just above `self` among `ids`, wrapping around; `self` and
 * duplicates are ignored. Both `undefined` when there is no other id; the same id when
 * there is exactly one.
 */
export const ringNeighbours = <A extends string>(self: string, ids: Iterable<A>): RingNeighbours<A> => {
  const me = toBigInt(self)
  let pred: A | undefined
  let predKey = -1n
  let succ: A | undefined
  let succKey = -1n
  let min: A | undefined
  let minKey = -1n
  let max: A | undefined
  let maxKey = -1n
  for (const id of ids) {
    const k = toBigInt(id)
    if (k === me) continue
    if (k < me && k > predKey) {
      pred = id
      predKey = k
    }
    if (k > me && (succKey < 0n || k < succKey)) {
      succ = id
      succKey = k
    }
    if (minKey < 0n || k < minKey) {
      min = id
      minKey = k
    }
    if (k > maxKey) {
      max = id
      maxKey = k
    }
  }
  // wrap around: below the smallest id is the largest, above the largest is the smallest
  return { pred: pred ?? max, succ: succ ?? min }
}

/** The distinct ring neighbours of `self` among `ids` (zero, one or two ids). */
export const ringOf = <A extends string>(self: string, ids: Iterable<A>): ReadonlySet<A> => {
  const { pred, succ } = ringNeighbours(self, ids)
  const out = new Set<A>()
  if (pred !== undefined) out.add(pred)
  if (succ !== undefined) out.add(succ)
  return out
}

const RING = 1n << 160n

/**
 * How far `target` lies ahead of `from` going up the ring (numeric order, wrapping): the
 * routing metric of the ring. Each peer's successor is strictly closer to any other peer by
 * it, so forwarding to the neighbour with the least distance always makes progress.
 */
export const clockwiseDistance = (from: string, target: string): bigint => {
  const d = toBigInt(target) - toBigInt(from)
  return d >= 0n ? d : d + RING
}
