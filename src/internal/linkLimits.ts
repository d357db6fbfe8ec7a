/**
 * Per-neighbour rate limits on what arrives over a link: one token bucket per traffic class
 * (gossip, direct messages, DHT RPCs, repair, invalid frames). A frame over its class's
 * limit is dropped; every dropped frame also takes a "strike", and a neighbour that runs out
 * of strikes (keeps exceeding) is to be disconnected and cooled down. Pure: time is passed in.
 *
 * The defaults are far above what an honest neighbour sends (the mesh benchmark's heaviest
 * load is about 7,000 direct messages a second over one link) and bound what a hostile one
 * can make a node verify and forward.
 *
 * @since 2.0.0
 */
import { TokenBucket, type TokenBucketOptions } from "./tokenBucket.ts"

export type TrafficClass = "gossip" | "direct" | "dht" | "repair" | "invalid"

export type RateLimits = { readonly [C in TrafficClass]: TokenBucketOptions } & {
  /**
   * Over-limit frames tolerated: each takes a token; a neighbour whose strikes run out is
   * disconnected. Default 20/s, burst 500.
   */
  readonly strikes: TokenBucketOptions
  /**
   * Broadcasts one origin may have a node deliver and forward, whichever neighbours bring
   * them (beyond it they are dropped). Default 200/s, burst 2,000.
   */
  readonly gossipPerOrigin: TokenBucketOptions
}

export const defaultRateLimits: RateLimits = {
  /** Broadcasts (user messages and presence) forwarded by one neighbour. Default 5,000/s, burst 20,000. */
  gossip: { perSecond: 5_000, burst: 20_000 },
  /** Routed direct messages and their acks (DHT RPCs apart). Default 20,000/s, burst 40,000. */
  direct: { perSecond: 20_000, burst: 40_000 },
  /** Direct messages of kind "dht". Default 2,000/s, burst 10,000. */
  dht: { perSecond: 2_000, burst: 10_000 },
  /** ihave/iwant repair frames (an honest neighbour sends about two a second). Default 50/s, burst 500. */
  repair: { perSecond: 50, burst: 500 },
  /** Frames that do not decode (an honest neighbour sends none). Default 10/s, burst 100. */
  invalid: { perSecond: 10, burst: 100 },
  strikes: { perSecond: 20, burst: 500 },
  gossipPerOrigin: { perSecond: 200, burst: 2_000 }
}

/** Fills a partial set of limits from the defaults. */
export const resolveRateLimits = (partial: Partial<RateLimits> = {}): RateLimits => ({ ...defaultRateLimits, ...partial })

export type Admission = "accept" | "drop" | "disconnect"

/** The buckets of one link. */
export class LinkLimiter {
  readonly #limits: RateLimits
  /** One bucket per class, made when the class is first seen (a fresh bucket is full anyway). */
  readonly #buckets = new Map<TrafficClass, TokenBucket>()
  #strikes: TokenBucket | undefined
  /** Frames dropped per class. */
  readonly dropped: Record<TrafficClass, number> = { gossip: 0, direct: 0, dht: 0, repair: 0, invalid: 0 }

  constructor(limits: RateLimits) {
    this.#limits = limits
  }

  /** Whether a frame of class `c` arriving at `now` is taken, dropped, or ends the link. */
  admit(c: TrafficClass, now: number): Admission {
    let bucket = this.#buckets.get(c)
    if (bucket === undefined) this.#buckets.set(c, bucket = new TokenBucket(this.#limits[c], now))
    if (bucket.take(now)) return "accept"
    this.dropped[c]++
    this.#strikes ??= new TokenBucket(this.#limits.strikes, now)
    return this.#strikes.take(now) ? "drop" : "disconnect"
  }
}
