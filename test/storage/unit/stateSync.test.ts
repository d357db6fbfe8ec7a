import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { BUSY_INTERVALS, snapshotDue } from "../../../src/storage/documents.ts"
import { MAX_MISSING, SeqGaps } from "../../../src/storage/liveOps.ts"
import {
  mayAnswer,
  MAX_TARGETS,
  PENDING_MS,
  readAnswer,
  readRequest,
  refuseAnswer,
  type SvAnswer,
  type SvRequest,
  targetsOf
} from "../../../src/storage/stateSync.ts"
import { makeRecord, peer } from "./support.ts"

const n = "AAAAAAAAAAAAAAAA"

describe("state-vector exchange rules", () => {
  it.effect("who is answered, whose answer is taken", () =>
    Effect.gen(function*() {
      const [owner, writer, reader, stranger] = yield* Effect.all([peer, peer, peer, peer])
      const { record } = yield* makeRecord(owner, "doc", {}, { space: "private", crdt: true, readers: [writer, reader], writers: [writer], epoch: 2 })
      const request: SvRequest = { v: 1, key: "doc", owner: owner.id, epoch: 2, n }
      // a writer answers a reader, of the same key, owner and epoch
      assert.isTrue(mayAnswer(record, request, owner.id, reader.id))
      assert.isTrue(mayAnswer(record, request, writer.id, reader.id))
      assert.isFalse(mayAnswer(record, request, reader.id, writer.id), "a reader is no writer: it does not answer")
      assert.isFalse(mayAnswer(record, request, owner.id, stranger.id), "a peer without a slot of a private record gets nothing")
      assert.isFalse(mayAnswer(record, { ...request, epoch: 1 }, owner.id, reader.id), "another epoch")
      assert.isFalse(mayAnswer(record, { ...request, owner: reader.id }, owner.id, reader.id), "another owner")
      assert.isFalse(mayAnswer(record, { ...request, key: "other" }, owner.id, reader.id), "another key")
      const pub = (yield* makeRecord(owner, "doc", {}, { space: "public", crdt: true })).record
      assert.isTrue(mayAnswer(pub, { ...request, epoch: 0 }, owner.id, stranger.id), "public: anyone reads")
      const plain = (yield* makeRecord(owner, "doc", {}, { space: "public" })).record
      assert.isFalse(mayAnswer(plain, { ...request, epoch: 0 }, owner.id, stranger.id), "not a CRDT record")

      const answer: SvAnswer = { v: 1, key: "doc", owner: owner.id, epoch: 2, n, iv: "BBBBBBBBBBBBBBBB" }
      const pending = () => ({ key: "doc", owner: owner.id, epoch: 2, asked: new Set([owner.id, writer.id]), at: 1000 })
      assert.isUndefined(refuseAnswer(pending(), answer, owner.id, record, 1000))
      assert.isUndefined(refuseAnswer(pending(), answer, writer.id, record, 1000 + PENDING_MS))
      assert.strictEqual(refuseAnswer(undefined, answer, owner.id, record, 1000), "not asked")
      assert.strictEqual(refuseAnswer(pending(), answer, owner.id, record, 1001 + PENDING_MS), "not asked")
      assert.strictEqual(refuseAnswer(pending(), answer, reader.id, record, 1000), "not asked of this peer")
      assert.strictEqual(refuseAnswer(pending(), { ...answer, key: "other" }, owner.id, record, 1000), "other request")
      assert.strictEqual(refuseAnswer(pending(), { ...answer, epoch: 3 }, owner.id, record, 1000), "other request")
      // asked, but since revoked as a writer (the record now says so): refused
      const revoked = (yield* makeRecord(owner, "doc", {}, { space: "private", crdt: true, readers: [writer, reader], epoch: 2 })).record
      assert.strictEqual(refuseAnswer(pending(), answer, writer.id, revoked, 1000), "not a writer")
      const later = (yield* makeRecord(owner, "doc", {}, { space: "private", crdt: true, readers: [writer, reader], writers: [writer], epoch: 3 })).record
      assert.strictEqual(refuseAnswer(pending(), answer, owner.id, later, 1000), "other epoch")
      const { iv: _iv, ...clear } = answer
      assert.strictEqual(refuseAnswer(pending(), clear, owner.id, record, 1000), "wrong encryption", "a private record's answer is encrypted")
      assert.strictEqual(refuseAnswer(pending(), answer, owner.id, undefined, 1000), "no document")
    }))

  it("writers to ask: the owner first, never this peer, at most MAX_TARGETS", () => {
    const w = (i: number) => String(i).repeat(40)
    assert.deepStrictEqual(targetsOf({ owner: w(1), writers: [w(2), w(3)] }, w(3)), [w(1), w(2)])
    assert.deepStrictEqual(targetsOf({ owner: w(1), writers: [] }, w(1)), [])
    assert.strictEqual(targetsOf({ owner: w(1), writers: [w(2), w(3), w(4), w(5)] }, w(9)).length, MAX_TARGETS)
  })

  it("messages from the wire: anything malformed is undefined, never a throw", () => {
    const ok = { v: 1, key: "doc", owner: "a".repeat(40), epoch: 0, n }
    assert.deepStrictEqual(readRequest(ok), ok)
    for (const bad of [null, 1, "x", [], { ...ok, v: 2 }, { ...ok, n: "short" }, { ...ok, epoch: -1 }, { ...ok, owner: "zz" }, { ...ok, key: "" }, { ...ok, key: "k".repeat(257) }]) {
      assert.isUndefined(readRequest(bad))
      assert.isUndefined(readAnswer(bad))
    }
    assert.isUndefined(readAnswer({ ...ok, iv: "not base64url!!!" }))
  })

  it("sequence gaps: a skip is reported once; numbers arriving late fill it; a restarted writer is no gap", () => {
    const g = new SeqGaps()
    assert.isFalse(g.take(5), "the first op seen")
    assert.isFalse(g.take(6))
    assert.isTrue(g.take(9))
    assert.deepStrictEqual([...g.missing].sort(), [7, 8])
    assert.isFalse(g.take(8))
    assert.isFalse(g.take(7))
    assert.strictEqual(g.missing.size, 0)
    assert.isFalse(g.take(1), "the writer restarted")
    assert.isFalse(g.take(9))
    assert.isTrue(g.take(10_000))
    assert.strictEqual(g.missing.size, MAX_MISSING, "bounded")
    assert.isTrue(g.missing.has(9_999))
  })
})

describe("snapshot timing", () => {
  it("a writer snapshots at the first interval without edits, and every BUSY_INTERVALS intervals while edited without a pause", () => {
    assert.deepStrictEqual(snapshotDue(false, 0), { due: true, busy: 0 })
    assert.deepStrictEqual(snapshotDue(false, 3), { due: true, busy: 0 })
    let busy = 0
    const dues: Array<boolean> = []
    for (let i = 0; i < 2 * BUSY_INTERVALS; i++) {
      const next = snapshotDue(true, busy)
      busy = next.busy
      dues.push(next.due)
    }
    assert.deepStrictEqual(dues.map((d, i) => (d ? i : -1)).filter((i) => i >= 0), [BUSY_INTERVALS - 1, 2 * BUSY_INTERVALS - 1])
  })
})
