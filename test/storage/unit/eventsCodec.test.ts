import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Y from "yjs"
import { docValue, encodeJson, hasMoreThan, setFields } from "../../../src/storage/codec.ts"
import { eventsOf } from "../../../src/storage/events.ts"
import { readOp } from "../../../src/storage/liveOps.ts"
import { makeDirStore, makeMemoryStore } from "../../../src/storage/localStore.ts"
import { MAX_VALUE_BYTES } from "../../../src/storage/record.ts"
import { makeRecord, peer } from "./support.ts"

describe("storage events, codec, live ops, local stores", () => {
  it.effect("events of a new version follow from the one seen before", () =>
    Effect.gen(function*() {
      const owner = yield* peer
      const bob = yield* peer
      const carol = yield* peer
      const v1 = (yield* makeRecord(owner, "k", { a: 1 }, { space: "private", readers: [bob] })).record
      const v2 = (yield* makeRecord(owner, "k", { a: 2 }, { space: "private", readers: [bob, carol], writers: [carol], version: 2, rev: 1 })).record
      const v3 = (yield* makeRecord(owner, "k", { a: 2 }, { space: "private", readers: [carol], version: 3, rev: 2, epoch: 1 })).record
      const seen = (record: typeof v1, value: unknown, readable = true) => ({ record, value: value as never, readable })
      assert.deepStrictEqual(eventsOf(undefined, seen(v1, { a: 1 })).map((e) => e._tag), ["Stored"])
      const e2 = eventsOf(seen(v1, { a: 1 }), seen(v2, { a: 2 }))
      assert.deepStrictEqual(e2.map((e) => [e._tag, "peerId" in e ? e.peerId : "", "write" in e ? e.write : ""]), [["AccessGranted", carol.id, true], ["Updated", "", ""]])
      // bob removed, carol loses write: two revocations; the same value is no update
      const e3 = eventsOf(seen(v2, { a: 2 }), seen(v3, { a: 2 }))
      assert.deepStrictEqual(e3.map((e) => [e._tag, "peerId" in e ? e.peerId : ""]).sort(), [["AccessRevoked", bob.id], ["AccessRevoked", carol.id]].sort())
      // a peer that cannot read gets no update
      assert.deepStrictEqual(eventsOf(seen(v1, null, false), seen(v2, null, false)).map((e) => e._tag), ["AccessGranted"])
      const tomb = (yield* makeRecord(owner, "k", null, { space: "public", version: 4 })).record
      assert.deepStrictEqual(eventsOf(seen(v3, 1), seen({ ...tomb, body: { deleted: true } }, null)).map((e) => e._tag), ["Deleted"])
    }))

  it.effect("codec: JSON bounds, CRDT fields, what a document has beyond another", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* Effect.flip(encodeJson("k", "x".repeat(MAX_VALUE_BYTES)))). _tag, "ValueTooLarge")
      const cyclic: Record<string, unknown> = {}
      cyclic.self = cyclic
      assert.strictEqual((yield* Effect.flip(encodeJson("k", cyclic as never)))._tag, "StorageError")
      const a = new Y.Doc()
      assert.strictEqual((yield* Effect.flip(setFields("k", a, [1, 2], null))).reason, "invalid")
      yield* setFields("k", a, { x: 1, y: [1] }, null)
      const b = new Y.Doc()
      Y.applyUpdate(b, Y.encodeStateAsUpdate(a))
      assert.deepStrictEqual(docValue(b), { x: 1, y: [1] })
      assert.isFalse(hasMoreThan(a, Y.encodeStateAsUpdate(b)))
      a.getText("t").insert(0, "abc")
      assert.isTrue(hasMoreThan(a, Y.encodeStateAsUpdate(b)))
      Y.applyUpdate(b, Y.encodeStateAsUpdate(a))
      // a deletion alone shows too (state vectors do not change on delete)
      a.getText("t").delete(0, 1)
      assert.isTrue(hasMoreThan(a, Y.encodeStateAsUpdate(b)))
      assert.isTrue(hasMoreThan(a, new Uint8Array([1, 2, 3])))
    }))

  it.effect("live op content is decoded strictly; local stores keep bytes by name", () =>
    Effect.gen(function*() {
      const op = { v: 1, key: "k", owner: "a".repeat(40), epoch: 0, seq: 1 }
      assert.deepStrictEqual(readOp(op), op)
      assert.isUndefined(readOp({ ...op, owner: "x" }))
      assert.isUndefined(readOp({ ...op, epoch: -1 }))
      assert.isUndefined(readOp({ ...op, iv: "short" }))
      assert.isUndefined(readOp("junk"))
      const dir = mkdtempSync(join(tmpdir(), "pp-store-"))
      try {
        for (const store of [makeMemoryStore(), yield* makeDirStore(dir)]) {
          yield* store.save("d/doc:é/1", new Uint8Array([1, 2, 3]))
          yield* store.save("o/x", new Uint8Array([9]))
          assert.deepStrictEqual([...(yield* store.load("d/doc:é/1"))!], [1, 2, 3])
          assert.deepStrictEqual(yield* store.list("d/"), ["d/doc:é/1"])
          yield* store.remove("d/doc:é/1")
          assert.isUndefined(yield* store.load("d/doc:é/1"))
          assert.deepStrictEqual(yield* store.list("d/"), [])
        }
        // a second store on the same directory reads what the first wrote
        assert.deepStrictEqual([...(yield* (yield* makeDirStore(dir)).load("o/x"))!], [9])
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    }))
})
