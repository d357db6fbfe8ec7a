/**
 * The Router's route knowledge (`layers/router/routing.ts`, no effects): routes from broadcasts
 * and routed messages, landmarks from presence, and the home landmark a copy heads for when no
 * hop knows the target.
 */
import { describe, expect, it } from "vitest"
import { makeRouting } from "../../src/layers/router/routing.ts"
import type { DirectFrame } from "../../src/schema/PeerFrames.ts"
import type { PeerId } from "../../src/schema/PeerId.ts"
import type { Delivered } from "../../src/services/Gossip.ts"

const id = (hexDigit: string) => hexDigit.repeat(40) as PeerId
const self = id("8")
const routing = () => makeRouting({ self, repairWindow: 30_000, xorRouting: () => true })

const broadcast = (origin: PeerId, via: PeerId, content: Delivered["content"] = 1, kind = "message"): Delivered => ({
  id: `${origin}-${Math.random()}`,
  kind,
  origin,
  content,
  hops: 3,
  ttl: 10,
  timestamp: 0,
  verified: true,
  via
})

const frame = (to: PeerId, extra: Partial<DirectFrame> = {}): DirectFrame => ({
  t: "direct",
  kind: "message",
  to,
  flood: false,
  id: "m1",
  origin: id("f"),
  key: "k",
  ts: 0,
  ttl: 100,
  hops: 0,
  content: null,
  sig: "s",
  ...extra
})

describe("routing", () => {
  it("a broadcast's first arrival gives its origin's route; a landmark's presence makes it a home", () => {
    const r = routing()
    const landmark = id("1")
    r.fromBroadcast(broadcast(landmark, id("2"), { d: 2, m: 3, l: 20_000 }, "presence"), 0)
    expect(r.homeOf(id("0"), 1000)).toBe(landmark)
    const to = id("0")
    const { hops, home, homeRoute } = r.choices(frame(to), [id("2"), id("9")], undefined, undefined, 1000)
    expect(homeRoute).toBe(id("2"))
    expect(home).toBe(landmark)
    expect(hops[0]?.peer).toBe(id("2"))
  })

  it("a copy keeps the home its first hop chose, and a route to the target itself wins over it", () => {
    const r = routing()
    r.fromBroadcast(broadcast(id("1"), id("2"), { l: 20_000 }, "presence"), 0)
    r.fromBroadcast(broadcast(id("3"), id("9"), { l: 20_000 }, "presence"), 0)
    // hinted home 3 (not the closest landmark to 0 in this hop's view): kept
    const hinted = r.choices(frame(id("0"), { home: id("3") }), [id("2"), id("9")], undefined, undefined, 1000)
    expect(hinted.homeRoute).toBe(id("9"))
    r.fromRouted(id("0"), id("a"), 1000, [id("2"), id("9"), id("a")])
    const direct = r.choices(frame(id("0"), { home: id("3") }), [id("2"), id("9"), id("a")], undefined, undefined, 1000)
    expect(direct.hops[0]?.peer).toBe(id("a"))
    expect(direct.homeRoute).toBeUndefined()
  })

  it("routed messages fill in routes but never replace a fresh one over a current neighbour", () => {
    const r = routing()
    const origin = id("5")
    r.fromBroadcast(broadcast(origin, id("2")), 0)
    r.fromRouted(origin, id("9"), 10, [id("2"), id("9")])
    expect(r.choices(frame(origin), [id("2"), id("9")], undefined, undefined, 20).hops[0]?.peer).toBe(id("2"))
    // the neighbour of the old route left: the routed one replaces it
    r.fromRouted(origin, id("9"), 30, [id("9")])
    expect(r.choices(frame(origin), [id("9")], undefined, undefined, 40).hops[0]?.peer).toBe(id("9"))
  })

  it("routes go stale after LANDMARK_GRACE landmark intervals (at least repairWindow)", () => {
    const r = routing()
    // to 5 from 8: greedy XOR would pick 2 (5^2 < 5^9); the route says 9
    r.fromBroadcast(broadcast(id("5"), id("9")), 0)
    expect(r.choices(frame(id("5")), [id("2"), id("9")], undefined, undefined, 29_999).hops[0]?.peer).toBe(id("9"))
    expect(r.choices(frame(id("5")), [id("2"), id("9")], undefined, undefined, 30_001).hops[0]?.peer).toBe(id("2"))
    // a landmark with a 60 s interval keeps routes fresh for 180 s
    r.fromBroadcast(broadcast(id("1"), id("9"), { l: 60_000 }, "presence"), 30_001)
    r.fromBroadcast(broadcast(id("5"), id("9")), 30_001)
    expect(r.choices(frame(id("5")), [id("2"), id("9")], undefined, undefined, 30_001 + 170_000).hops[0]?.peer).toBe(id("9"))
  })

  it("a landmark's presence with a non-numeric interval does not make it a landmark", () => {
    const r = routing()
    r.fromBroadcast(broadcast(id("1"), id("2"), { l: "soon" }, "presence"), 0)
    r.fromBroadcast(broadcast(id("3"), id("2"), [1, 2], "presence"), 0)
    expect(r.homeOf(id("0"), 0)).toBeUndefined()
    expect(r.landmarkOverdue(id("1"), 0)).toBeUndefined()
  })

  it("a new neighbour's landmarks give provisional homes and routes through it, never over fresher knowledge", () => {
    const r = routing()
    const known = id("1")
    r.fromBroadcast(broadcast(known, id("2"), { l: 20_000 }, "presence"), 0)
    r.fromHandoff(id("9"), [[known, 20_000], [id("3"), 20_000], [self, 20_000]], 1000)
    // the landmark heard itself keeps its route; the told one is reached through the teller
    expect(r.choices(frame(id("0"), { home: known }), [id("2"), id("9")], undefined, undefined, 1000).homeRoute).toBe(id("2"))
    const nearThree = (id("3").slice(0, 39) + "0") as PeerId
    const told = r.choices(frame(nearThree), [id("2"), id("9")], undefined, undefined, 1000)
    expect(told.home).toBe(id("3"))
    expect(told.homeRoute).toBe(id("9"))
    // this peer itself is never taken from hearsay
    expect(r.homeOf(self, 1000)).not.toBe(self)
    expect(r.landmarkOverdue(id("3"), 100_000)).toBeUndefined()
    expect(r.handoff(1000, 10).map(([l]) => l)).toEqual([known])
  })
})
