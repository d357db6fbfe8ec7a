/**
 * Who re-replicates a DHT record, and to whom: pure rules, applied by the maintenance pass
 * (layers/dht/maintenance.ts) to every record a holder keeps as one of its key's closest peers.
 *
 * A holder's *view* of a record is the `replicationFactor` peers closest to its key that its
 * routing table knows, itself included when it is among them. A peer is *known* to hold the
 * record's version when it answered this holder's store of it or sent it to this holder (a
 * replication), during its current stay in the routing table: a peer that left the table and
 * came back is known to hold nothing.
 *
 * - **Primary**: a holder in its view with no closer peer known to hold the record (within
 *   twice `refreshInterval`) is the record's primary. It stores the record on the peers of its
 *   view that are not known to hold it within `refreshInterval`. In a quiet network that is
 *   one refresh of `replicationFactor - 1` stores per record per `refreshInterval`; when the
 *   view changes (a peer joined closer, or a holder left the routing table) the newcomer gets
 *   its copy at the next pass, which is the churn repair.
 * - **Deferring**: a holder with a closer peer known to hold the record sends nothing (nor,
 *   for a pass, does a holder other than the closest that just got a new version from its
 *   publisher: the publisher stored it on the closest peers it found, and the primary's copy
 *   will tell it who the primary is); the
 *   primary's refresh keeps it knowing that. When the primary leaves (the table forgets it) or
 *   stays silent for twice `refreshInterval` (a hostile primary that keeps the record to itself),
 *   the next holder becomes primary.
 * - **Handoff**: a holder no longer among the closest it knows sends the record once to the
 *   peers of its view not known to hold it, unless one of them is known to (it is then that
 *   peer's to keep).
 *
 * A peer that just entered the routing table counts only from the next pass on (`settled`), so
 * a peer that joins and leaves at once (ids are cheap) costs its neighbours nothing.
 *
 * @since 2.0.0
 */

export type Role = "primary" | "deferring" | "handoff"

export interface PlanInput<P extends string> {
  readonly self: P
  /** The record's closest peers as the routing table knows them, closest first; `self` included when among them. */
  readonly view: ReadonlyArray<P>
  /** When `peer` was last known to hold the record's version (during its current stay in the routing table). */
  readonly knownAt: (peer: P) => number | undefined
  /** False for a peer that entered the routing table since the previous pass. */
  readonly settled: (peer: P) => boolean
  /** This version came from its publisher in this pass or the previous one (it stored it on the closest peers it found). */
  readonly justPublished?: boolean
  readonly now: number
  readonly refreshInterval: number
}

export interface Plan<P extends string> {
  readonly role: Role
  /** The peers to store the record on now (before the pass's budget). */
  readonly targets: ReadonlyArray<P>
}

export const planReplication = <P extends string>(input: PlanInput<P>): Plan<P> => {
  const { now, refreshInterval, self, view } = input
  const knownWithin = (peer: P, window: number) => {
    const at = input.knownAt(peer)
    return at !== undefined && now - at < window
  }
  const at = view.indexOf(self)
  if (at < 0) {
    if (view.some((p) => knownWithin(p, 2 * refreshInterval))) return { role: "deferring", targets: [] }
    return { role: "handoff", targets: view.filter((p) => input.knownAt(p) === undefined && input.settled(p)) }
  }
  if (at > 0 && input.justPublished === true) return { role: "deferring", targets: [] }
  if (view.slice(0, at).some((p) => knownWithin(p, 2 * refreshInterval))) return { role: "deferring", targets: [] }
  return { role: "primary", targets: view.filter((p) => p !== self && !knownWithin(p, refreshInterval) && input.settled(p)) }
}

/**
 * Which peers are known to hold which version of each key, with when: at most `maxPeersPerKey`
 * peers per key (the oldest forgotten first) and `maxKeys` keys (the least recently noted
 * forgotten first), so peers sending stores cannot grow it without bound.
 */
export class HolderKnowledge<P extends string> {
  readonly #byKey = new Map<string, { version: number; readonly peers: Map<P, number> }>()
  readonly maxPeersPerKey: number
  readonly maxKeys: number

  constructor(maxPeersPerKey: number, maxKeys: number) {
    this.maxPeersPerKey = Math.max(1, maxPeersPerKey)
    this.maxKeys = Math.max(1, maxKeys)
  }

  get size(): number {
    return this.#byKey.size
  }

  /** `peer` holds `version` of `key` (or a newer one) as of `at`; notes of an older version than known are ignored. */
  note(key: string, version: number, peer: P, at: number): void {
    let entry = this.#byKey.get(key)
    if (entry !== undefined && version < entry.version) return
    if (entry === undefined || version > entry.version) {
      this.#byKey.delete(key)
      entry = { version, peers: new Map() }
      while (this.#byKey.size >= this.maxKeys) this.#byKey.delete(this.#byKey.keys().next().value!)
    } else {
      this.#byKey.delete(key)
    }
    this.#byKey.set(key, entry)
    entry.peers.delete(peer)
    entry.peers.set(peer, at)
    while (entry.peers.size > this.maxPeersPerKey) entry.peers.delete(entry.peers.keys().next().value!)
  }

  /** When `peer` was last known to hold `version` of `key`. */
  knownAt(key: string, version: number, peer: P): number | undefined {
    const entry = this.#byKey.get(key)
    return entry !== undefined && entry.version === version ? entry.peers.get(peer) : undefined
  }

  forget(key: string): void {
    this.#byKey.delete(key)
  }

  keys(): IterableIterator<string> {
    return this.#byKey.keys()
  }
}

/**
 * The stores of one pass: the targets of each record (in key order) from `cursor` on, wrapping
 * around, while they fit in `budget`; a record whose targets do not fit comes first in the
 * next pass (`next`), so a large store is worked through over several passes, each record in turn
 * (one with more targets than the whole budget gets as many as fit).
 */
export const passSends = <A>(
  targets: ReadonlyArray<ReadonlyArray<A>>,
  cursor: number,
  budget: number
): { readonly sends: ReadonlyArray<readonly [number, A]>; readonly next: number } => {
  const n = targets.length
  if (n === 0) return { sends: [], next: 0 }
  const sends: Array<readonly [number, A]> = []
  let left = budget
  const start = cursor % n
  for (let i = 0; i < n; i++) {
    const index = (start + i) % n
    const these = targets[index]!
    if (these.length > left) {
      // a record with more targets than a whole pass's budget: as many as fit, the rest next pass
      if (sends.length === 0) for (const t of these.slice(0, left)) sends.push([index, t])
      return { sends, next: index }
    }
    for (const t of these) sends.push([index, t])
    left -= these.length
  }
  return { sends, next: start }
}
