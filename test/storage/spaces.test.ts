import { assert, describe, it } from "@effect/vitest"
import { Clock, Context, Effect } from "effect"
import { Dht } from "../../src/services/Dht.ts"
import { Identity } from "../../src/services/Identity.ts"
import { signRecord } from "../../src/storage/build.ts"
import { dhtKeyOf, type StorageRecord } from "../../src/storage/record.ts"
import { verifyRecord } from "../../src/storage/verify.ts"
import { waitFor } from "../support/memoryMesh.ts"
import { eventsOf, type StorageNode, startStorageMesh } from "./support.ts"

const reason = <A>(e: Effect.Effect<A, { readonly _tag: string; readonly reason?: string }>) =>
  Effect.map(Effect.flip(e), (x) => (x._tag === "StorageError" ? x.reason ?? "" : x._tag))

/** The record under `key` as the DHT gives it, verified. */
const raw = (p: StorageNode, key: string) =>
  Effect.flatMap(p.node.run(Dht.use((d) => d.get(dhtKeyOf(key)))), (json) => Effect.map(verifyRecord(json), (v) => (v.ok ? v.record : undefined)))

/** `p` signs `record` as its own with `changes`, bypassing every check of its storage service. */
const forge = (p: StorageNode, record: StorageRecord, changes: Partial<StorageRecord>) =>
  Effect.gen(function*() {
    const identity = Context.get(p.node.context, Identity)
    const ts = yield* Clock.currentTimeMillis
    const { t: _t, v: _v, by: _by, byKey: _byKey, sig: _sig, ...fields } = { ...record, ts, ...changes }
    return yield* signRecord(identity, fields)
  })

describe("storage spaces on a memory network of 12 nodes", () => {
  it.live("frozen: nobody changes it, the owner included, through storage or straight at the DHT holders", () =>
    Effect.gen(function*() {
      const peers = yield* startStorageMesh(12)
      const [owner, mallory, reader] = [peers[0]!, peers[1]!, peers[2]!]
      yield* owner.storage.store("app:config", { v: 1 }, { isImmutable: true })
      assert.deepStrictEqual(yield* reader.storage.retrieve("app:config"), { v: 1 })
      assert.strictEqual(yield* reason(owner.storage.update("app:config", { v: 2 })), "frozen")
      assert.strictEqual(yield* reason(owner.storage.delete("app:config")), "frozen")
      assert.strictEqual(yield* reason(owner.storage.store("app:config", { v: 2 }, { isImmutable: true })), "frozen")
      assert.strictEqual(yield* reason(owner.storage.grantAccess("app:config", reader.id, { write: true })), "frozen")
      assert.strictEqual(yield* reason(mallory.storage.store("app:config", { v: 666 }, { isImmutable: true })), "not-owner")
      assert.strictEqual(yield* reason(mallory.storage.update("app:config", { v: 666 })), "frozen")
      // straight at the holders: the owner's own validly signed version 2, and a DHT delete
      const v1 = (yield* raw(owner, "app:config"))!
      const v2 = yield* forge(owner, v1, { version: 2, body: { value: { v: 2 } } })
      assert.strictEqual(yield* reason(owner.node.run(Dht.use((d) => d.put(dhtKeyOf("app:config"), v2)))), "Unauthorized")
      assert.strictEqual(yield* reason(owner.node.run(Dht.use((d) => d.delete(dhtKeyOf("app:config"))))), "Unauthorized")
      // the same version 1 with other content is not taken either
      const other = yield* forge(owner, v1, { body: { value: { v: 3 } } })
      const holders = yield* owner.node.run(Dht.use((d) => d.holders(dhtKeyOf("app:config"))))
      assert.isAtLeast(holders.length, 1)
      yield* owner.node.run(Dht.use((d) => d.put(dhtKeyOf("app:config"), other))).pipe(Effect.ignore)
      for (const p of peers) assert.deepStrictEqual(yield* p.storage.retrieve("app:config"), { v: 1 })
    }).pipe(Effect.scoped), 120_000)

  it.live("public: read by all, written by the owner and granted writers only; forged updates refused by the holders; events everywhere", () =>
    Effect.gen(function*() {
      const peers = yield* startStorageMesh(12)
      const [owner, writer, mallory, watcher] = [peers[0]!, peers[1]!, peers[2]!, peers[3]!]
      // a subscriber from before the key exists hears it stored
      assert.isNull(yield* watcher.storage.subscribe("board"))
      yield* owner.storage.store("board", { title: "plan" }, { space: "public" })
      yield* waitFor("watcher told of the store", Effect.sync(() => eventsOf(watcher, "Stored", "board").length === 1))
      assert.deepStrictEqual(eventsOf(watcher, "Stored", "board")[0]!.value, { title: "plan" })
      for (const p of peers.slice(4, 8)) assert.deepStrictEqual(yield* p.storage.retrieve("board"), { title: "plan" })
      // not granted: refused
      assert.strictEqual(yield* reason(writer.storage.update("board", { title: "mine" })), "not-writer")
      yield* owner.storage.grantAccess("board", writer.id, { write: true })
      const byWriter = yield* writer.storage.update("board", { title: "plan v2" })
      assert.strictEqual(byWriter.version, 3)
      assert.deepStrictEqual(yield* mallory.storage.retrieve("board"), { title: "plan v2" })
      // the owner (subscribed since it stored) and the watcher hear the writer's change, with its author
      for (const p of [owner, watcher]) {
        yield* waitFor("update heard", Effect.sync(() => eventsOf(p, "Updated", "board").some((e) => e.version === 3)))
        const e = eventsOf(p, "Updated", "board").find((x) => x.version === 3)!
        assert.deepStrictEqual([e.value, e.by], [{ title: "plan v2" }, writer.id])
      }
      // Mallory, not a writer, publishes straight at the holders (the record is writable at the DHT level now)
      const current = (yield* raw(mallory, "board"))!
      const forged = yield* forge(mallory, current, { version: current.version + 1, body: { value: { title: "pwned" } } })
      assert.strictEqual(yield* reason(mallory.node.run(Dht.use((d) => d.update(dhtKeyOf("board"), forged)))), "Unauthorized")
      // ...or copies the writer's signature onto other content, or claims to be the writer
      const tampered = { ...current, version: current.version + 1, body: { value: { title: "pwned" } } }
      assert.strictEqual(yield* reason(mallory.node.run(Dht.use((d) => d.update(dhtKeyOf("board"), tampered)))), "Unauthorized")
      const claimed = { ...forged, by: writer.id }
      assert.strictEqual(yield* reason(mallory.node.run(Dht.use((d) => d.update(dhtKeyOf("board"), claimed)))), "Unauthorized")
      // after revoking the writer, its writes (even re-signed under the old list) are refused
      yield* owner.storage.revokeAccess("board", writer.id)
      assert.strictEqual(yield* reason(writer.storage.update("board", { title: "late" })), "not-writer")
      const latest = (yield* raw(writer, "board"))!
      const replay = yield* forge(writer, latest, { version: latest.version + 1, acl: current.acl, body: { value: { title: "late" } } })
      yield* writer.node.run(Dht.use((d) => d.update(dhtKeyOf("board"), replay))).pipe(Effect.ignore)
      for (const p of peers) assert.deepStrictEqual(yield* p.storage.retrieve("board"), { title: "plan v2" })
      yield* waitFor("watcher heard the revocation", Effect.sync(() => eventsOf(watcher, "AccessRevoked", "board").some((e) => e.peerId === writer.id)))
    }).pipe(Effect.scoped), 120_000)
})
