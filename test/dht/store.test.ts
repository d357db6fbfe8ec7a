// The holder's record store and watch leases: quotas, caps, maxTtl, eviction order.
import { describe, expect, it } from "vitest"
import type { RecordHeader } from "../../src/internal/dhtRecords.ts"
import { RecordStore, type StoreLimits, WatchLeases } from "../../src/layers/dht/store.ts"

const limits: StoreLimits = {
  maxRecords: 10,
  maxBytes: 1000,
  maxRecordsPerPublisher: 4,
  maxBytesPerPublisher: 400,
  farCacheSize: 2,
  maxTtl: 10_000
}

const rec = (key: string, publisher: string, over: Partial<RecordHeader> = {}): RecordHeader => ({
  key,
  publisher,
  version: 1,
  ts: 0,
  expiresAt: 5000,
  writable: false,
  ...over
})

describe("RecordStore", () => {
  it("keeps each publisher within its record and byte quota", () => {
    const store = new RecordStore(limits)
    for (let i = 0; i < 4; i++) expect(store.put(rec(`a${i}`, "A"), 10, true, 0)).toBe("ok")
    expect(store.put(rec("a4", "A"), 10, true, 0)).toBe("quota")
    // replacing one of its own keys is not a new record
    expect(store.put(rec("a0", "A", { version: 2 }), 10, true, 0)).toBe("ok")
    expect(store.usage("A")).toEqual({ records: 4, bytes: 40 })
    expect(store.put(rec("b0", "B"), 401, true, 0)).toBe("quota")
    expect(store.put(rec("b0", "B"), 400, true, 0)).toBe("ok")
    expect(store.size).toBe(5)
    expect(store.bytes).toBe(440)
  })

  it("when full, the heaviest other publisher loses its oldest record; a publisher never pushes out lighter ones", () => {
    const store = new RecordStore({ ...limits, maxRecords: 6, maxRecordsPerPublisher: 6 })
    for (let i = 0; i < 5; i++) store.put(rec(`x${i}`, "X"), 50, true, 0)
    expect(store.put(rec("h0", "H"), 10, true, 0)).toBe("ok")
    // full: H is light, X heavy: X's oldest goes
    expect(store.put(rec("h1", "H"), 10, true, 0)).toBe("ok")
    expect(store.get("x0", 0)).toBeUndefined()
    expect(store.get("x1", 0)).toBeDefined()
    // X may not push out H: H holds less than X would
    expect(store.put(rec("x9", "X"), 50, true, 0)).toBe("quota")
    expect(store.get("h0", 0)).toBeDefined()
    expect(store.size).toBe(6)
  })

  it("cuts expiries to maxTtl from arrival, and sweeps expired records", () => {
    const store = new RecordStore(limits)
    store.put(rec("far-future", "A", { ts: 1000, expiresAt: 32_503_680_000_000 }), 10, true, 1000)
    expect(store.expiryOf("far-future")).toBe(11_000)
    // a copy arriving later lives no longer than maxTtl after it was signed
    store.put(rec("replicated", "A", { ts: 0, expiresAt: 32_503_680_000_000 }), 10, true, 5000)
    expect(store.expiryOf("replicated")).toBe(10_000)
    expect(store.get("far-future", 10_999)).toBeDefined()
    expect(store.get("far-future", 11_000)).toBeUndefined()
    store.put(rec("soon", "A", { expiresAt: 2000 }), 10, true, 1000)
    expect(store.expiryOf("soon")).toBe(2000)
    expect(store.sweep(11_000)).toBe(3)
    expect(store.size).toBe(0)
    expect(store.usage("A")).toEqual({ records: 0, bytes: 0 })
  })

  it("keeps far keys only in a small cache, and never re-replicates them", () => {
    const store = new RecordStore(limits)
    store.put(rec("near", "A"), 10, true, 0)
    for (let i = 0; i < 3; i++) store.put(rec(`far${i}`, "B"), 10, false, 0)
    expect(store.get("far0", 0)).toBeUndefined()
    expect(store.get("far1", 0)).toBeDefined()
    expect(store.get("far2", 0)).toBeDefined()
    expect(store.nearRecords(0).map((r) => r.key)).toEqual(["near"])
    // a far copy of a key held near stays near
    store.put(rec("near", "A", { version: 2 }), 10, false, 0)
    expect(store.nearRecords(0).map((r) => r.version)).toEqual([2])
  })
})

describe("WatchLeases", () => {
  it("leases end unless renewed", () => {
    const leases = new WatchLeases<string>({ lease: 100, maxPerPeer: 10, maxTotal: 10 })
    expect(leases.watch("k", "p", 0)).toBe(true)
    expect(leases.watchers("k", 50)).toEqual(["p"])
    expect(leases.watch("k", "p", 90)).toBe(true)
    expect(leases.watchers("k", 150)).toEqual(["p"])
    expect(leases.watchers("k", 190)).toEqual([])
    leases.sweep(190)
    expect(leases.size).toBe(0)
  })

  it("caps watches per peer and in all; an ended lease frees its place", () => {
    const leases = new WatchLeases<string>({ lease: 100, maxPerPeer: 2, maxTotal: 3 })
    expect(leases.watch("k1", "p", 0)).toBe(true)
    expect(leases.watch("k2", "p", 0)).toBe(true)
    expect(leases.watch("k3", "p", 0)).toBe(false)
    expect(leases.watch("k1", "q", 0)).toBe(true)
    expect(leases.watch("k2", "r", 0)).toBe(false)
    leases.unwatch("k1", "p")
    expect(leases.watch("k2", "r", 0)).toBe(true)
    expect(leases.size).toBe(3)
    // once the leases run out, a new watch finds room
    expect(leases.watch("k9", "s", 200)).toBe(true)
    expect(leases.size).toBe(1)
  })
})
