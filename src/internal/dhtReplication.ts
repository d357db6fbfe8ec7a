/**
 * Who re-replicates a DHT record, and to whom: pure rules, applied by the maintenance pass
 * (layers/dht/maintenance.ts) to every record a holder keeps as one of its key's closest peers.
 *
 * A holder's *view* of a record is the `replicationFactor` peers closest to its key that its
 * routing table knows, itself included when it is among them. What a holder knows of another
 * peer and the record's version, during that peer's current stay in the routing table (a peer
 * that left the table and came back is known to hold nothing): it *acked* (answered this
 * holder's store of it), or it *sent* this holder a copy (a replication).
 *
 * - **Primary**: a holder in its view with no closer peer that sent it a copy within twice
 *   `refreshInterval`. It stores the record on the peers of its view that have not acked it
 *   within `refreshInterval`: at the next pass after its view changed (a peer joined closer, a
 *   holder left the routing table: the churn repair), and otherwise once per `refreshInterval`
 *   (its copies keep telling the others who the primary is). In a quiet network that is
 *   `replicationFactor - 1` stores per record per `refreshInterval`, and nothing else.
 * - **Deferring**: a holder with a closer peer that sent it a copy within twice
 *   `refreshInterval` leaves the record to that peer, except for a peer of its view it knows
 *   nothing of after `GRACE_PASSES` (both in its table and holding the record here that long),
 *   which it stores the record on once: so a primary that keeps sending copies but repairs
 *   nothing (a hostile one) delays the repair by `GRACE_PASSES` passes, no more. Acks alone
 *   never make a holder defer: a peer that answers `stored` and keeps nothing (a black hole)
 *   stays a target of the primary's refresh and never becomes primary. For a pass or two after
 *   a new version came from its publisher (who stored it on the closest peers its lookup found)
 *   every holder but the closest waits for the primary's copy.
 * - **Handoff**: a holder no longer among the closest it knows sends the record once to the
 *   peers of its view it knows nothing of, unless one of them sent it a copy (then it is that
 *   peer's to keep).
 *
 * A peer that just entered the routing table counts only from the next pass on (`settled`), so
 * a peer that joins and leaves at once (ids are cheap) costs its neighbours nothing.
 *
 * @since 2.0.0
 */

export type Role = "primary" | "deferring" | "handoff"

/** Passes a deferring holder waits before it stores a record on a peer of its view it knows nothing of. */
export const GRACE_PASSES = 3

export interface PlanInput<P extends string> {
  readonly self: P
  /** The record's closest peers as the routing table knows them, closest first; `self` included when among them. */
  readonly view: ReadonlyArray<P>
  /** When `peer` last answered this holder's store of the record's version. */
  readonly ackedAt: (peer: P) => number | undefined
  /** When `peer` last sent this holder a copy of the record's version. */
  readonly sentAt: (peer: P) => number | undefined
  /** False for a peer that entered the routing table since the previous pass. */
  readonly settled: (peer: P) => boolean
  /** True when `peer` has been in the routing table, and the record here, for `GRACE_PASSES` passes. */
  readonly graceOver: (peer: P) => boolean
  /** This version came from its publisher in this pass or the two before. */
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
  const within = (at: number | undefined, window: number) => at !== undefined && now - at < window
  const unknown = (p: P) => input.ackedAt(p) === undefined && input.sentAt(p) === undefined
  const others = view.filter((p) => p !== self)
  const at = view.indexOf(self)
  const closer = at < 0 ? view : view.slice(0, at)
  if (closer.some((p) => within(input.sentAt(p), 2 * refreshInterval))) {
    return { role: "deferring", targets: others.filter((p) => unknown(p) && input.graceOver(p)) }
  }
  if (at < 0) return { role: "handoff", targets: others.filter((p) => unknown(p) && input.settled(p)) }
  if (at > 0 && input.justPublished === true) return { role: "deferring", targets: [] }
  return { role: "primary", targets: others.filter((p) => !within(input.ackedAt(p), refreshInterval) && input.settled(p)) }
}

/**
 * What a holder knows of which peers hold which version of each key: when each acked it and
 * when each sent a copy. At most `maxPeersPerKey` peers per key (the least recently noted
 * forgotten first) and `maxKeys` keys (likewise), so peers sending stores cannot grow it
 * without bound.
 */
export type Knowledge = "acked" | "sent"

export class HolderKnowledge<P extends string> {
  readonly #byKey = new Map<string, { version: number; readonly peers: Map<P, { acked?: number; sent?: number }> }>()
  readonly maxPeersPerKey: number
  readonly maxKeys: number

  constructor(maxPeersPerKey: number, maxKeys: number) {
    this.maxPeersPerKey = Math.max(1, maxPeersPerKey)
    this.maxKeys = Math.max(1, maxKeys)
  }

  get size(): number {
    return this.#byKey.size
  }

  /** `peer` acked or sent `version` of `key` at `at`; notes of an older version than known are ignored. */
  note(key: string, version: number, peer: P, how: Knowledge, at: number): void {
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
    const known = entry.peers.get(peer) ?? {}
    entry.peers.delete(peer)
    entry.peers.set(peer, how === "acked" ? { ...known, acked: at } : { ...known, sent: at })
    while (entry.peers.size > this.maxPeersPerKey) entry.peers.delete(entry.peers.keys().next().value!)
  }

  /** When `peer` last acked or sent `version` of `key`. */
  knownAt(key: string, version: number, peer: P, how: Knowledge): number | undefined {
    const entry = this.#byKey.get(key)
    return entry !== undefined && entry.version === version ? entry.peers.get(peer)?.[how] : undefined
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
