/**
 * Replay protection for signed envelopes: the (sender, id) pairs accepted within the time
 * window, bounded by count.
 *
 * An envelope is acceptable only while `now - ts <= windowMs` (decryption refuses older ones
 * as stale), so an id need only be remembered for that long. When the cache is full, the
 * entry evicted raises a floor: from then on, any envelope dated at or before the evicted
 * one's time is refused as a possible replay. So a flood of valid envelopes (only a signing
 * peer can add entries, and only after its signature checks) narrows the accepted window
 * instead of letting an evicted id be replayed; it never lets a replay through.
 *
 * Time is passed in as milliseconds; the guard keeps the latest `now` it saw, so a clock that
 * steps back cannot reopen the window of ids it already forgot.
 *
 * @since 2.0.0
 */

export interface ReplayGuardOptions {
  /** Most (sender, id) pairs held. Default 16,384. */
  readonly maxEntries?: number
  /** How long an envelope stays acceptable (its maximum age), in ms. Default 300,000 (5 min). */
  readonly windowMs?: number
}

export const replayDefaults: Required<ReplayGuardOptions> = { maxEntries: 16_384, windowMs: 300_000 }

export class ReplayGuard {
  readonly maxEntries: number
  readonly windowMs: number
  /** key -> the envelope's own time, in insertion order. */
  readonly #seen = new Map<string, number>()
  /** Envelopes dated at or before this are refused (raised by evictions). */
  #floor = Number.NEGATIVE_INFINITY
  /** The latest `now` seen. */
  #now = Number.NEGATIVE_INFINITY

  constructor(options: ReplayGuardOptions = {}) {
    const maxEntries = options.maxEntries ?? replayDefaults.maxEntries
    const windowMs = options.windowMs ?? replayDefaults.windowMs
    this.maxEntries = Number.isInteger(maxEntries) && maxEntries >= 1 ? maxEntries : replayDefaults.maxEntries
    this.windowMs = windowMs > 0 ? windowMs : replayDefaults.windowMs
  }

  get size(): number {
    return this.#seen.size
  }

  /** True when an envelope `key` dated `ts` would be accepted at `now` (nothing recorded). */
  fresh(key: string, ts: number, now: number): boolean {
    const current = Math.max(now, this.#now)
    return ts > this.#floor && current - ts <= this.windowMs && !this.#seen.has(key)
  }

  /**
   * Records `key` (dated `ts`) as accepted at `now`; false, recording nothing, when it was
   * accepted before, is below the floor, or is older than the window.
   */
  add(key: string, ts: number, now: number): boolean {
    this.#now = Math.max(now, this.#now)
    this.#prune()
    if (!this.fresh(key, ts, now)) return false
    this.#seen.set(key, ts)
    while (this.#seen.size > this.maxEntries) {
      const [oldest, at] = this.#seen.entries().next().value!
      this.#seen.delete(oldest)
      this.#floor = Math.max(this.#floor, at)
    }
    return true
  }

  /** Forgets entries from the front that are past the window (they would be refused anyway). */
  #prune(): void {
    for (const [key, ts] of this.#seen) {
      if (this.#now - ts <= this.windowMs) break
      this.#seen.delete(key)
    }
  }
}
