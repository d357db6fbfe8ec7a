import { describe, expect, it } from "vitest"
import { TokenBucket } from "../../src/internal/tokenBucket.ts"

/** Takes `n` tokens at time `now`; how many were granted. */
const takeMany = (bucket: TokenBucket, n: number, now: number): number => {
  let granted = 0
  for (let i = 0; i < n; i++) if (bucket.take(now)) granted++
  return granted
}

describe("TokenBucket", () => {
  it("starts full: grants exactly `burst` at once, then refuses", () => {
    const bucket = new TokenBucket({ perSecond: 10, burst: 5 }, 1000)
    expect(bucket.tokens).toBe(5)
    expect(takeMany(bucket, 5, 1000)).toBe(5)
    expect(bucket.tokens).toBe(0)
    expect(bucket.take(1000)).toBe(false)
    expect(takeMany(bucket, 100, 1000)).toBe(0)
    expect(bucket.tokens).toBe(0)
  })

  it("a refused take costs nothing", () => {
    const bucket = new TokenBucket({ perSecond: 1, burst: 1 }, 0)
    expect(bucket.take(0)).toBe(true)
    for (let i = 0; i < 50; i++) expect(bucket.take(0)).toBe(false)
    expect(bucket.take(1000)).toBe(true)
  })

  it("refills at perSecond, continuously", () => {
    const bucket = new TokenBucket({ perSecond: 10, burst: 5 }, 0)
    takeMany(bucket, 5, 0)
    // 10/s = one token per 100 ms
    expect(bucket.take(99)).toBe(false)
    expect(bucket.take(100)).toBe(true)
    expect(bucket.take(100)).toBe(false)
    expect(bucket.tokens).toBeCloseTo(0, 9)
    // 250 ms later: 2.5 tokens, so two takes then a refusal, half a token left
    expect(takeMany(bucket, 3, 350)).toBe(2)
    expect(bucket.tokens).toBeCloseTo(0.5, 9)
    expect(bucket.take(399)).toBe(false)
    expect(bucket.take(400)).toBe(true)
  })

  it("sustains perSecond over a long run", () => {
    const bucket = new TokenBucket({ perSecond: 100, burst: 200 }, 0)
    let granted = 0
    // try 1000 takes per second for 10 s, one every ms
    for (let t = 0; t <= 10_000; t++) if (bucket.take(t)) granted++
    // the starting burst plus 100/s for 10 s
    expect(granted).toBeGreaterThanOrEqual(200 + 1000 - 1)
    expect(granted).toBeLessThanOrEqual(200 + 1000 + 1)
  })

  it("caps the fill at burst however long the bucket was idle", () => {
    const bucket = new TokenBucket({ perSecond: 10, burst: 5 }, 0)
    takeMany(bucket, 5, 0)
    expect(bucket.take(3_600_000)).toBe(true)
    expect(bucket.tokens).toBe(4)
    expect(takeMany(bucket, 10, 3_600_000)).toBe(4)
    // an idle full bucket does not grow either
    const full = new TokenBucket({ perSecond: 1000, burst: 3 }, 0)
    expect(takeMany(full, 10, 1_000_000)).toBe(3)
  })

  it("does not refill when time goes backwards, and measures later refills from the latest time seen", () => {
    const bucket = new TokenBucket({ perSecond: 10, burst: 5 }, 10_000)
    takeMany(bucket, 5, 10_000)
    expect(bucket.take(0)).toBe(false)
    expect(bucket.take(-1_000_000)).toBe(false)
    expect(bucket.tokens).toBe(0)
    // going back did not move the clock: 100 ms after 10 000 gives one token, not more
    expect(takeMany(bucket, 5, 10_100)).toBe(1)
    // a backwards step after progress does not grant anything either
    expect(bucket.take(5_000)).toBe(false)
    expect(takeMany(bucket, 5, 10_200)).toBe(1)
  })

  it("a clock that starts in the past still grants the initial burst", () => {
    const bucket = new TokenBucket({ perSecond: 1, burst: 2 }, 5_000)
    expect(takeMany(bucket, 3, 1_000)).toBe(2)
  })

  it("fractional rates accumulate", () => {
    const bucket = new TokenBucket({ perSecond: 0.5, burst: 1 }, 0)
    expect(bucket.take(0)).toBe(true)
    expect(bucket.take(1_000)).toBe(false)
    expect(bucket.take(1_999)).toBe(false)
    expect(bucket.take(2_000)).toBe(true)
  })
})
