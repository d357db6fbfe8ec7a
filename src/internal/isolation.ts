/**
 * Which discovered peers to dial now. PeerPigeon avoids glare (both sides offering at once)
 * with one rule: the lexicographically greater id initiates (`isInitiator`). A node
 * therefore only dials peers it is the natural initiator for, closest first, and waits for
 * the others to dial it.
 *
 * That rule can strand a node: one whose id is smaller than every peer it knows would wait
 * forever if those peers are full or never try. So a node with no connection and no attempt
 * in progress (isolated) may also dial peers it would normally wait for.
 *
 * @since 2.0.0
 */
import { isInitiator, sortByDistance } from "../schema/PeerId.ts"

export interface TargetOptions {
  /** Connections the node keeps at most; free slots are what is left after `connected` and `attempting`. */
  readonly maxPeers: number
  /** Ids with a connection attempt in progress: they take a slot and are not dialled again. */
  readonly attempting?: Iterable<string>
}

/**
 * The ids to dial now, in order, at most as many as there are free slots
 * (`maxPeers - |connected ∪ attempting|`). `self`, connected and attempting ids and
 * duplicates are never returned.
 *
 * - Normally: only peers `self` is the natural initiator for, XOR-closest to `self` first.
 * - Isolated (nothing connected, nothing attempting): those natural targets first, closest
 *   first, then the remaining peers, closest first.
 */
export const chooseTargets = <A extends string>(
  self: string,
  discovered: Iterable<A>,
  connected: Iterable<string>,
  options: TargetOptions
): Array<A> => {
  const busy = new Set<string>(connected)
  for (const id of options.attempting ?? []) busy.add(id)
  busy.delete(self)
  const isolated = busy.size === 0
  const slots = options.maxPeers - busy.size
  if (slots <= 0) return []

  const natural = new Set<A>()
  const others = new Set<A>()
  for (const id of discovered) {
    if (id === self || busy.has(id)) continue
    if (isInitiator(self, id)) natural.add(id)
    else others.add(id)
  }
  const targets = sortByDistance(self, natural)
  if (isolated && targets.length < slots) targets.push(...sortByDistance(self, others))
  return targets.slice(0, slots)
}
