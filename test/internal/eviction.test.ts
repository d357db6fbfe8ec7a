import { assert, describe, it } from "@effect/vitest"
import { chooseEviction } from "../../src/internal/eviction.ts"
import { prng, randomId } from "../support/random.ts"

/** An id from a short hex prefix, padded with `fill`. */
const id = (prefix: string, fill = "0") => prefix.padEnd(40, fill)

/** XOR distance as a 40-hex string: for equal-length hex, string order is numeric order. */
const xorHex = (a: string, b: string) =>
  Array.from(a, (c, i) => (parseInt(c, 16) ^ parseInt(b.charAt(i), 16)).toString(16)).join("")

describe("chooseEviction", () => {
  const self = id("0")
  const near = id("01")
  const mid = id("1")
  const far = id("f")

  it("evicts the farthest peer when full and the candidate is closer", () => {
    assert.strictEqual(chooseEviction(self, [near, far, mid], id("02"), { maxPeers: 3, minPeers: 1 }), far)
    assert.strictEqual(chooseEviction(self, [far, near], id("8"), { maxPeers: 2, minPeers: 0 }), far)
  })

  it("does nothing below maxPeers", () => {
    assert.isUndefined(chooseEviction(self, [near, far], id("02"), { maxPeers: 3, minPeers: 0 }))
    assert.isUndefined(chooseEviction(self, [], id("02"), { maxPeers: 1, minPeers: 0 }))
  })

  it("also evicts when over maxPeers", () => {
    assert.strictEqual(chooseEviction(self, [near, far, mid], id("02"), { maxPeers: 2, minPeers: 0 }), far)
  })

  it("keeps the peers when the candidate is farther than the farthest", () => {
    assert.isUndefined(chooseEviction(self, [near, mid], id("2"), { maxPeers: 2, minPeers: 0 }))
    assert.isUndefined(chooseEviction(self, [near, mid], id("1", "f"), { maxPeers: 2, minPeers: 0 }))
  })

  it("needs the candidate strictly closer: one just inside the farthest is enough", () => {
    const farthest = id("1", "0").slice(0, 39) + "1"
    const justCloser = id("1")
    assert.strictEqual(chooseEviction(self, [near, farthest], justCloser, { maxPeers: 2, minPeers: 0 }), farthest)
  })

  it("never evicts for self or an already connected candidate", () => {
    assert.isUndefined(chooseEviction(self, [near, far], self, { maxPeers: 2, minPeers: 0 }))
    assert.isUndefined(chooseEviction(self, [near, far], near, { maxPeers: 2, minPeers: 0 }))
    // far is the farthest: "evicting it for itself" must not happen either.
    assert.isUndefined(chooseEviction(self, [near, far], far, { maxPeers: 2, minPeers: 0 }))
  })

  it("measures by XOR, not by numeric difference", () => {
    const me = id("8")
    const numericNeighbour = id("7", "f") // 1 below me numerically, XOR distance 0xff..f
    const xorNeighbour = id("9") // XOR distance 0x10..0
    const candidate = id("81")
    assert.strictEqual(
      chooseEviction(me, [xorNeighbour, numericNeighbour], candidate, { maxPeers: 2, minPeers: 0 }),
      numericNeighbour
    )
  })

  it("ignores self and duplicates in connected when counting", () => {
    assert.isUndefined(chooseEviction(self, [self, far], id("02"), { maxPeers: 2, minPeers: 0 }))
    assert.isUndefined(chooseEviction(self, [far, far], id("02"), { maxPeers: 2, minPeers: 0 }))
    assert.strictEqual(chooseEviction(self, [self, far, near], id("02"), { maxPeers: 2, minPeers: 0 }), far)
  })

  it("boundaries: maxPeers 1 with minPeers 0, maxPeers 0", () => {
    assert.strictEqual(chooseEviction(self, [far], near, { maxPeers: 1, minPeers: 0 }), far)
    assert.isUndefined(chooseEviction(self, [], near, { maxPeers: 0, minPeers: 0 }))
    assert.strictEqual(chooseEviction(self, [far], near, { maxPeers: 0, minPeers: 0 }), far)
  })

  it("never leaves fewer than minPeers (binding when minPeers exceeds maxPeers)", () => {
    const peers = [near, mid, far]
    assert.isUndefined(chooseEviction(self, peers, id("02"), { maxPeers: 2, minPeers: 4 }))
    assert.strictEqual(chooseEviction(self, peers, id("02"), { maxPeers: 2, minPeers: 3 }), far)
    assert.strictEqual(chooseEviction(self, [...peers, id("3")], id("02"), { maxPeers: 2, minPeers: 4 }), far)
  })

  it("agrees with a brute-force rule on random inputs", () => {
    const random = prng(17)
    for (let run = 0; run < 1_000; run++) {
      const me = randomId(random)
      const connected = Array.from({ length: Math.floor(random() * 8) }, () => randomId(random))
      const candidate = random() < 0.1 && connected.length > 0 ? connected[0] ?? me : randomId(random)
      const maxPeers = Math.floor(random() * 8)
      const minPeers = Math.floor(random() * 10)
      const byDistance = [...connected].sort((a, b) => (xorHex(me, a) < xorHex(me, b) ? 1 : -1))
      const farthest = byDistance[0]
      const expected =
        farthest !== undefined &&
        !connected.includes(candidate) &&
        connected.length >= maxPeers &&
        connected.length >= minPeers &&
        xorHex(me, candidate) < xorHex(me, farthest)
          ? farthest
          : undefined
      assert.strictEqual(chooseEviction(me, connected, candidate, { maxPeers, minPeers }), expected, `run ${run}`)
    }
  })
})
