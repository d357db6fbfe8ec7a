import { assert, describe, it } from "@effect/vitest"
import { BUCKETS, defaults, RoutingTable } from "../../src/internal/kbucket.ts"
import { prng } from "../support/random.ts"

const hexDigit = (n: number) => n.toString(16)
const randomId = (random: () => number): string =>
  Array.from({ length: 40 }, () => hexDigit(Math.floor(random() * 16))).join("")

/** `base` with bit `bit` (0 = most significant) flipped and every later bit random: common prefix exactly `bit`. */
const idWithPrefix = (base: string, bit: number, random: () => number): string => {
  const bits = Array.from(base, (c) => parseInt(c, 16).toString(2).padStart(4, "0")).join("").split("")
  bits[bit] = bits[bit] === "0" ? "1" : "0"
  for (let i = bit + 1; i < 160; i++) bits[i] = random() < 0.5 ? "0" : "1"
  let out = ""
  for (let i = 0; i < 160; i += 4) out += hexDigit(parseInt(bits.slice(i, i + 4).join(""), 2))
  return out
}

/** XOR distance as a 40-hex string: for equal-length hex, string order is numeric order. */
const xorHex = (a: string, b: string) =>
  Array.from(a, (c, i) => hexDigit(parseInt(c, 16) ^ parseInt(b.charAt(i), 16))).join("")

/** Common prefix length computed bit by bit. */
const prefixBits = (a: string, b: string): number => {
  const x = xorHex(a, b)
  for (let i = 0; i < 40; i++) {
    const d = parseInt(x.charAt(i), 16)
    if (d !== 0) return i * 4 + (4 - d.toString(2).length)
  }
  return 160
}

const bruteClosest = (target: string, ids: Iterable<string>, n: number) =>
  [...ids]
    .map((id) => ({ id, d: xorHex(target, id) }))
    .sort((a, b) => (a.d < b.d ? -1 : 1))
    .slice(0, n)
    .map(({ id }) => id)

const self = "8".padEnd(40, "0")

describe("RoutingTable", () => {
  it("has k = 20 and 160 buckets by default", () => {
    const table = new RoutingTable(self)
    assert.strictEqual(defaults.k, 20)
    assert.strictEqual(table.k, 20)
    assert.strictEqual(BUCKETS, 160)
    assert.strictEqual(table.size, 0)
  })

  it("indexes buckets by common prefix length with selfId", () => {
    const table = new RoutingTable(self)
    assert.strictEqual(table.bucketIndex("0".padEnd(40, "0")), 0)
    assert.strictEqual(table.bucketIndex("c".padEnd(40, "0")), 1)
    assert.strictEqual(table.bucketIndex("8".padEnd(39, "0") + "1"), 159)
    assert.strictEqual(table.bucketIndex("8".padEnd(39, "0") + "2"), 158)
  })

  it("adds, knows and counts ids; each goes in its bucket", () => {
    const table = new RoutingTable(self)
    const a = "0".padEnd(40, "1")
    const b = "9".padEnd(40, "0")
    assert.deepStrictEqual(table.add(a), { added: true })
    assert.deepStrictEqual(table.add(b), { added: true })
    assert.isTrue(table.has(a) && table.has(b))
    assert.isFalse(table.has(self))
    assert.strictEqual(table.size, 2)
    assert.deepStrictEqual(table.bucket(0), [a])
    assert.deepStrictEqual(table.bucket(3), [b])
    assert.deepStrictEqual(table.bucket(1), [])
  })

  it("never adds selfId", () => {
    const table = new RoutingTable(self)
    assert.deepStrictEqual(table.add(self), { added: false })
    assert.strictEqual(table.size, 0)
  })

  it("adding a known id marks it as seen without a candidate", () => {
    const table = new RoutingTable(self, { k: 3 })
    const a = "0a".padEnd(40, "0")
    const b = "0b".padEnd(40, "0")
    const c = "0c".padEnd(40, "0")
    table.add(a)
    table.add(b)
    assert.deepStrictEqual(table.add(a), { added: false })
    assert.strictEqual(table.size, 2)
    assert.deepStrictEqual(table.bucket(0), [b, a])
    table.add(c)
    assert.deepStrictEqual(table.bucket(0), [b, a, c])
  })

  it("a full bucket names its least recently seen entry instead of adding", () => {
    const table = new RoutingTable(self, { k: 2 })
    const a = "01".padEnd(40, "0")
    const b = "02".padEnd(40, "0")
    const c = "03".padEnd(40, "0")
    table.add(a)
    table.add(b)
    assert.deepStrictEqual(table.add(c), { added: false, evictCandidate: a })
    assert.isFalse(table.has(c))
    assert.strictEqual(table.size, 2)
    // The caller pinged a and it answered: a is now the most recent, b the candidate.
    assert.isTrue(table.touch(a))
    assert.deepStrictEqual(table.add(c), { added: false, evictCandidate: b })
    // b did not answer: replace it.
    assert.isTrue(table.remove(b))
    assert.deepStrictEqual(table.add(c), { added: true })
    assert.deepStrictEqual(table.bucket(0), [a, c])
  })

  it("a full bucket does not stop other buckets", () => {
    const table = new RoutingTable(self, { k: 1 })
    assert.deepStrictEqual(table.add("0".padEnd(40, "1")), { added: true })
    assert.deepStrictEqual(table.add("0".padEnd(40, "2")), { added: false, evictCandidate: "0".padEnd(40, "1") })
    assert.deepStrictEqual(table.add("c".padEnd(40, "0")), { added: true })
    assert.strictEqual(table.size, 2)
  })

  it("remove and touch report unknown ids", () => {
    const table = new RoutingTable(self)
    const a = "0".padEnd(40, "1")
    assert.isFalse(table.remove(a))
    assert.isFalse(table.touch(a))
    table.add(a)
    assert.isTrue(table.remove(a))
    assert.isFalse(table.remove(a))
    assert.isFalse(table.has(a))
    assert.strictEqual(table.size, 0)
    assert.deepStrictEqual(table.bucket(0), [])
    assert.deepStrictEqual(table.bucket(-1), [])
    assert.deepStrictEqual(table.bucket(BUCKETS), [])
  })

  it("rejects ids that are not lowercase 40-hex", () => {
    assert.throws(() => new RoutingTable("abc"), TypeError)
    assert.throws(() => new RoutingTable(self, { k: 0 }), RangeError)
    assert.throws(() => new RoutingTable(self, { k: 1.5 }), RangeError)
    const table = new RoutingTable(self)
    assert.throws(() => table.add("A".padEnd(40, "0")), TypeError)
    assert.throws(() => table.add("g".padEnd(40, "0")), TypeError)
    assert.throws(() => table.add("0".padEnd(41, "0")), TypeError)
    assert.throws(() => table.closest("xyz", 3), TypeError)
  })

  it("closest: n <= 0, n beyond size, target = self, target known", () => {
    const table = new RoutingTable(self)
    const ids = ["0", "4", "7f", "81", "c", "9", "8001"].map((p) => p.padEnd(40, "0"))
    for (const id of ids) table.add(id)
    assert.deepStrictEqual(table.closest(self, 0), [])
    assert.deepStrictEqual(table.closest(self, -3), [])
    assert.deepStrictEqual(table.closest(self, 100), bruteClosest(self, ids, 100))
    assert.strictEqual(table.closest(self, 100).length, ids.length)
    assert.deepStrictEqual(table.closest(self, 2), ["8001".padEnd(40, "0"), "81".padEnd(40, "0")])
    const target = "4".padEnd(40, "0")
    assert.deepStrictEqual(table.closest(target, 1), [target])
    assert.deepStrictEqual(table.closest(target, 3), bruteClosest(target, ids, 3))
    assert.deepStrictEqual(new RoutingTable(self).closest(target, 5), [])
  })

  it("agrees with a brute-force model on random operations", () => {
    for (let seed = 1; seed <= 25; seed++) {
      const random = prng(seed)
      const me = randomId(random)
      const k = 1 + Math.floor(random() * 4)
      const table = new RoutingTable(me, { k })
      // The model: for each bucket, its ids least recently seen first.
      const model = new Map<number, Array<string>>()
      const known = () => [...model.values()].flat()
      const seen: Array<string> = []
      // Concentrate on a few prefix lengths, near and far, so buckets fill up.
      const prefixes = Array.from({ length: 6 }, () => Math.floor(random() * 160))
      const freshId = () => {
        const bit = prefixes[Math.floor(random() * prefixes.length)] ?? 0
        return random() < 0.1 ? randomId(random) : idWithPrefix(me, bit, random)
      }
      for (let step = 0; step < 300; step++) {
        const op = random()
        const existing = seen[Math.floor(random() * seen.length)]
        if (op < 0.55 || existing === undefined) {
          const id = random() < 0.2 && existing !== undefined ? existing : freshId()
          seen.push(id)
          const index = prefixBits(me, id)
          assert.strictEqual(table.bucketIndex(id), index)
          const bucket = model.get(index) ?? []
          const result = table.add(id)
          if (bucket.includes(id)) {
            assert.deepStrictEqual(result, { added: false })
            bucket.splice(bucket.indexOf(id), 1)
            bucket.push(id)
          } else if (bucket.length >= k) {
            assert.deepStrictEqual(result, { added: false, evictCandidate: bucket[0] })
          } else {
            assert.deepStrictEqual(result, { added: true })
            bucket.push(id)
          }
          model.set(index, bucket)
        } else if (op < 0.7) {
          const bucket = model.get(prefixBits(me, existing)) ?? []
          const present = bucket.includes(existing)
          assert.strictEqual(table.remove(existing), present)
          if (present) bucket.splice(bucket.indexOf(existing), 1)
        } else if (op < 0.8) {
          const bucket = model.get(prefixBits(me, existing)) ?? []
          const present = bucket.includes(existing)
          assert.strictEqual(table.touch(existing), present)
          if (present) {
            bucket.splice(bucket.indexOf(existing), 1)
            bucket.push(existing)
          }
        } else {
          const target = random() < 0.3 ? me : random() < 0.5 && existing !== undefined ? existing : freshId()
          const n = Math.floor(random() * 12)
          assert.deepStrictEqual(table.closest(target, n), bruteClosest(target, known(), n), `seed ${seed} step ${step}`)
        }
        assert.strictEqual(table.size, known().length)
        for (const [index, bucket] of model) assert.deepStrictEqual(table.bucket(index), bucket)
      }
    }
  })

  it("closest agrees with brute force on a large table", () => {
    const random = prng(99)
    const me = randomId(random)
    const table = new RoutingTable(me, { k: 8 })
    for (let i = 0; i < 2_000; i++) {
      table.add(random() < 0.5 ? randomId(random) : idWithPrefix(me, Math.floor(random() * 40), random))
    }
    const all = table.closest(me, Infinity)
    assert.strictEqual(all.length, table.size)
    for (let run = 0; run < 200; run++) {
      const target = random() < 0.5 ? randomId(random) : idWithPrefix(me, Math.floor(random() * 40), random)
      const n = 1 + Math.floor(random() * 30)
      assert.deepStrictEqual(table.closest(target, n), bruteClosest(target, all, n))
    }
  })
})
