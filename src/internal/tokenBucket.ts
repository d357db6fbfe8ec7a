/**
 * A token bucket for per-connection rate limiting: `perSecond` tokens refill continuously up
 * to `burst`. Time is passed in, so the caller decides the clock (and tests control it).
 *
 * @since 2.0.0
 */
export interface TokenBucketOptions {
  /** Sustained messages per second. */
  readonly perSecond: number
  /** Largest burst accepted at once; also the bucket's starting fill. */
  readonly burst: number
}

export class TokenBucket {
  readonly #perMs: number
  readonly #burst: number
  #tokens: number
  #at: number

  constructor(options: TokenBucketOptions, now: number) {
    this.#perMs = options.perSecond / 1000
    this.#burst = options.burst
    this.#tokens = options.burst
    this.#at = now
  }

  /** Takes one token; false when the bucket is empty (the message is over the limit). */
  take(now: number): boolean {
    if (now > this.#at) {
      this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#at) * this.#perMs)
      this.#at = now
    }
    if (this.#tokens >= 1) {
      this.#tokens -= 1
      return true
    }
    return false
  }

  get tokens(): number {
    return this.#tokens
  }
}
