import { describe, expect, it } from "vitest"
import { judge, newer, type RecordHeader } from "../../src/internal/dhtRecords.ts"

const rec = (over: Partial<RecordHeader> = {}): RecordHeader => ({
  key: "k",
  publisher: "a".repeat(40),
  version: 1,
  ts: 100,
  expiresAt: 1000,
  writable: false,
  ...over
})

describe("DHT record rules", () => {
  it("accepts a new key and a newer version from the publisher", () => {
    expect(judge(undefined, rec())).toBe("accept")
    expect(judge(rec(), rec({ version: 2 }))).toBe("accept")
  })
  it("refuses a newer version from someone else unless writable", () => {
    const other = "b".repeat(40)
    expect(judge(rec(), rec({ version: 2, publisher: other }))).toBe("unauthorized")
    expect(judge(rec({ writable: true }), rec({ version: 2, publisher: other }))).toBe("accept")
  })
  it("calls older versions stale, and a same-version copy by another writer stale", () => {
    expect(judge(rec({ version: 3 }), rec({ version: 2 }))).toBe("stale")
    expect(judge(rec({ writable: true }), rec({ publisher: "b".repeat(40), ts: 200 }))).toBe("stale")
  })
  it("treats a later signature of the same version as a refresh, and an identical one as nothing new", () => {
    expect(judge(rec(), rec({ ts: 200, expiresAt: 2000 }))).toBe("refresh")
    expect(judge(rec(), rec())).toBe("same")
    expect(judge(rec({ ts: 200 }), rec({ ts: 100 }))).toBe("same")
  })
  it("orders copies by version, then by signature time", () => {
    const v1 = rec()
    const v2 = rec({ version: 2 })
    const v1late = rec({ ts: 300 })
    expect(newer(v1, v2)).toBe(v2)
    expect(newer(v2, v1)).toBe(v2)
    expect(newer(v1, v1late)).toBe(v1late)
    expect(newer(undefined, v1)).toBe(v1)
    expect(newer(v1, undefined)).toBe(v1)
    expect(newer(undefined, undefined)).toBeUndefined()
  })
})
