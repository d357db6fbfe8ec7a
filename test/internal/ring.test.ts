import { describe, expect, it } from "vitest"
import { clockwiseDistance, ringNeighbours, ringOf } from "../../src/internal/ring.ts"
import { XorIndex } from "../../src/internal/xorIndex.ts"
import { prng, randomId } from "../support/random.ts"

const id = (n: number) => n.toString(16).padStart(40, "0")

describe("ringNeighbours", () => {
  it("has no neighbours alone, one neighbour (both sides) with one other", () => {
    expect(ringNeighbours(id(5), [])).toEqual({ pred: undefined, succ: undefined })
    expect(ringNeighbours(id(5), [id(5)])).toEqual({ pred: undefined, succ: undefined })
    expect(ringNeighbours(id(5), [id(9)])).toEqual({ pred: id(9), succ: id(9) })
    expect([...ringOf(id(5), [id(9), id(9)])]).toEqual([id(9)])
  })

  it("picks the ids just below and above, wrapping at both ends", () => {
    const ids = [id(10), id(20), id(30), id(40)]
    expect(ringNeighbours(id(25), ids)).toEqual({ pred: id(20), succ: id(30) })
    expect(ringNeighbours(id(20), ids)).toEqual({ pred: id(10), succ: id(30) })
    expect(ringNeighbours(id(10), ids)).toEqual({ pred: id(40), succ: id(20) })
    expect(ringNeighbours(id(40), ids)).toEqual({ pred: id(30), succ: id(10) })
    expect(ringNeighbours(id(5), ids)).toEqual({ pred: id(40), succ: id(10) })
  })

  it("the ring links of every member form one cycle through all of them", () => {
    const random = prng(3)
    const ids = Array.from({ length: 200 }, () => randomId(random))
    const edges = new Set<string>()
    for (const me of ids) for (const other of ringOf(me, ids)) edges.add([me, other].sort().join("-"))
    expect(edges.size).toBe(ids.length)
    // walk succ from the first id: it visits everyone before coming back
    const seen = new Set<string>()
    let at = ids[0]!
    while (!seen.has(at)) {
      seen.add(at)
      at = ringNeighbours(at, ids).succ!
    }
    expect(seen.size).toBe(ids.length)
    expect(at).toBe(ids[0])
  })

  it("agrees with XorIndex.ringNeighbours, for members and non-members", () => {
    const random = prng(11)
    const index = new XorIndex()
    const ids = Array.from({ length: 100 }, () => randomId(random))
    for (const i of ids) index.add(i)
    for (const probe of [...ids.slice(0, 30), ...Array.from({ length: 30 }, () => randomId(random))]) {
      expect(index.ringNeighbours(probe)).toEqual(ringNeighbours(probe, ids))
    }
    const small = new XorIndex()
    expect(small.ringNeighbours(id(1))).toEqual({ pred: undefined, succ: undefined })
    small.add(id(1))
    expect(small.ringNeighbours(id(1))).toEqual({ pred: undefined, succ: undefined })
    expect(small.ringNeighbours(id(2))).toEqual({ pred: id(1), succ: id(1) })
  })
})

describe("clockwiseDistance", () => {
  it("measures up the ring, wrapping past the largest id", () => {
    expect(clockwiseDistance(id(10), id(30))).toBe(20n)
    expect(clockwiseDistance(id(30), id(30))).toBe(0n)
    expect(clockwiseDistance(id(30), id(10))).toBe((1n << 160n) - 20n)
  })

  it("greedy forwarding by it along ring links reaches every target", () => {
    const random = prng(9)
    const ids = Array.from({ length: 64 }, () => randomId(random))
    for (const target of ids.slice(0, 8)) {
      for (const start of ids) {
        let at = start
        let hops = 0
        while (at !== target) {
          const next = [...ringOf(at, ids)].reduce((a, b) => (clockwiseDistance(a, target) < clockwiseDistance(b, target) ? a : b))
          expect(clockwiseDistance(next, target)).toBeLessThan(clockwiseDistance(at, target))
          at = next
          hops++
        }
        expect(hops).toBeLessThan(ids.length)
      }
    }
  })
})
