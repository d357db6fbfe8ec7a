import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Dht } from "../../src/services/Dht.ts"
import { readBody } from "../../src/storage/build.ts"
import { dhtKeyOf, SLOT_INFO, slotAad } from "../../src/storage/record.ts"
import { verifyRecord } from "../../src/storage/verify.ts"
import { waitFor } from "../support/memoryMesh.ts"
import { eventsOf, startStorageMesh } from "./support.ts"

const reason = <A>(e: Effect.Effect<A, { readonly _tag: string; readonly reason?: string }>) =>
  Effect.map(Effect.flip(e), (x) => (x._tag === "StorageError" ? x.reason ?? "" : x._tag))

describe("distributed storage on a memory network of 10 nodes", () => {
  it.live("private: owner and grantee read, others and raw DHT holders get nothing; revoke re-keys", () =>
    Effect.gen(function*() {
      const peers = yield* startStorageMesh(10)
      const [owner, bob, carol, dave] = [peers[0]!, peers[1]!, peers[2]!, peers[3]!]
      const receipt = yield* owner.storage.store("user:profile", { name: "Ada", secret: "s3cr3t" }, { allowedPeers: [bob.id] })
      assert.deepStrictEqual(receipt, { key: "user:profile", version: 1 })
      assert.deepStrictEqual(yield* owner.storage.retrieve("user:profile"), { name: "Ada", secret: "s3cr3t" })
      assert.deepStrictEqual(yield* bob.storage.retrieve("user:profile"), { name: "Ada", secret: "s3cr3t" })
      assert.isNull(yield* carol.storage.retrieve("user:profile"))
      // the holders store the record and cannot read it: nothing of the value in what they hold
      const holders = yield* owner.node.run(Dht.use((d) => d.holders(dhtKeyOf("user:profile"))))
      assert.isAtLeast(holders.length, 1)
      for (const h of peers.filter((p) => holders.includes(p.node.peerId))) {
        const raw = JSON.stringify(yield* h.node.run(Dht.use((d) => d.get(dhtKeyOf("user:profile")))))
        assert.isFalse(raw.includes("s3cr3t") || raw.includes("Ada"))
        if (h !== owner && h !== bob) assert.isNull(yield* h.storage.retrieve("user:profile"))
      }
      // a grant later: carol reads; the info says who
      yield* carol.storage.subscribe("user:profile")
      yield* bob.storage.subscribe("user:profile")
      const granted = yield* owner.storage.grantAccess("user:profile", carol.id)
      assert.strictEqual(granted.version, 2)
      assert.deepStrictEqual(yield* carol.storage.retrieve("user:profile"), { name: "Ada", secret: "s3cr3t" })
      const info = yield* dave.storage.getKeyInfo("user:profile")
      assert.deepStrictEqual([info?.owner, info?.space, info?.accessible, [...(info?.allowedPeers ?? [])].sort()], [owner.id, "private", false, [bob.id, carol.id].sort()])
      yield* waitFor("carol told of her grant", Effect.sync(() => eventsOf(carol, "AccessGranted", "user:profile").some((e) => e.peerId === carol.id)))

      // revoke bob, then update: bob cannot read the new version, even with the old content key
      const raw = (key: string) => Effect.flatMap(owner.node.run(Dht.use((d) => d.get(dhtKeyOf(key)))), (json) => Effect.map(verifyRecord(json), (v) => (v.ok ? v.record : undefined)))
      const v2 = (yield* raw("user:profile"))!
      const bobSlot = v2.acl.readers.find((s) => s.to === bob.id)!
      const oldKey = yield* bob.crypto.unseal(bobSlot.box, slotAad("user:profile", owner.id, v2.acl.epoch, bob.id), SLOT_INFO)
      const revoked = yield* owner.storage.revokeAccess("user:profile", bob.id)
      assert.strictEqual(revoked.version, 3)
      yield* owner.storage.update("user:profile", { name: "Ada", secret: "n3w" })
      assert.isNull(yield* bob.storage.retrieve("user:profile"))
      const v4 = (yield* raw("user:profile"))!
      assert.strictEqual(v4.version, 4)
      assert.isUndefined(v4.acl.readers.find((s) => s.to === bob.id))
      assert.strictEqual(yield* readBody(v4, oldKey, () => Effect.succeed(undefined)), "decrypt-failed")
      // ...while the old key did open the old version (so the check above is not vacuous)
      assert.notStrictEqual(typeof (yield* readBody(v2, oldKey, () => Effect.succeed(undefined))), "string")
      assert.deepStrictEqual(yield* carol.storage.retrieve("user:profile"), { name: "Ada", secret: "n3w" })
      const info2 = yield* owner.storage.getKeyInfo("user:profile")
      assert.strictEqual(info2?.epoch, 1)
      yield* waitFor("bob told of the revocation", Effect.sync(() => eventsOf(bob, "AccessRevoked", "user:profile").some((e) => e.peerId === bob.id)))
      // carol (a subscriber, not the writer) saw the update with its value and author
      yield* waitFor("carol saw the update", Effect.sync(() => eventsOf(carol, "Updated", "user:profile").some((e) => e.version === 4)))
      const update = eventsOf(carol, "Updated", "user:profile").find((e) => e.version === 4)!
      assert.deepStrictEqual([update.value, update.by], [{ name: "Ada", secret: "n3w" }, owner.id])
      // bob saw no value of version 4
      assert.isFalse(eventsOf(bob, "Updated", "user:profile").some((e) => e.version >= 4))
      // only the owner grants, revokes, deletes
      assert.strictEqual(yield* reason(carol.storage.grantAccess("user:profile", dave.id)), "not-owner")
      assert.strictEqual(yield* reason(carol.storage.delete("user:profile")), "not-owner")
      assert.strictEqual(yield* reason(carol.storage.update("user:profile", 1)), "not-writer")
      // delete: everyone subscribed hears it; reads give null
      assert.isTrue(yield* owner.storage.delete("user:profile"))
      assert.isFalse(yield* owner.storage.delete("user:profile"))
      assert.isNull(yield* carol.storage.retrieve("user:profile"))
      yield* waitFor("carol saw the delete", Effect.sync(() => eventsOf(carol, "Deleted", "user:profile").length === 1))
      assert.deepStrictEqual(yield* owner.storage.listKeys(), [])
    }).pipe(Effect.scoped), 120_000)
})
