import { describe, expect, it } from "vitest"
import { isLong, otherHalfPoint, protectedLinks, wantsLongLink } from "../../src/internal/protectedLinks.ts"
import { randomPeerId } from "../../src/schema/PeerId.ts"

const self = "4" + "0".repeat(39) // 0100...
const near1 = "5" + "0".repeat(39) // shares 3 bits
const near2 = "6" + "0".repeat(39) // shares 2 bits
const far1 = "8" + "0".repeat(39) // shares none
const far2 = "9" + "0".repeat(39) // shares none, farther (1101 vs 1100)

describe("protectedLinks", () => {
  it("a long link is one to the other half of the id space", () => {
    expect(isLong(self, far1)).toBe(true)
    expect(isLong(self, near2)).toBe(false)
    expect(isLong(far2, self)).toBe(true) // symmetric
  })

  it("keeps every ring link and the farthest long one", () => {
    expect([...protectedLinks(self, [near1, near2, far1, far2], new Set([near1]), 4)].sort()).toEqual([far2, near1].sort())
  })

  it("a long ring link is a ring link; another long link is still kept", () => {
    expect([...protectedLinks(self, [far1, far2, near2], new Set([far2]), 4)].sort()).toEqual([far1, far2].sort())
  })

  it("no long link below maxPeers 3 (both slots go to the ring)", () => {
    expect(wantsLongLink(2)).toBe(false)
    expect([...protectedLinks(self, [far1, near1], new Set([near1]), 2)]).toEqual([near1])
  })

  it("nothing protected without ring or long links", () => {
    expect(protectedLinks(self, [near1, near2], new Set(), 5).size).toBe(0)
  })

  it("a long link aims at a random point of the other half: every such point is long, and they spread", () => {
    expect(otherHalfPoint(self, "f" + "a".repeat(39))).toBe("f" + "a".repeat(39))
    expect(otherHalfPoint(self, "3" + "a".repeat(39))).toBe("b" + "a".repeat(39))
    expect(otherHalfPoint(far1, "f" + "a".repeat(39))).toBe("7" + "a".repeat(39))
    const points = Array.from({ length: 200 }, () => otherHalfPoint(randomPeerId()))
    for (let i = 0; i < 200; i++) {
      const from = randomPeerId()
      const point = otherHalfPoint(from)
      expect(point).toMatch(/^[0-9a-f]{40}$/)
      expect(isLong(from, point)).toBe(true)
    }
    // the first hex digit of random points takes many values (not one complement)
    expect(new Set(points.map((p) => p[0])).size).toBeGreaterThan(10)
  })
})
