/** Capacity rules (pure): which link goes when a peer is over maxPeers. */
import { describe, expect, it } from "vitest"
import { type CapacityInput, evictionFor, overCapacityVictim, spareOf, victimFor } from "../../src/internal/capacity.ts"

const id = (hex: string) => hex.padEnd(40, "0")
const self = id("8")

const input = (connected: Array<string>, extra: Partial<CapacityInput<string>> = {}): CapacityInput<string> => ({
  self,
  connected,
  kept: new Set(),
  media: new Set(),
  maxPeers: 2,
  minPeers: 1,
  evictionStrategy: true,
  degreeOf: () => undefined,
  ...extra
})

describe("capacity", () => {
  it("a closer newcomer (one XOR bucket closer) pushes out the farthest link; a merely closer one is dropped", () => {
    // 81.. shares 7 bits with 80..; 01.. and 02.. share none
    expect(victimFor(input([id("01"), id("02"), id("81")]), id("81"), false)).toBe(id("02"))
    expect(victimFor(input([id("81"), id("82"), id("03")]), id("03"), false)).toBe(id("03"))
    expect(victimFor(input([id("01"), id("02"), id("81")], { evictionStrategy: false }), id("81"), false)).toBe(id("81"))
  })

  it("protected and media links never go; a protected newcomer takes the farthest other link", () => {
    const kept = new Set([id("81")])
    expect(victimFor(input([id("01"), id("02"), id("81")], { kept, media: new Set([id("02")]) }), id("81"), false)).toBe(id("01"))
    expect(evictionFor(input([id("01"), id("02")], { media: new Set([id("01"), id("02")]) }), [id("01"), id("02")], id("81"))).toBeUndefined()
  })

  it("a bridge takes the place of a neighbour known to keep minPeers without us", () => {
    const degrees = new Map([[id("01"), 1], [id("02"), 3]])
    const c = input([id("01"), id("02"), id("03")], { degreeOf: (p) => degrees.get(p) })
    expect(spareOf(c, [id("01"), id("02")])).toBe(id("02"))
    expect(victimFor(c, id("03"), true)).toBe(id("02"))
    expect(victimFor(input([id("01"), id("02"), id("03")]), id("03"), true)).toBe(id("03"))
  })

  it("over capacity: the farthest unprotected link, else the farthest without media", () => {
    expect(overCapacityVictim(input([id("01"), id("81"), id("82")], { kept: new Set([id("01")]) }))).toBe(id("82"))
    expect(overCapacityVictim(input([id("01"), id("81")], { kept: new Set([id("01"), id("81")]), media: new Set([id("01")]) }))).toBe(id("81"))
    expect(overCapacityVictim(input([id("01")], { media: new Set([id("01")]) }))).toBeUndefined()
  })
})
