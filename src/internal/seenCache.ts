/**
 * The set of gossip message ids already seen, so a message is relayed once. It is bounded
 * twice: by count (`maxEntries`, oldest evicted first) so a flood cannot grow it without
 * limit, and by age (`ttlMs`) so an id can be used again once every copy has died out.
 *
 * Time is passed in as milliseconds (the caller reads its `Clock`), never read here.
 * Entries live in a `Map` in insertion order, which is also age order as long as `now`
 * does not go backwards, so expiry and eviction only ever look at the front: every
 * operation is O(1) amortised.
 *
 * @since 2.0.0
 */

export interface SeenCacheOptions {
  /** Most ids held at once; adding one more evicts the oldest. Default 10,000. */
  readonly maxEntries?: number
  /** How long an id counts as seen, in ms from when it was added. Default 120,000 (2 min). */
  readonly ttlMs?: number
}

export const defaults: Required<SeenCacheOptions> = {
  maxEntries: 10_000,
  ttlMs: 120_000
}

export class SeenCache {
  readonly maxEntries: number
  readonly ttlMs: number
  /** id -> the time it was added. */
  readonly #addedAt = new Map<string, number>()

  constructor(options: SeenCacheOptions = {}) {
    const maxEntries = options.maxEntries ?? defaults.maxEntries
    const ttlMs = options.ttlMs ?? defaults.ttlMs
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError(`maxEntries must be a positive integer, got ${maxEntries}`)
    }
    if (!(ttlMs > 0)) throw new RangeError(`ttlMs must be positive, got ${ttlMs}`)
    this.maxEntries = maxEntries
    this.ttlMs = ttlMs
  }

  /**
   * Ids held, expired ones included until something removes them (`add` and `prune` do);
   * call `prune(now)` first for an exact count.
   */
  get size(): number {
    return this.#addedAt.size
  }

  /** True when `id` was added less than `ttlMs` before `now`. */
  has(id: string, now: number): boolean {
    const at = this.#addedAt.get(id)
    if (at === undefined) return false
    if (this.#expired(at, now)) {
      this.#addedAt.delete(id)
      return false
    }
    return true
  }

  /**
   * Records `id` as seen at `now`. Returns true when it is new (absent or expired), false
   * when it was already seen and has not expired; a repeat does not extend its lifetime, so
   * a message that keeps circulating cannot pin its id forever.
   */
  add(id: string, now: number): boolean {
    this.prune(now)
    const at = this.#addedAt.get(id)
    if (at !== undefined) {
      if (!this.#expired(at, now)) return false
      // Re-inserting moves it to the back, keeping insertion order equal to age order.
      this.#addedAt.delete(id)
    }
    this.#addedAt.set(id, now)
    if (this.#addedAt.size > this.maxEntries) {
      const oldest = this.#addedAt.keys().next()
      if (!oldest.done) this.#addedAt.delete(oldest.value)
    }
    return true
  }

  /** Removes the ids expired at `now`; returns how many were removed. */
  prune(now: number): number {
    let removed = 0
    for (const [id, at] of this.#addedAt) {
      if (!this.#expired(at, now)) break
      this.#addedAt.delete(id)
      removed++
    }
    return removed
  }

  #expired(at: number, now: number): boolean {
    return now - at >= this.ttlMs
  }
}
