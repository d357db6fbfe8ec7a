import { assert, describe, it } from "@effect/vitest"
import { defaults, SeenCache } from "../../src/internal/seenCache.ts"
import { prng } from "../support/random.ts"

describe("SeenCache", () => {
  it("uses the documented defaults", () => {
    const cache = new SeenCache()
    assert.strictEqual(cache.maxEntries, defaults.maxEntries)
    assert.strictEqual(cache.ttlMs, defaults.ttlMs)
    assert.strictEqual(cache.size, 0)
  })

  it("add is true once, then false while the id is live", () => {
    const cache = new SeenCache({ ttlMs: 100 })
    assert.isFalse(cache.has("a", 0))
    assert.isTrue(cache.add("a", 0))
    assert.isTrue(cache.has("a", 0))
    assert.isFalse(cache.add("a", 10))
    assert.isTrue(cache.add("b", 10))
    assert.strictEqual(cache.size, 2)
  })

  it("an id expires exactly ttlMs after it was added", () => {
    const cache = new SeenCache({ ttlMs: 100 })
    cache.add("a", 1_000)
    assert.isTrue(cache.has("a", 1_099))
    assert.isFalse(cache.has("a", 1_100))
    assert.strictEqual(cache.size, 0, "has() drops the expired entry")
    assert.isTrue(cache.add("a", 1_100), "an expired id is new again")
    assert.isTrue(cache.has("a", 1_199))
  })

  it("a repeated add does not extend the lifetime", () => {
    const cache = new SeenCache({ ttlMs: 100 })
    cache.add("a", 0)
    assert.isFalse(cache.add("a", 90))
    assert.isFalse(cache.has("a", 100))
  })

  it("evicts the oldest id when maxEntries is exceeded", () => {
    const cache = new SeenCache({ maxEntries: 3, ttlMs: 1_000 })
    for (const [i, id] of ["a", "b", "c"].entries()) assert.isTrue(cache.add(id, i))
    assert.strictEqual(cache.size, 3)
    assert.isTrue(cache.add("d", 3))
    assert.strictEqual(cache.size, 3)
    assert.isFalse(cache.has("a", 3))
    assert.isTrue(cache.has("b", 3) && cache.has("c", 3) && cache.has("d", 3))
    // A repeat add is not an insertion: nothing is evicted.
    assert.isFalse(cache.add("b", 4))
    assert.isTrue(cache.has("b", 4) && cache.has("c", 4) && cache.has("d", 4))
  })

  it("maxEntries 1 keeps only the latest id", () => {
    const cache = new SeenCache({ maxEntries: 1 })
    cache.add("a", 0)
    cache.add("b", 1)
    assert.isFalse(cache.has("a", 1))
    assert.isTrue(cache.has("b", 1))
    assert.isTrue(cache.add("a", 2), "an evicted id is new again")
  })

  it("an id re-added after expiry counts as the newest", () => {
    const cache = new SeenCache({ maxEntries: 2, ttlMs: 100 })
    cache.add("a", 0)
    cache.add("b", 60)
    assert.isTrue(cache.add("a", 100))
    assert.isTrue(cache.add("c", 110)) // evicts b, the oldest, not a
    assert.isTrue(cache.has("a", 110))
    assert.isFalse(cache.has("b", 110))
    assert.isTrue(cache.has("c", 110))
  })

  it("prune removes expired ids and reports how many", () => {
    const cache = new SeenCache({ ttlMs: 100 })
    cache.add("a", 0)
    cache.add("b", 50)
    cache.add("c", 100) // a expires at 100 exactly: this add prunes it
    assert.strictEqual(cache.size, 2)
    assert.strictEqual(cache.prune(149), 0)
    assert.strictEqual(cache.prune(150), 1)
    assert.strictEqual(cache.size, 1)
    assert.strictEqual(cache.prune(10_000), 1)
    assert.strictEqual(cache.size, 0)
    assert.strictEqual(cache.prune(20_000), 0)
  })

  it("size counts expired ids until something removes them", () => {
    const cache = new SeenCache({ ttlMs: 10 })
    cache.add("a", 0)
    cache.add("b", 1)
    assert.strictEqual(cache.size, 2)
    assert.strictEqual(cache.prune(100), 2)
    assert.strictEqual(cache.size, 0)
  })

  it("ttlMs Infinity bounds by count only", () => {
    const cache = new SeenCache({ maxEntries: 2, ttlMs: Infinity })
    cache.add("a", 0)
    assert.isTrue(cache.has("a", Number.MAX_SAFE_INTEGER))
  })

  it("rejects invalid options", () => {
    assert.throws(() => new SeenCache({ maxEntries: 0 }), RangeError)
    assert.throws(() => new SeenCache({ maxEntries: 1.5 }), RangeError)
    assert.throws(() => new SeenCache({ ttlMs: 0 }), RangeError)
    assert.throws(() => new SeenCache({ ttlMs: Number.NaN }), RangeError)
  })

  it("agrees with a brute-force model on random operations", () => {
    for (let seed = 1; seed <= 30; seed++) {
      const random = prng(seed)
      const maxEntries = 1 + Math.floor(random() * 8)
      const ttlMs = 1 + Math.floor(random() * 50)
      const cache = new SeenCache({ maxEntries, ttlMs })
      // The model: live entries in insertion order, scanned in full every time.
      let model: Array<{ id: string; at: number }> = []
      const live = (now: number) => model.filter((e) => now - e.at < ttlMs)
      let now = 0
      for (let step = 0; step < 400; step++) {
        now += Math.floor(random() * 6)
        const id = `m${Math.floor(random() * 12)}`
        const op = random()
        if (op < 0.5) {
          model = live(now)
          const expected = !model.some((e) => e.id === id)
          if (expected) {
            model.push({ id, at: now })
            if (model.length > maxEntries) model.shift()
          }
          assert.strictEqual(cache.add(id, now), expected, `seed ${seed} step ${step} add`)
        } else if (op < 0.9) {
          assert.strictEqual(cache.has(id, now), live(now).some((e) => e.id === id), `seed ${seed} step ${step} has`)
        } else {
          cache.prune(now)
          model = live(now)
          assert.strictEqual(cache.size, model.length, `seed ${seed} step ${step} size`)
        }
        assert.isAtMost(cache.size, maxEntries)
      }
    }
  })
})
