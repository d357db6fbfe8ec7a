import { describe, expect, it } from "vitest"
import { isLong, protectedLinks, wantsLongLink } from "../../src/internal/protectedLinks.ts"

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
})
