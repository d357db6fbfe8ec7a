import { describe, expect, it } from "vitest"
import { nextHops } from "../../src/internal/nextHop.ts"
import type { PeerId } from "../../src/schema/PeerId.ts"

const id = (hexDigit: string) => hexDigit.repeat(40) as PeerId
const self = id("8")

describe("nextHops", () => {
  it("hands the message to the target when it is a neighbour, whatever else is set", () => {
    const to = id("3")
    expect(nextHops({ self, to, neighbours: [id("1"), to], flood: true, ring: false, xorRouting: true, avoid: to })[0]).toEqual({ peer: to, ring: false })
  })

  it("prefers a fresh route, then the XOR-closer neighbour, then the ring", () => {
    const to = id("0")
    const choices = nextHops({ self, to, neighbours: [id("9"), id("1"), id("c")], flood: false, ring: false, xorRouting: true, route: id("c") })
    expect(choices.map((c) => c.peer)).toEqual([id("c"), id("1")])
  })

  it("never picks the neighbour a copy came from, nor the one a retransmission avoids, by XOR", () => {
    const to = id("0")
    const choices = nextHops({ self, to, neighbours: [id("1"), id("2")], flood: false, ring: false, xorRouting: true, from: id("1"), avoid: id("2"), route: id("2") })
    expect(choices.map((c) => c.peer)).not.toContain(id("2"))
    expect(choices.find((c) => !c.ring)?.peer).toBeUndefined()
  })

  it("a flooding copy gets no routed choice; with XOR routing off only the route is used", () => {
    const to = id("0")
    expect(nextHops({ self, to, neighbours: [id("1")], flood: true, ring: false, xorRouting: true })).toEqual([])
    expect(nextHops({ self, to, neighbours: [id("1")], flood: false, ring: false, xorRouting: false, route: id("1") })).toEqual([{ peer: id("1"), ring: false }])
  })

  it("a copy on the ring stays on it (clockwise progress)", () => {
    const to = id("a")
    const choices = nextHops({ self, to, neighbours: [id("9"), id("7")], flood: false, ring: true, xorRouting: true, route: id("7") })
    expect(choices).toEqual([{ peer: id("9"), ring: true }])
  })

  it("with no route to the target, the route to its home landmark comes before greedy XOR", () => {
    const to = id("0")
    const choices = nextHops({ self, to, neighbours: [id("9"), id("1"), id("c")], flood: false, ring: false, xorRouting: true, homeRoute: id("c") })
    expect(choices.map((c) => c.peer)).toEqual([id("c"), id("1")])
    // a route to the target itself comes first; a home route over the neighbour the copy came from is not taken
    expect(nextHops({ self, to, neighbours: [id("9"), id("c")], flood: false, ring: false, xorRouting: true, route: id("9"), homeRoute: id("c") })[0]?.peer).toBe(id("9"))
    expect(nextHops({ self, to, neighbours: [id("9"), id("c")], flood: false, ring: false, xorRouting: true, from: id("c"), homeRoute: id("c") }).filter((c) => !c.ring).map((c) => c.peer)).not.toContain(id("c"))
  })
})
