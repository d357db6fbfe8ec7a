import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Dht } from "../../src/services/Dht.ts"
import { dhtKeyOf, INLINE_BYTES, isChunked, MAX_VALUE_BYTES } from "../../src/storage/record.ts"
import { verifyRecord } from "../../src/storage/verify.ts"
import { startStorageMesh } from "./support.ts"

const reason = <A>(e: Effect.Effect<A, { readonly _tag: string; readonly reason?: string }>) =>
  Effect.map(Effect.flip(e), (x) => (x._tag === "StorageError" ? x.reason ?? "" : x._tag))

describe("storage limits on a memory network of 8 nodes", () => {
  it.live("large values go to chunks and read back; over the maximum is ValueTooLarge; readers and documents are bounded", () =>
    Effect.gen(function*() {
      const peers = yield* startStorageMesh(8, { maxDocuments: 3, maxReaders: 3 })
      const [owner, reader] = [peers[0]!, peers[1]!]
      // a private value of ~100 KB: four chunks of ciphertext, read back whole by the reader
      const big = { text: "x".repeat(100_000), n: 1 }
      yield* owner.storage.store("big", big, { allowedPeers: [reader.id] })
      const raw = yield* owner.node.run(Dht.use((d) => d.get(dhtKeyOf("big"))))
      const v = yield* verifyRecord(raw)
      assert.isTrue(v.ok && isChunked(v.record.body) && v.record.body.chunks.length === Math.ceil((100_000 + 16 + 13) / (32 * 1024)))
      assert.isTrue(JSON.stringify(raw).length < 64 * 1024)
      assert.deepStrictEqual(yield* reader.storage.retrieve("big"), big)
      assert.isNull(yield* peers[2]!.storage.retrieve("big"))
      // a public one too, updated in place (the old chunks are dropped)
      yield* owner.storage.store("big-public", { text: "y".repeat(INLINE_BYTES * 2) }, { space: "public" })
      yield* owner.storage.update("big-public", { text: "z".repeat(INLINE_BYTES * 3) })
      assert.deepStrictEqual(yield* peers[3]!.storage.retrieve("big-public"), { text: "z".repeat(INLINE_BYTES * 3) })
      // over the maximum
      const tooBig = yield* Effect.flip(owner.storage.store("huge", "h".repeat(MAX_VALUE_BYTES)))
      assert.strictEqual(tooBig._tag, "ValueTooLarge")
      // readers per record (the owner counts)
      assert.strictEqual(yield* reason(owner.storage.store("many", 1, { allowedPeers: peers.slice(1, 4).map((p) => p.id) })), "too-many-readers")
      // bad input
      assert.strictEqual(yield* reason(owner.storage.store("", 1)), "invalid")
      assert.strictEqual(yield* reason(owner.storage.store("k".repeat(300), 1)), "invalid")
      assert.strictEqual(yield* reason(owner.storage.store("crdt-scalar", 5, { enableCRDT: true, space: "public" })), "invalid")
      yield* owner.storage.store("three", 1, { allowedPeers: peers.slice(1, 3).map((p) => p.id) })
      assert.strictEqual(yield* reason(owner.storage.grantAccess("three", peers[4]!.id)), "too-many-readers")
      // documents per peer: big, big-public, three
      assert.strictEqual(yield* reason(owner.storage.store("fourth", 1, { space: "public" })), "too-many-documents")
      assert.isTrue(yield* owner.storage.delete("three"))
      yield* owner.storage.store("fourth", 1, { space: "public" })
    }).pipe(Effect.scoped), 120_000)
})
