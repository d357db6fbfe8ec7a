/**
 * The replication rule (internal/dhtReplication.ts) as pure functions: who stores a record on
 * whom in a maintenance pass, what a holder knows of the others, and a pass's budget.
 */
import { describe, expect, it } from "@effect/vitest"
import { HolderKnowledge, passSends, type PlanInput, planReplication } from "../../src/internal/dhtReplication.ts"

const Q = 1000
/**
 * A plan for `self` with the view closest first; `acked` and `sent` map peers to when they
 * acked this holder's store or sent it a copy.
 */
const plan = (
  self: string,
  view: Array<string>,
  known: { readonly acked?: Record<string, number>; readonly sent?: Record<string, number> },
  overrides: Partial<PlanInput<string>> = {}
) =>
  planReplication<string>({
    self,
    view,
    ackedAt: (p) => known.acked?.[p],
    sentAt: (p) => known.sent?.[p],
    settled: () => true,
    graceOver: () => false,
    now: 10_000,
    refreshInterval: Q,
    ...overrides
  })

describe("who replicates", () => {
  it("the closest holder is the primary and stores only on the peers that have not acked it", () => {
    expect(plan("a", ["a", "b", "c"], {})).toEqual({ role: "primary", targets: ["b", "c"] })
    expect(plan("a", ["a", "b", "c"], { acked: { b: 9_500 } })).toEqual({ role: "primary", targets: ["c"] })
    // a quiet network: everybody acked within refreshInterval, nothing to send
    expect(plan("a", ["a", "b", "c"], { acked: { b: 9_500, c: 9_100 } })).toEqual({ role: "primary", targets: [] })
  })

  it("the primary refreshes a peer once per refreshInterval", () => {
    expect(plan("a", ["a", "b", "c"], { acked: { b: 10_000 - Q, c: 9_999 } }).targets).toEqual(["b"])
  })

  it("a holder that got a copy from a closer peer stays quiet", () => {
    expect(plan("b", ["a", "b", "c"], { sent: { a: 9_000 } })).toEqual({ role: "deferring", targets: [] })
    expect(plan("c", ["a", "b", "c"], { sent: { b: 9_000 } })).toEqual({ role: "deferring", targets: [] })
  })

  it("a farther peer that sent a copy (a second primary) gets the primary's copy, which makes it defer", () => {
    expect(plan("a", ["a", "b", "c"], { acked: { c: 9_900 }, sent: { b: 9_900 } })).toEqual({ role: "primary", targets: ["b"] })
  })

  it("acks alone never make a holder defer: a black hole that answers stored and keeps nothing stays a target", () => {
    expect(plan("b", ["x", "b", "c"], { acked: { x: 9_990, c: 9_990 } })).toEqual({ role: "primary", targets: [] })
    expect(plan("b", ["x", "b", "c"], { acked: { x: 10_000 - Q, c: 9_990 } })).toEqual({ role: "primary", targets: ["x"] })
  })

  it("the next holder takes over when the primary is gone or silent for twice refreshInterval", () => {
    // gone: the routing table forgot it, so it is not in the view any more
    expect(plan("b", ["b", "c", "d"], { sent: { c: 9_900 } })).toEqual({ role: "primary", targets: ["c", "d"] })
    // silent: its last copy came long ago
    expect(plan("b", ["a", "b", "c"], { sent: { a: 10_000 - 2 * Q }, acked: { c: 9_900 } })).toEqual({ role: "primary", targets: ["a"] })
  })

  it("churn: a peer joining closer than every holder gets its copy from the primary at once", () => {
    expect(plan("a", ["x", "a", "b"], { acked: { b: 9_900 } })).toEqual({ role: "primary", targets: ["x"] })
    // x, now the closest, sends its copies: a defers to it
    expect(plan("a", ["x", "a", "b"], { acked: { x: 9_990, b: 9_900 }, sent: { x: 9_995 } })).toEqual({ role: "deferring", targets: [] })
  })

  it("a deferring holder stores the record once on a peer of its view it knows nothing of, after the grace passes", () => {
    const known = { sent: { a: 9_900 } }
    expect(plan("b", ["a", "b", "y"], known)).toEqual({ role: "deferring", targets: [] })
    expect(plan("b", ["a", "b", "y"], known, { graceOver: () => true })).toEqual({ role: "deferring", targets: ["y"] })
    // once y answered (or sent a copy), never again during its stay
    expect(plan("b", ["a", "b", "y"], { ...known, acked: { y: 1 } }, { graceOver: () => true })).toEqual({ role: "deferring", targets: [] })
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

  it("a holder no longer among the closest hands the record over once, unless a closer peer sent it a copy", () => {
    expect(plan("z", ["a", "b", "c"], {})).toEqual({ role: "handoff", targets: ["a", "b", "c"] })
    expect(plan("z", ["a", "b", "c"], { acked: { a: 1 } })).toEqual({ role: "handoff", targets: ["b", "c"] })
    expect(plan("z", ["a", "b", "c"], { sent: { b: 9_000 } })).toEqual({ role: "deferring", targets: [] })
  })
})

describe("holder knowledge", () => {
  it("keeps the newest version only, acks and copies apart, and ignores notes of older versions", () => {
    const k = new HolderKnowledge<string>(4, 10)
    k.note("key", 2, "p", "acked", 100)
    k.note("key", 2, "p", "sent", 150)
    expect(k.knownAt("key", 2, "p", "acked")).toBe(100)
    expect(k.knownAt("key", 2, "p", "sent")).toBe(150)
    k.note("key", 1, "q", "sent", 200)
    expect(k.knownAt("key", 1, "q", "sent")).toBeUndefined()
    expect(k.knownAt("key", 2, "q", "sent")).toBeUndefined()
    k.note("key", 3, "q", "acked", 300)
    expect(k.knownAt("key", 2, "p", "acked")).toBeUndefined()
    expect(k.knownAt("key", 3, "q", "acked")).toBe(300)
    expect(k.knownAt("key", 3, "q", "sent")).toBeUndefined()
  })

  it("is bounded per key and in keys", () => {
    const k = new HolderKnowledge<string>(2, 2)
    k.note("k1", 1, "a", "acked", 1)
    k.note("k1", 1, "b", "acked", 2)
    k.note("k1", 1, "c", "acked", 3)
    expect(k.knownAt("k1", 1, "a", "acked")).toBeUndefined()
    expect(k.knownAt("k1", 1, "c", "acked")).toBe(3)
    k.note("k2", 1, "a", "sent", 4)
    k.note("k3", 1, "a", "sent", 5)
    expect(k.size).toBe(2)
    expect(k.knownAt("k1", 1, "c", "acked")).toBeUndefined()
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
