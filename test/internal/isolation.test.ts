import { assert, describe, it } from "@effect/vitest"
import { chooseTargets } from "../../src/internal/isolation.ts"
import { prng, randomId } from "../support/random.ts"

const id = (prefix: string) => prefix.padEnd(40, "0")

/** XOR distance as a 40-hex string: for equal-length hex, string order is numeric order. */
const xorHex = (a: string, b: string) =>
  Array.from(a, (c, i) => (parseInt(c, 16) ^ parseInt(b.charAt(i), 16)).toString(16)).join("")

describe("chooseTargets", () => {
  // self = 0x80..; ids below it are natural targets (self is greater and initiates).
  const self = id("8")
  const naturalFar = id("7f") // natural, XOR distance 0xff.. (numerically adjacent, XOR-farthest)
  const naturalNear = id("0") // natural, XOR distance 0x80..
  const naturalMid = id("4") // natural, XOR distance 0xc0..
  const otherNear = id("81") // not natural, XOR distance 0x01..
  const otherFar = id("c") // not natural, XOR distance 0x40..
  const all = [naturalFar, naturalNear, naturalMid, otherNear, otherFar]

  it("dials only natural targets, XOR-closest first", () => {
    const other = id("9") // connected, not natural
    assert.deepStrictEqual(chooseTargets(self, all, [other], { maxPeers: 10 }), [naturalNear, naturalMid, naturalFar])
  })

  it("fills only the free slots", () => {
    const other = id("9")
    assert.deepStrictEqual(chooseTargets(self, all, [other], { maxPeers: 3 }), [naturalNear, naturalMid])
    assert.deepStrictEqual(chooseTargets(self, all, [other], { maxPeers: 2 }), [naturalNear])
  })

  it("dials nothing at exactly maxPeers, or above it", () => {
    assert.deepStrictEqual(chooseTargets(self, all, [id("9"), id("a")], { maxPeers: 2 }), [])
    assert.deepStrictEqual(chooseTargets(self, all, [id("9"), id("a"), id("b")], { maxPeers: 2 }), [])
    assert.deepStrictEqual(chooseTargets(self, all, [], { maxPeers: 0 }), [])
  })

  it("attempts take slots and are not dialled again", () => {
    assert.deepStrictEqual(chooseTargets(self, all, [], { maxPeers: 3, attempting: [naturalNear] }), [naturalMid, naturalFar])
    assert.deepStrictEqual(chooseTargets(self, all, [id("9")], { maxPeers: 3, attempting: [naturalNear] }), [naturalMid])
    assert.deepStrictEqual(chooseTargets(self, all, [id("9")], { maxPeers: 2, attempting: [naturalNear] }), [])
  })

  it("an id both connected and attempting takes one slot", () => {
    assert.deepStrictEqual(chooseTargets(self, all, [naturalNear], { maxPeers: 2, attempting: [naturalNear] }), [naturalMid])
  })

  it("excludes connected ids, self and duplicates", () => {
    const discovered = [self, naturalMid, naturalMid, naturalNear, naturalNear, otherNear]
    assert.deepStrictEqual(chooseTargets(self, discovered, [naturalNear], { maxPeers: 10 }), [naturalMid])
  })

  it("isolated: natural targets first, then the closest of the rest", () => {
    assert.deepStrictEqual(
      chooseTargets(self, all, [], { maxPeers: 10 }),
      [naturalNear, naturalMid, naturalFar, otherNear, otherFar]
    )
    assert.deepStrictEqual(chooseTargets(self, all, [], { maxPeers: 4 }), [naturalNear, naturalMid, naturalFar, otherNear])
    // Natural targets take precedence even when a non-natural one is closer.
    assert.deepStrictEqual(chooseTargets(self, all, [], { maxPeers: 1 }), [naturalNear])
  })

  it("isolated with no natural target: dials the XOR-closest greater ids", () => {
    const smallest = id("0")
    const discovered = [id("f"), id("1"), id("3"), id("2")]
    assert.deepStrictEqual(chooseTargets(smallest, discovered, [], { maxPeers: 2 }), [id("1"), id("2")])
  })

  it("no override while an attempt is in progress or a connection exists", () => {
    const smallest = id("0")
    const discovered = [id("f"), id("1"), id("3")]
    assert.deepStrictEqual(chooseTargets(smallest, discovered, [], { maxPeers: 5, attempting: [id("e")] }), [])
    assert.deepStrictEqual(chooseTargets(smallest, discovered, [id("e")], { maxPeers: 5 }), [])
  })

  it("self listed as connected or attempting does not count", () => {
    assert.deepStrictEqual(
      chooseTargets(self, all, [self], { maxPeers: 2, attempting: [self] }),
      [naturalNear, naturalMid],
      "still isolated, still 2 free slots"
    )
  })

  it("nothing discovered gives nothing", () => {
    assert.deepStrictEqual(chooseTargets(self, [], [], { maxPeers: 5 }), [])
  })

  it("agrees with a brute-force rule on random inputs", () => {
    const random = prng(23)
    for (let run = 0; run < 1_000; run++) {
      const me = randomId(random)
      const pool = Array.from({ length: 2 + Math.floor(random() * 12) }, () => randomId(random))
      const pick = (p: number) => pool.filter(() => random() < p)
      const discovered = [...pick(0.7), ...pick(0.2)] // duplicates on purpose
      if (random() < 0.2) discovered.push(me)
      const connected = random() < 0.3 ? [] : pick(0.2)
      const attempting = random() < 0.3 ? [] : pick(0.15)
      const maxPeers = Math.floor(random() * 8)

      const busy = [...new Set([...connected, ...attempting])]
      const slots = maxPeers - busy.length
      const candidates = [...new Set(discovered)].filter((x) => x !== me && !busy.includes(x))
      const byDistance = (xs: Array<string>) => [...xs].sort((a, b) => (xorHex(me, a) < xorHex(me, b) ? -1 : 1))
      const natural = byDistance(candidates.filter((x) => x < me))
      const rest = byDistance(candidates.filter((x) => x > me))
      const ordered = busy.length === 0 ? [...natural, ...rest] : natural
      const expected = slots > 0 ? ordered.slice(0, slots) : []

      assert.deepStrictEqual(chooseTargets(me, discovered, connected, { maxPeers, attempting }), expected, `run ${run}`)
    }
  })
})
