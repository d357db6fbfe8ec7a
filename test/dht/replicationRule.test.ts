/**
 * The replication rule (internal/dhtReplication.ts) as pure functions: who stores a record on
 * whom in a maintenance pass, what a holder knows of the others, and a pass's budget.
 */
import { describe, expect, it } from "@effect/vitest"
import { HolderKnowledge, passSends, type PlanInput, planReplication } from "../../src/internal/dhtReplication.ts"

const Q = 1000
/** A view of the record's closest peers, "a" closest; `known` maps peers to when they were known to hold it. */
const plan = (self: string, view: Array<string>, known: Record<string, number>, overrides: Partial<PlanInput<string>> = {}) =>
  planReplication<string>({
    self,
    view,
    knownAt: (p) => known[p],
    settled: () => true,
    now: 10_000,
    refreshInterval: Q,
    ...overrides
  })

describe("who replicates", () => {
  it("the closest holder is the primary and stores only on the peers not known to hold it", () => {
    expect(plan("a", ["a", "b", "c"], {})).toEqual({ role: "primary", targets: ["b", "c"] })
    expect(plan("a", ["a", "b", "c"], { b: 9_500 })).toEqual({ role: "primary", targets: ["c"] })
    // a quiet network: everybody known within refreshInterval, nothing to send
    expect(plan("a", ["a", "b", "c"], { b: 9_500, c: 9_100 })).toEqual({ role: "primary", targets: [] })
  })

  it("the primary refreshes a peer once per refreshInterval", () => {
    expect(plan("a", ["a", "b", "c"], { b: 10_000 - Q, c: 9_999 }).targets).toEqual(["b"])
  })

  it("a holder with a closer peer known to hold the record stays quiet", () => {
    expect(plan("b", ["a", "b", "c"], { a: 9_000 })).toEqual({ role: "deferring", targets: [] })
    expect(plan("c", ["a", "b", "c"], { b: 9_000 })).toEqual({ role: "deferring", targets: [] })
  })

  it("the next holder takes over when the primary is gone or silent for twice refreshInterval", () => {
    // gone: the routing table forgot it, so it is not in the view any more
    expect(plan("b", ["b", "c", "d"], { c: 9_900 })).toEqual({ role: "primary", targets: ["d"] })
    // silent (a hostile primary keeping the record to itself): known only long ago
    expect(plan("b", ["a", "b", "c"], { a: 10_000 - 2 * Q, c: 9_900 })).toEqual({ role: "primary", targets: ["a"] })
  })

  it("churn: a peer joining closer than every holder gets its copy from the primary at once", () => {
    // x is new: the old primary a still has no closer known holder, and x is not known to hold it
    expect(plan("a", ["x", "a", "b"], { b: 9_900 })).toEqual({ role: "primary", targets: ["x"] })
    // once x answered, a defers to it
    expect(plan("a", ["x", "a", "b"], { x: 9_990, b: 9_900 })).toEqual({ role: "deferring", targets: [] })
  })

  it("after a new version from its publisher, only the closest holder sends until the primary's copy came", () => {
    expect(plan("a", ["a", "b", "c"], {}, { justPublished: true })).toEqual({ role: "primary", targets: ["b", "c"] })
    expect(plan("b", ["a", "b", "c"], {}, { justPublished: true })).toEqual({ role: "deferring", targets: [] })
    // the primary's copy did not come (it holds nothing, or is gone): the next one takes over
    expect(plan("b", ["a", "b", "c"], {}, { justPublished: false })).toEqual({ role: "primary", targets: ["a", "c"] })
  })

  it("a peer that just entered the routing table waits one pass", () => {
    const settled = (p: string) => p !== "x"
    expect(plan("a", ["x", "a", "b"], {}, { settled })).toEqual({ role: "primary", targets: ["b"] })
  })

  it("a holder no longer among the closest hands the record over once, unless a closer peer has it", () => {
    expect(plan("z", ["a", "b", "c"], {})).toEqual({ role: "handoff", targets: ["a", "b", "c"] })
    expect(plan("z", ["a", "b", "c"], { a: 10_000 - 3 * Q })).toEqual({ role: "handoff", targets: ["b", "c"] })
    expect(plan("z", ["a", "b", "c"], { b: 9_000 })).toEqual({ role: "deferring", targets: [] })
  })
})

describe("holder knowledge", () => {
  it("keeps the newest version only, and ignores notes of older ones", () => {
    const k = new HolderKnowledge<string>(4, 10)
    k.note("key", 2, "p", 100)
    expect(k.knownAt("key", 2, "p")).toBe(100)
    k.note("key", 1, "q", 200)
    expect(k.knownAt("key", 1, "q")).toBeUndefined()
    expect(k.knownAt("key", 2, "q")).toBeUndefined()
    k.note("key", 3, "q", 300)
    expect(k.knownAt("key", 2, "p")).toBeUndefined()
    expect(k.knownAt("key", 3, "q")).toBe(300)
  })

  it("is bounded per key and in keys", () => {
    const k = new HolderKnowledge<string>(2, 2)
    k.note("k1", 1, "a", 1)
    k.note("k1", 1, "b", 2)
    k.note("k1", 1, "c", 3)
    expect(k.knownAt("k1", 1, "a")).toBeUndefined()
    expect(k.knownAt("k1", 1, "c")).toBe(3)
    k.note("k2", 1, "a", 4)
    k.note("k3", 1, "a", 5)
    expect(k.size).toBe(2)
    expect(k.knownAt("k1", 1, "c")).toBeUndefined()
    k.forget("k3")
    expect([...k.keys()]).toEqual(["k2"])
  })
})

describe("a pass's stores", () => {
  it("take at most the budget, the record that did not fit first in the next pass", () => {
    const targets = [["a"], ["b", "c"], [], ["d"], ["e", "f"]]
    const first = passSends(targets, 0, 2)
    expect(first).toEqual({ sends: [[0, "a"]], next: 1 })
    const second = passSends(targets, first.next, 3)
    expect(second).toEqual({ sends: [[1, "b"], [1, "c"], [3, "d"]], next: 4 })
    expect(passSends(targets, second.next, 10)).toEqual({ sends: [[4, "e"], [4, "f"], [0, "a"], [1, "b"], [1, "c"], [3, "d"]], next: 4 })
    expect(passSends([], 3, 10)).toEqual({ sends: [], next: 0 })
  })

  it("a record with more targets than the whole budget gets as many as fit", () => {
    expect(passSends([["a", "b", "c"]], 0, 2)).toEqual({ sends: [[0, "a"], [0, "b"]], next: 0 })
  })
})
