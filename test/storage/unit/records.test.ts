import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { readBody, signAcl, signRecord } from "../../../src/storage/build.ts"
import { holderAccepts } from "../../../src/storage/holder.ts"
import { chunkKeyOf, dhtKeyOf, INLINE_BYTES, isChunked, slotAad, type StorageRecord } from "../../../src/storage/record.ts"
import { checkRecord, checkSuccession } from "../../../src/storage/rules.ts"
import { verifyRecord } from "../../../src/storage/verify.ts"
import { makeRecord, peer } from "./support.ts"

/** A DHT record as a holder sees it. */
const dht = (r: StorageRecord, extra: { publisher?: string; owner?: string; version?: number; deleted?: boolean } = {}) => ({
  key: dhtKeyOf(r.key),
  value: r as unknown,
  publisher: extra.publisher ?? r.by,
  ...(extra.owner === undefined ? {} : { owner: extra.owner }),
  version: extra.version ?? r.version,
  deleted: extra.deleted ?? false,
  expiresAt: 10_000,
  ts: 1000,
  writable: true
})

const why = (input: unknown) => Effect.map(verifyRecord(input), (v) => (v.ok ? "ok" : v.why))

describe("storage records", () => {
  it.effect("private: owner and readers open the content key and body; others hold nothing to open", () =>
    Effect.gen(function*() {
      const owner = yield* peer
      const bob = yield* peer
      const eve = yield* peer
      const { record } = yield* makeRecord(owner, "user:profile", { name: "Ada" }, { space: "private", readers: [bob] })
      assert.strictEqual(yield* why(record), "ok")
      assert.isFalse(JSON.stringify(record).includes("Ada"))
      for (const p of [owner, bob]) {
        const slot = record.acl.readers.find((s) => s.to === p.id)!
        const cek = yield* p.crypto.unseal(slot.box, slotAadOf(record, p.id), "st-slot")
        const plain = yield* readBody(record, cek, () => Effect.succeed(undefined))
        assert.deepStrictEqual(JSON.parse(new TextDecoder().decode(plain as Uint8Array)), { name: "Ada" })
      }
      assert.isUndefined(record.acl.readers.find((s) => s.to === eve.id))
      // a body opened without its key, or under the wrong key, does not give the value
      assert.strictEqual(yield* readBody(record, undefined, () => Effect.succeed(undefined)), "no-key")
      assert.strictEqual(yield* readBody(record, new Uint8Array(32), () => Effect.succeed(undefined)), "decrypt-failed")
      // ciphertext moved to another version (or key) does not open: the associated data binds them
      const slot = record.acl.readers.find((s) => s.to === owner.id)!
      const cek = yield* owner.crypto.unseal(slot.box, slotAadOf(record, owner.id), "st-slot")
      assert.strictEqual(yield* readBody({ ...record, version: 2 }, cek, () => Effect.succeed(undefined)), "decrypt-failed")
      assert.strictEqual(yield* readBody({ ...record, key: "other" }, cek, () => Effect.succeed(undefined)), "decrypt-failed")
    }))

  it.effect("forgeries are refused: a changed field, a foreign signature, an access list not the owner's", () =>
    Effect.gen(function*() {
      const owner = yield* peer
      const mallory = yield* peer
      const { record } = yield* makeRecord(owner, "k", { v: 1 })
      assert.strictEqual(yield* why({ ...record, body: { value: { v: 666 } } }), "bad-signature")
      assert.strictEqual(yield* why({ ...record, version: 2 }), "bad-signature")
      assert.strictEqual(yield* why({ ...record, acl: { ...record.acl, writers: [mallory.id] } }), "bad-acl-signature")
      // Mallory signs a whole record naming the owner's list: she is not a writer
      const byMallory = yield* signRecord(mallory.identity, { key: "k", space: "public", crdt: false, acl: record.acl, version: 2, ts: 1, body: { value: 666 } })
      assert.strictEqual(yield* why(byMallory), "not-writer")
      // Mallory signs her own list claiming the owner's id
      const fakeAcl = yield* signAcl(mallory.identity, "k", "public", false, { epoch: 0, rev: 1, readers: [], writers: [] })
      const claimed = { ...fakeAcl, owner: owner.id }
      const forged = yield* signRecord(mallory.identity, { key: "k", space: "public", crdt: false, acl: claimed, version: 2, ts: 1, body: { value: 666 } })
      assert.strictEqual(yield* why(forged), "not-writer")
      const forged2 = { ...forged, acl: { ...claimed, writers: [mallory.id] } }
      assert.strictEqual(yield* why(forged2), "bad-acl-signature")
      // shapes and bounds
      assert.strictEqual(yield* why({ ...record, t: "x" }), "malformed")
      assert.strictEqual(yield* why("not json at all"), "malformed")
      assert.strictEqual(yield* why({ ...record, key: "x".repeat(300) }), "malformed")
      assert.strictEqual(yield* why(null), "malformed")
    }))

  it.effect("who may write which space", () =>
    Effect.gen(function*() {
      const owner = yield* peer
      const writer = yield* peer
      const other = yield* peer
      // public: owner and granted writers
      const pub = yield* makeRecord(owner, "p", 1, { writers: [writer] })
      assert.isUndefined(checkRecord(pub.record))
      const byWriter = yield* makeRecord(owner, "p", 2, { writers: [writer], by: writer, version: 2 })
      assert.isUndefined(checkRecord(byWriter.record))
      assert.isUndefined(checkSuccession(pub.record, byWriter.record))
      const byOther = yield* makeRecord(owner, "p", 2, { writers: [writer], by: other, version: 2 })
      assert.strictEqual(checkRecord(byOther.record), "not-writer")
      // a writer may not delete
      const tomb = yield* signRecord(writer.identity, { ...pub.record, version: 2, body: { deleted: true } })
      assert.strictEqual(checkRecord(tomb), "tombstone-by-writer")
      // frozen: version 1, plaintext, nobody else listed; nothing ever replaces it
      const frozen = yield* makeRecord(owner, "f", { a: 1 }, { space: "frozen" })
      assert.isUndefined(checkRecord(frozen.record))
      const frozen2 = yield* makeRecord(owner, "f", { a: 2 }, { space: "frozen", version: 2 })
      assert.strictEqual(checkRecord(frozen2.record), "bad-space")
      const asPublic = yield* makeRecord(owner, "f", { a: 2 }, { space: "public", version: 2 })
      assert.strictEqual(checkSuccession(frozen.record, asPublic.record), "frozen")
      const frozenWriters = yield* makeRecord(owner, "f", 1, { space: "frozen", writers: [writer] })
      assert.strictEqual(checkRecord(frozenWriters.record), "bad-space")
      // private: the owner and every writer are readers
      const priv = yield* makeRecord(owner, "s", 1, { space: "private", readers: [writer], writers: [writer] })
      assert.isUndefined(checkRecord(priv.record))
      const writerNotReader = yield* makeRecord(owner, "s", 1, { space: "private", writers: [writer] })
      assert.strictEqual(checkRecord(writerNotReader.record), "bad-space")
      // succession: versions grow, access lists never go back, a writer carries the owner's list
      const v2 = yield* makeRecord(owner, "p", 3, { writers: [writer], version: 2, rev: 1 })
      assert.strictEqual(checkSuccession(v2.record, pub.record), "not-newer")
      const oldList = yield* makeRecord(owner, "p", 4, { writers: [writer], by: writer, version: 3, rev: 0 })
      assert.strictEqual(checkSuccession(v2.record, oldList.record), "old-acl")
      const sameRevOtherList = yield* makeRecord(owner, "p", 4, { writers: [], version: 3, rev: 1 })
      assert.strictEqual(checkSuccession(v2.record, sameRevOtherList.record), "acl-forked")
      const space = yield* makeRecord(owner, "p", 4, { space: "private", version: 3, rev: 2 })
      assert.strictEqual(checkSuccession(v2.record, space.record), "changed-kind")
    }))

  it.effect("holders: storage records judged without reading them; frozen never replaced; chunks by hash", () =>
    Effect.gen(function*() {
      const owner = yield* peer
      const writer = yield* peer
      const mallory = yield* peer
      const frozen = yield* makeRecord(owner, "app:config", { v: 1 }, { space: "frozen" })
      assert.isTrue(yield* holderAccepts(undefined, dht(frozen.record)))
      // the owner itself cannot change it: not a new version, not the same version with other content, not a DHT delete
      const again = yield* makeRecord(owner, "app:config", { v: 2 }, { space: "frozen" })
      assert.isFalse(yield* holderAccepts(dht(frozen.record), dht(again.record)))
      assert.isTrue(yield* holderAccepts(dht(frozen.record), dht(frozen.record)))
      const pub = yield* makeRecord(owner, "app:config", { v: 2 }, { version: 2 })
      assert.isFalse(yield* holderAccepts(dht(frozen.record), dht(pub.record)))
      assert.isFalse(yield* holderAccepts(dht(frozen.record), { ...dht(frozen.record), version: 2, deleted: true, value: null }))
      // a record published by someone other than its signer, at another version, or for another key
      const p1 = yield* makeRecord(owner, "p", 1, { writers: [writer] })
      assert.isFalse(yield* holderAccepts(undefined, dht(p1.record, { publisher: mallory.id })))
      assert.isFalse(yield* holderAccepts(undefined, dht(p1.record, { version: 2 })))
      assert.isFalse(yield* holderAccepts(undefined, { ...dht(p1.record), key: "pp/st/other" }))
      // a granted writer's update is taken; a non-writer's is not
      const w2 = yield* makeRecord(owner, "p", 2, { writers: [writer], by: writer, version: 2 })
      assert.isTrue(yield* holderAccepts(dht(p1.record), dht(w2.record, { owner: owner.id })))
      const m2 = yield* makeRecord(owner, "p", 2, { writers: [writer], by: mallory, version: 2 })
      assert.isFalse(yield* holderAccepts(dht(p1.record), dht(m2.record, { owner: owner.id })))
      // other keys are not the storage layer's business
      assert.isTrue(yield* holderAccepts(undefined, { ...dht(p1.record), key: "plain-key", value: 1 }))
      // large values go to chunks, checked by hash
      const big = yield* makeRecord(owner, "big", { text: "x".repeat(INLINE_BYTES * 2) }, { space: "private" })
      assert.isTrue(isChunked(big.record.body))
      assert.isTrue(big.chunks.length >= 2)
      const c = big.chunks[0]!
      const chunk = { key: chunkKeyOf(owner.id, c.hash), value: c.text, publisher: owner.id, version: 1, deleted: false, expiresAt: 1, ts: 1, writable: false }
      assert.isTrue(yield* holderAccepts(undefined, chunk))
      assert.isFalse(yield* holderAccepts(undefined, { ...chunk, value: big.chunks[1]!.text }))
      assert.isFalse(yield* holderAccepts(undefined, { ...chunk, publisher: mallory.id }))
      assert.isFalse(yield* holderAccepts(undefined, { ...chunk, version: 2 }))
      // the chunks read back into the value, and a missing or swapped chunk is noticed
      const byHash = new Map(big.chunks.map((x) => [x.hash, x.text]))
      const plain = yield* readBody(big.record, big.cek, (h) => Effect.succeed(byHash.get(h)))
      assert.strictEqual((JSON.parse(new TextDecoder().decode(plain as Uint8Array)) as { text: string }).text.length, INLINE_BYTES * 2)
      assert.strictEqual(yield* readBody(big.record, big.cek, () => Effect.succeed(undefined)), "missing-chunk")
      assert.strictEqual(yield* readBody(big.record, big.cek, () => Effect.succeed(big.chunks[0]!.text)), "bad-chunk")
    }))
})

const slotAadOf = (r: StorageRecord, reader: string) => slotAad(r.key, r.acl.owner, r.acl.epoch, reader)
