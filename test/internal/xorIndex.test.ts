import { describe, expect, it } from "vitest"
import { XorIndex } from "../../src/internal/xorIndex.ts"
import { idWithPrefix, prng, randomId } from "../support/random.ts"

const big = (id: string) => BigInt("0x" + id)
const id = (n: number | bigint) => BigInt(n).toString(16).padStart(40, "0")

/** Brute force: every member but the target, sorted by XOR distance, first k. */
const bruteClosest = (members: ReadonlyArray<string>, target: string, k: number): Array<string> => {
  const t = big(target)
  return members
    .map((m) => [m, big(m) ^ t] as const)
    .filter(([, d]) => d !== 0n)
    .sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .slice(0, Math.max(0, k))
    .map(([m]) => m)
}

describe("XorIndex membership", () => {
  it("starts empty", () => {
    const index = new XorIndex()
    expect(index.size).toBe(0)
    expect(index.values()).toEqual([])
    expect(index.at(0)).toBeUndefined()
    expect(index.has(id(1))).toBe(false)
    expect(index.closest(id(1), 5)).toEqual([])
  })

  it("add reports novelty, remove reports presence, size follows", () => {
    const index = new XorIndex()
    expect(index.add(id(5))).toBe(true)
    expect(index.add(id(5))).toBe(false)
    expect(index.add(id(1))).toBe(true)
    expect(index.size).toBe(2)
    expect(index.has(id(5))).toBe(true)
    expect(index.has(id(2))).toBe(false)
    expect(index.remove(id(2))).toBe(false)
    expect(index.remove(id(5))).toBe(true)
    expect(index.remove(id(5))).toBe(false)
    expect(index.size).toBe(1)
    expect(index.has(id(5))).toBe(false)
    expect(index.values()).toEqual([id(1)])
  })

  it("treats ids as numbers: the same id in another case is the same member", () => {
    const index = new XorIndex()
    const lower = "abcdef".repeat(6) + "0123"
    expect(index.add(lower)).toBe(true)
    expect(index.add(lower.toUpperCase())).toBe(false)
    expect(index.has(lower.toUpperCase())).toBe(true)
    expect(index.values()).toEqual([lower])
    expect(index.remove(lower.toUpperCase())).toBe(true)
    expect(index.size).toBe(0)
  })

  it("values() and at() follow ascending numeric order whatever the insertion order", () => {
    const index = new XorIndex()
    for (const n of [9, 3, 0xff, 0, 7, 1n << 159n, 2]) index.add(id(n))
    const expected = [0, 2, 3, 7, 9, 0xff, 1n << 159n].map(id)
    expect(index.values()).toEqual(expected)
    expected.forEach((v, i) => expect(index.at(i)).toBe(v))
    expect(index.at(expected.length)).toBeUndefined()
    expect(index.at(-1)).toBeUndefined()
    index.remove(id(7))
    expect(index.values()).toEqual([0, 2, 3, 9, 0xff, 1n << 159n].map(id))
    expect(index.at(3)).toBe(id(9))
  })

  it("values() returns a copy", () => {
    const index = new XorIndex()
    index.add(id(1))
    index.values().push(id(2))
    expect(index.values()).toEqual([id(1)])
  })

  it("matches a Set model exactly under random adds and removes", () => {
    const random = prng(12)
    const index = new XorIndex()
    const model = new Set<string>()
    const pool = Array.from({ length: 120 }, () => randomId(random))
    for (let step = 0; step < 4000; step++) {
      const x = pool[Math.floor(random() * pool.length)]!
      if (random() < 0.55) {
        expect(index.add(x)).toBe(!model.has(x))
        model.add(x)
      } else {
        expect(index.remove(x)).toBe(model.has(x))
        model.delete(x)
      }
      expect(index.size).toBe(model.size)
    }
    expect(index.values()).toEqual([...model].sort((a, b) => (big(a) < big(b) ? -1 : 1)))
    for (const p of pool) expect(index.has(p)).toBe(model.has(p))
  })
})

describe("XorIndex.closest", () => {
  it("a small worked example", () => {
    const index = new XorIndex()
    for (const n of [0, 1, 5, 6, 12]) index.add(id(n))
    // distances to 4: 5->1, 6->2, 0->4, 1->5, 12->8
    expect(index.closest(id(4), 3)).toEqual([id(5), id(6), id(0)])
    expect(index.closest(id(4), 10)).toEqual([id(5), id(6), id(0), id(1), id(12)])
    // a member target is excluded and does not use up one of the k
    expect(index.closest(id(5), 2)).toEqual([id(6), id(1)])
    expect(index.closest(id(5), 0)).toEqual([])
    expect(index.closest(id(5), -3)).toEqual([])
  })

  it("a single member is its own nothing", () => {
    const index = new XorIndex()
    index.add(id(7))
    expect(index.closest(id(7), 5)).toEqual([])
    expect(index.closest(id(8), 5)).toEqual([id(7)])
  })

  it("a target given in uppercase is still excluded", () => {
    const index = new XorIndex()
    const a = "ab".repeat(20)
    index.add(a)
    index.add(id(1))
    expect(index.closest(a.toUpperCase(), 5)).toEqual([id(1)])
  })

  it("equals brute force on many random sets (sizes 0..300, k 0..20, member and non-member targets)", () => {
    const random = prng(13)
    let checks = 0
    for (let round = 0; round < 400; round++) {
      const size = round < 301 ? round : Math.floor(random() * 301)
      const index = new XorIndex()
      const members: Array<string> = []
      // half the rounds cluster ids around a centre so long shared prefixes are common
      const centre = randomId(random)
      const clustered = round % 2 === 1
      while (members.length < size) {
        const x = clustered ? idWithPrefix(centre, Math.floor(random() * 160), random) : randomId(random)
        if (index.add(x)) members.push(x)
      }
      const targets = [randomId(random), clustered ? idWithPrefix(centre, 150 + Math.floor(random() * 10), random) : centre]
      if (size > 0) {
        targets.push(members[Math.floor(random() * size)]!, members[0]!, members[size - 1]!)
        targets.push(index.values()[0]!, index.values()[size - 1]!)
      }
      targets.push("0".repeat(40), "f".repeat(40))
      for (const target of targets) {
        for (const k of [0, 1, 2, Math.floor(random() * 21), 20]) {
          expect(index.closest(target, k)).toEqual(bruteClosest(members, target, k))
          checks++
        }
      }
    }
    expect(checks).toBeGreaterThan(5000)
  })

  it("equals brute force on adversarial sets: dense runs, neighbours and a member of the complement", () => {
    const random = prng(14)
    for (let round = 0; round < 100; round++) {
      const base = big(randomId(random)) & ~0xffffn
      const index = new XorIndex()
      const members: Array<string> = []
      const size = 1 + Math.floor(random() * 200)
      while (members.length < size) {
        const x = id(base + BigInt(Math.floor(random() * 0x400)))
        if (index.add(x)) members.push(x)
      }
      // a far member, on the other side of the top bit
      const far = id(base ^ (1n << 159n))
      if (index.add(far)) members.push(far)
      for (let j = 0; j < 10; j++) {
        const target = random() < 0.5 ? members[Math.floor(random() * members.length)]! : id(base + BigInt(Math.floor(random() * 0x500)))
        for (const k of [1, 3, 8, 20, members.length, members.length + 5]) {
          expect(index.closest(target, k)).toEqual(bruteClosest(members, target, k))
        }
      }
    }
  })

  it("stays right after removals", () => {
    const random = prng(15)
    const index = new XorIndex()
    const members = new Set<string>()
    for (let i = 0; i < 300; i++) {
      const x = randomId(random)
      index.add(x)
      members.add(x)
    }
    for (let step = 0; step < 200; step++) {
      const victim = index.at(Math.floor(random() * index.size))!
      index.remove(victim)
      members.delete(victim)
      const target = random() < 0.5 ? randomId(random) : victim
      const k = Math.floor(random() * 21)
      expect(index.closest(target, k)).toEqual(bruteClosest([...members], target, k))
    }
  })
})
