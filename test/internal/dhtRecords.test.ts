import { describe, expect, it } from "vitest"
import {
  chooseRecord,
  judge,
  KEY_DIRECTORY_PREFIX,
  keyDirectoryAllows,
  MAX_VERSION,
  newer,
  ownerOf,
  type RecordHeader,
  recordBytes
} from "../../src/internal/dhtRecords.ts"

const A = "a".repeat(40)
const B = "b".repeat(40)
const C = "c".repeat(40)

const rec = (over: Partial<RecordHeader> = {}): RecordHeader => ({
  key: "k",
  publisher: A,
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
  it("refuses a newer version from someone else unless writable, and then only under the same owner", () => {
    expect(judge(rec(), rec({ version: 2, publisher: B }))).toBe("unauthorized")
    expect(judge(rec(), rec({ version: 2, publisher: B, owner: A }))).toBe("unauthorized")
    expect(judge(rec({ writable: true }), rec({ version: 2, publisher: B, owner: A, writable: true }))).toBe("accept")
    // a writable key cannot be taken over: another owner is refused at any version
    expect(judge(rec({ writable: true }), rec({ version: 2, publisher: B, writable: true }))).toBe("unauthorized")
    expect(judge(rec({ writable: true }), rec({ version: 999, publisher: B }))).toBe("unauthorized")
    // only the owner turns writable off
    expect(judge(rec({ writable: true }), rec({ version: 2, publisher: B, owner: A, writable: false }))).toBe("unauthorized")
    expect(judge(rec({ writable: true }), rec({ version: 2, writable: false }))).toBe("accept")
    // the owner still writes after another peer's update
    const byB = rec({ version: 2, publisher: B, owner: A, writable: true })
    expect(judge(byB, rec({ version: 3, writable: true }))).toBe("accept")
    expect(judge(byB, rec({ version: 3, publisher: C, owner: A, writable: true }))).toBe("accept")
  })
  it("bounds version steps and range: no freezing a key at 2^53-1", () => {
    expect(judge(rec(), rec({ version: 1001 }))).toBe("accept")
    expect(judge(rec(), rec({ version: 1002 }))).toBe("unauthorized")
    expect(judge(rec({ writable: true }), rec({ version: Number.MAX_SAFE_INTEGER, publisher: B, owner: A, writable: true })))
      .toBe("unauthorized")
    expect(judge(undefined, rec({ version: Number.MAX_SAFE_INTEGER }))).toBe("unauthorized")
    expect(judge(undefined, rec({ version: MAX_VERSION + 1 }))).toBe("unauthorized")
    expect(judge(undefined, rec({ version: 0 }))).toBe("unauthorized")
    expect(judge(undefined, rec({ version: 1.5 }))).toBe("unauthorized")
    expect(judge(rec({ version: 10 }), rec({ version: 20 }), 5)).toBe("unauthorized")
  })
  it("refuses a first copy that names another owner, or itself as owner", () => {
    expect(judge(undefined, rec({ owner: B }))).toBe("unauthorized")
    expect(judge(rec(), rec({ version: 2, owner: A }))).toBe("unauthorized")
  })
  it("calls older versions stale, and a same-version copy by another writer stale", () => {
    expect(judge(rec({ version: 3 }), rec({ version: 2 }))).toBe("stale")
    expect(judge(rec({ writable: true }), rec({ publisher: B, owner: A, writable: true, ts: 200 }))).toBe("stale")
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
  it("names the owner: the publisher, or the owner an update names", () => {
    expect(ownerOf(rec())).toBe(A)
    expect(ownerOf(rec({ publisher: B, owner: A }))).toBe(A)
  })
  it("signs the owner into the bytes of an update by another peer", () => {
    const plain = new TextDecoder().decode(recordBytes({ ...rec(), value: 1, deleted: false }))
    const update = new TextDecoder().decode(recordBytes({ ...rec({ publisher: B, owner: A }), value: 1, deleted: false }))
    expect(plain.startsWith("peerpigeon-dht:v1:k:")).toBe(true)
    expect(update.startsWith(`peerpigeon-dht:v2:${A}:k:${B}:`)).toBe(true)
  })
})

describe("which copy a read returns", () => {
  const owner = (version: number) => rec({ version })
  const squatter = (version: number) => rec({ publisher: B, version })

  it("the owner most holders name wins over a higher version by another signer", () => {
    const copies = [
      { from: "h1", record: owner(3) },
      { from: "h2", record: owner(3) },
      { from: "x", record: squatter(999) }
    ]
    expect(chooseRecord(copies)).toBe(copies[0]!.record)
  })
  it("on a tie of holders, the owner whose copies start lower (a squatter jumps high)", () => {
    const copies = [{ from: "x", record: squatter(999) }, { from: "h1", record: owner(2) }]
    expect(chooseRecord(copies)?.publisher).toBe(A)
  })
  it("takes the owner's newest copy, but not a wild jump most holders do not have", () => {
    const lagging = [{ from: "h1", record: owner(4) }, { from: "h2", record: owner(5) }, { from: "h3", record: owner(5) }]
    expect(chooseRecord(lagging)?.version).toBe(5)
    const newest = [{ from: "h1", record: owner(4) }, { from: "h2", record: owner(4) }, { from: "h3", record: owner(6) }]
    expect(chooseRecord(newest)?.version).toBe(6)
    const jump = [{ from: "h1", record: owner(4) }, { from: "h2", record: owner(4) }, { from: "h3", record: owner(40_000) }]
    expect(chooseRecord(jump)?.version).toBe(4)
  })
  it("counts a writable record's updates by others under its owner", () => {
    const copies = [
      { from: "h1", record: rec({ version: 2, publisher: B, owner: A, writable: true }) },
      { from: "h2", record: rec({ version: 1, writable: true }) },
      { from: "x", record: rec({ version: 5, publisher: C, writable: true }) }
    ]
    expect(chooseRecord(copies)).toBe(copies[0]!.record)
  })
  it("is undefined without copies", () => {
    expect(chooseRecord([])).toBeUndefined()
  })
})

describe("key directory rule", () => {
  it("lets only the peer named in pp/keys/<peerId> write it, never as a writable record", () => {
    expect(keyDirectoryAllows(rec({ key: `${KEY_DIRECTORY_PREFIX}${A}` }))).toBe(true)
    expect(keyDirectoryAllows(rec({ key: `${KEY_DIRECTORY_PREFIX}${B}` }))).toBe(false)
    expect(keyDirectoryAllows(rec({ key: `${KEY_DIRECTORY_PREFIX}${A}`, writable: true }))).toBe(false)
    // an update of the peer's record by someone else (naming it as owner) is refused too
    expect(keyDirectoryAllows(rec({ key: `${KEY_DIRECTORY_PREFIX}${A}`, publisher: B, owner: A }))).toBe(false)
    expect(keyDirectoryAllows(rec({ key: `${KEY_DIRECTORY_PREFIX}${A.toUpperCase()}` }))).toBe(false)
    expect(keyDirectoryAllows(rec({ key: `${KEY_DIRECTORY_PREFIX}${A}/extra` }))).toBe(false)
  })
  it("leaves every other key to the usual rules", () => {
    expect(keyDirectoryAllows(rec({ key: "pp/key" }))).toBe(true)
    expect(keyDirectoryAllows(rec({ key: `x/${KEY_DIRECTORY_PREFIX}${B}`, writable: true }))).toBe(true)
  })
})
