/**
 * A Kademlia routing table: the known peers, sorted into 160 buckets by how many leading
 * bits they share with our own id (bucket `i` holds the ids whose common prefix with
 * `selfId` is exactly `i` bits). Each bucket holds at most `k` ids, least recently seen
 * first.
 *
 * A full bucket does not drop anyone by itself: `add` names the least recently seen entry
 * as the eviction candidate, and the caller pings it and replaces it only if it does not
 * answer (long-lived peers are the most likely to stay, so they are kept).
 *
 * @since 2.0.0
 */
import { commonPrefixLength, sortByDistance } from "../schema/PeerId.ts"

export interface RoutingTableOptions {
  /** Bucket size: ids kept per common-prefix length. Default 20. */
  readonly k?: number
}

export const defaults: Required<RoutingTableOptions> = {
  k: 20
}

/** Number of buckets: one per possible common-prefix length with a different id. */
export const BUCKETS = 160

/** What `add` did: added, or not, with the entry to ping when the bucket was full. */
export type AddResult<A extends string> =
  | { readonly added: true }
  | { readonly added: false; readonly evictCandidate?: A }

const lowerHex40 = /^[0-9a-f]{40}$/

const checkId = (id: string, what: string): void => {
  if (!lowerHex40.test(id)) throw new TypeError(`${what} is not a lowercase 40-hex peer id: ${JSON.stringify(id)}`)
}

export class RoutingTable<A extends string = string> {
  readonly selfId: string
  readonly k: number
  /** Each bucket in recency order, least recently seen first (Map insertion order). */
  readonly #buckets: ReadonlyArray<Map<string, A>>
  /** id -> its bucket, so has/remove/touch need no distance computation. */
  readonly #bucketOf = new Map<string, number>()

  constructor(selfId: string, options: RoutingTableOptions = {}) {
    checkId(selfId, "selfId")
    const k = options.k ?? defaults.k
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be a positive integer, got ${k}`)
    this.selfId = selfId
    this.k = k
    this.#buckets = Array.from({ length: BUCKETS }, () => new Map<string, A>())
  }

  /** Ids known. */
  get size(): number {
    return this.#bucketOf.size
  }

  has(id: string): boolean {
    return this.#bucketOf.has(id)
  }

  /** The bucket `id` belongs in: the length of its common prefix with `selfId` (0-159). */
  bucketIndex(id: string): number {
    return commonPrefixLength(this.selfId, id)
  }

  /** The ids of bucket `index`, least recently seen first. */
  bucket(index: number): Array<A> {
    return [...(this.#buckets[index]?.values() ?? [])]
  }

  /**
   * Adds `id` as the most recently seen entry of its bucket. When the bucket is full,
   * nothing changes and the result names its least recently seen entry. Adding an id that
   * is already known only marks it as seen (`added: false`, no candidate); `selfId` is
   * never added.
   */
  add(id: A): AddResult<A> {
    checkId(id, "id")
    if (id === this.selfId) return { added: false }
    if (this.touch(id)) return { added: false }
    const index = this.bucketIndex(id)
    const bucket = this.#buckets[index]
    if (bucket === undefined) return { added: false }
    if (bucket.size >= this.k) {
      const oldest = bucket.values().next()
      return oldest.done ? { added: false } : { added: false, evictCandidate: oldest.value }
    }
    bucket.set(id, id)
    this.#bucketOf.set(id, index)
    return { added: true }
  }

  /** Forgets `id`; false when it was not known. */
  remove(id: string): boolean {
    const index = this.#bucketOf.get(id)
    if (index === undefined) return false
    this.#bucketOf.delete(id)
    this.#buckets[index]?.delete(id)
    return true
  }

  /** Marks `id` as just seen (most recent in its bucket); false when it is not known. */
  touch(id: string): boolean {
    const index = this.#bucketOf.get(id)
    if (index === undefined) return false
    const bucket = this.#buckets[index]
    const entry = bucket?.get(id)
    if (bucket === undefined || entry === undefined) return false
    bucket.delete(id)
    bucket.set(id, entry)
    return true
  }

  /**
   * The `n` known ids XOR-closest to `target`, closest first.
   *
   * With `i` the common prefix length of `target` and `selfId`, distances to `target` are
   * ordered by bucket: bucket `i` holds the closest ids (they share more than `i` bits with
   * `target`), then every bucket above `i` (exactly `i` bits), then buckets `i - 1` down to
   * 0 (`j` bits each). So only the groups needed to reach `n` are read and sorted.
   */
  closest(target: string, n: number): Array<A> {
    checkId(target, "target")
    if (!(n > 0)) return []
    const i = commonPrefixLength(this.selfId, target)
    const out: Array<A> = []
    const take = (group: Iterable<A>) => {
      for (const id of sortByDistance(target, group)) out.push(id)
    }
    take(this.#buckets[i]?.values() ?? [])
    if (out.length < n) take(this.#buckets.slice(i + 1).flatMap((bucket) => [...bucket.values()]))
    for (let j = i - 1; j >= 0 && out.length < n; j--) take(this.#buckets[j]?.values() ?? [])
    return out.slice(0, n)
  }
}
