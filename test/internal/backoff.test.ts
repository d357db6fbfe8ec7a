import { assert, describe, it } from "@effect/vitest"
import { backoffDelay, defaults, nextAttemptAt } from "../../src/internal/backoff.ts"
import { prng } from "../support/random.ts"

const zero = () => 0
const constant = (r: number) => () => r

describe("backoffDelay", () => {
  it("has the documented defaults", () => {
    assert.deepStrictEqual(defaults, { baseMs: 1_000, maxMs: 30_000, factor: 2, jitter: 0.2 })
  })

  it("doubles from baseMs and stops at maxMs (no jitter drawn)", () => {
    const delays = [0, 1, 2, 3, 4, 5, 6, 10].map((attempt) => backoffDelay(attempt, {}, zero))
    assert.deepStrictEqual(delays, [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000])
  })

  it("stays at maxMs when factor ** attempt overflows", () => {
    assert.strictEqual(backoffDelay(5_000, {}, zero), 30_000)
    assert.strictEqual(backoffDelay(Number.MAX_SAFE_INTEGER, {}, zero), 30_000)
  })

  it("jitter only shortens the delay, by up to the jitter fraction", () => {
    assert.strictEqual(backoffDelay(0, {}, constant(0.5)), 900)
    assert.strictEqual(backoffDelay(10, {}, constant(0.5)), 27_000)
    const nearOne = backoffDelay(0, {}, constant(0.999999))
    assert.isAbove(nearOne, 800)
    assert.isBelow(nearOne, 800.001)
  })

  it("jitter 0 ignores random; jitter 1 can reach down to 0", () => {
    assert.strictEqual(backoffDelay(2, { jitter: 0 }, constant(0.7)), 4_000)
    assert.strictEqual(backoffDelay(0, { jitter: 1 }, constant(0.75)), 250)
  })

  it("clamps random values outside [0, 1]", () => {
    assert.strictEqual(backoffDelay(0, {}, constant(2)), 800)
    assert.strictEqual(backoffDelay(0, {}, constant(-1)), 1_000)
  })

  it("honours custom options", () => {
    const options = { baseMs: 100, maxMs: 5_000, factor: 3, jitter: 0 }
    const delays = [0, 1, 2, 3, 4].map((attempt) => backoffDelay(attempt, options, zero))
    assert.deepStrictEqual(delays, [100, 300, 900, 2_700, 5_000])
    assert.strictEqual(backoffDelay(7, { factor: 1 }, zero), 1_000, "factor 1 is a constant delay")
    assert.strictEqual(backoffDelay(0, { baseMs: 50_000 }, zero), 30_000, "baseMs above maxMs is capped")
    assert.strictEqual(backoffDelay(3, { baseMs: 0 }, zero), 0)
  })

  it("is deterministic given the random source", () => {
    const runs = (seed: number) => {
      const random = prng(seed)
      return Array.from({ length: 20 }, (_, attempt) => backoffDelay(attempt, {}, random))
    }
    assert.deepStrictEqual(runs(42), runs(42))
    assert.notDeepEqual(runs(42), runs(43))
  })

  it("stays within (d * (1 - jitter), d] and never above maxMs for random inputs", () => {
    const random = prng(5)
    for (let run = 0; run < 2_000; run++) {
      const baseMs = Math.floor(random() * 2_000)
      const maxMs = Math.floor(random() * 60_000)
      const factor = 1 + random() * 3
      const jitter = random()
      const attempt = Math.floor(random() * 40)
      const d = Math.min(maxMs, baseMs * factor ** attempt)
      const delay = backoffDelay(attempt, { baseMs, maxMs, factor, jitter }, random)
      assert.isAtMost(delay, d)
      assert.isAtMost(delay, maxMs)
      // random() < 1, so the lower bound is never reached (up to rounding).
      assert.isAbove(delay, d * (1 - jitter) - 1e-9)
      if (d > 0 && jitter > 0) assert.isBelow(delay, d + 1e-9)
    }
  })

  it("does not decrease with the attempt for a fixed random value", () => {
    for (const r of [0, 0.3, 0.99]) {
      let previous = 0
      for (let attempt = 0; attempt < 30; attempt++) {
        const delay = backoffDelay(attempt, {}, constant(r))
        assert.isAtLeast(delay, previous)
        previous = delay
      }
    }
  })

  it("rejects invalid input", () => {
    assert.throws(() => backoffDelay(-1, {}, zero), RangeError)
    assert.throws(() => backoffDelay(1.5, {}, zero), RangeError)
    assert.throws(() => backoffDelay(0, { baseMs: -1 }, zero), RangeError)
    assert.throws(() => backoffDelay(0, { maxMs: -1 }, zero), RangeError)
    assert.throws(() => backoffDelay(0, { factor: 0.5 }, zero), RangeError)
    assert.throws(() => backoffDelay(0, { jitter: 1.5 }, zero), RangeError)
    assert.throws(() => backoffDelay(0, { jitter: -0.1 }, zero), RangeError)
    assert.throws(() => backoffDelay(0, { jitter: Number.NaN }, zero), RangeError)
  })
})

describe("nextAttemptAt", () => {
  it("is now plus the delay", () => {
    assert.strictEqual(nextAttemptAt(0, 10_000, {}, zero), 11_000)
    assert.strictEqual(nextAttemptAt(3, 10_000, {}, constant(0.5)), 10_000 + 7_200)
    assert.strictEqual(nextAttemptAt(20, 5, { maxMs: 100, jitter: 0 }, zero), 105)
  })
})
