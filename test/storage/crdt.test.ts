import { assert, describe, it } from "@effect/vitest"
import { Context, Effect } from "effect"
import * as Y from "yjs"
import { MemoryNetwork } from "../../src/layers/MemoryNetwork.ts"
import type { PeerId } from "../../src/schema/PeerId.ts"
import { Gossip } from "../../src/services/Gossip.ts"
import { primitives, randomBytes, toBase64Url } from "../../src/crypto/primitives.ts"
import { Dht } from "../../src/services/Dht.ts"
import { OP_KIND, opAad } from "../../src/storage/liveOps.ts"
import { dhtKeyOf, SLOT_INFO, slotAad } from "../../src/storage/record.ts"
import { verifyRecord } from "../../src/storage/verify.ts"
import { graph, isConnectedGraph, waitFor } from "../support/memoryMesh.ts"
import { prng } from "../support/random.ts"
import { startStorageMesh, type StorageNode } from "./support.ts"

/** `ops` random inserts and deletes on `text`, in bursts of `burst` (one Yjs transaction each), yielding between bursts. */
const edit = (doc: Y.Doc, seed: number, ops: number, burst = 25) =>
  Effect.gen(function*() {
    const random = prng(seed)
    const text = doc.getText("body")
    for (let done = 0; done < ops; done += burst) {
      doc.transact(() => {
        for (let i = 0; i < burst && done + i < ops; i++) {
          if (text.length > 0 && random() < 0.3) {
            const at = Math.floor(random() * text.length)
            text.delete(at, Math.min(text.length - at, 1 + Math.floor(random() * 3)))
          } else {
            text.insert(Math.floor(random() * (text.length + 1)), String.fromCharCode(97 + Math.floor(random() * 26)))
          }
        }
      })
      // typing, not a wait for a state: lets batches go out while the other writer edits
      yield* Effect.sleep(2)
    }
  })

const sorted = (o: Record<string, unknown>) => Object.keys(o).sort().map((k) => [k, o[k]])
const stateOf = (doc: Y.Doc) =>
  JSON.stringify([doc.getText("body").toJSON(), sorted(doc.getMap("value").toJSON()), [...Y.decodeStateVector(Y.encodeStateVector(doc))].sort()])

const converged = (docs: ReadonlyArray<Y.Doc>) => Effect.sync(() => new Set(docs.map(stateOf)).size === 1)

const openAll = (peers: ReadonlyArray<StorageNode>, key: string) => Effect.forEach(peers, (p) => p.storage.getDocument(key))

describe("CRDT documents on a memory network", () => {
  it.live("two writers, 3,000 random edits each, concurrent with field updates: every replica converges to the same state", () =>
    Effect.gen(function*() {
      const peers = yield* startStorageMesh(10, { batchMs: 20, syncIntervalMs: 1000 })
      const [owner, writer] = [peers[0]!, peers[1]!]
      const readers = peers.slice(2, 6)
      yield* owner.storage.store("doc:shared", { title: "draft" }, { enableCRDT: true, allowedPeers: readers.map((r) => r.id) })
      yield* owner.storage.grantAccess("doc:shared", writer.id, { write: true })
      const docs = yield* openAll([owner, writer, ...readers], "doc:shared")
      yield* Effect.all([
        edit(docs[0]!, 1, 3000),
        edit(docs[1]!, 2, 3000),
        owner.storage.update("doc:shared", { title: "final", by: "owner" }),
        writer.storage.update("doc:shared", { tags: ["a", "b"] })
      ], { concurrency: "unbounded" })
      yield* waitFor("all replicas converge", converged(docs), 60_000)
      const text = docs[0]!.getText("body").toJSON()
      assert.isAbove(text.length, 100)
      // both writers' edits are in it: each one's full clock is in everyone's state vector
      for (const d of docs) {
        const sv = Y.decodeStateVector(Y.encodeStateVector(d))
        assert.strictEqual(sv.get(docs[0]!.clientID), Y.decodeStateVector(Y.encodeStateVector(docs[0]!)).get(docs[0]!.clientID))
        assert.isTrue((sv.get(docs[1]!.clientID) ?? 0) > 0)
      }
      // concurrent updates of different fields merged instead of overwriting
      const value = yield* readers[0]!.storage.retrieve("doc:shared")
      assert.deepStrictEqual(value, { title: "final", by: "owner", tags: ["a", "b"] })
      // a peer without a grant has no document and reads nothing
      assert.isNull(yield* peers[7]!.storage.retrieve("doc:shared"))
      const denied = yield* Effect.flip(peers[8]!.storage.getDocument("doc:shared"))
      assert.strictEqual(denied._tag === "StorageError" ? denied.reason : denied._tag, "no-access")
    }).pipe(Effect.scoped), 120_000)

  it.live("live updates: edits reach subscribers as batched, encrypted gossip ops (no snapshot in between); ops signed by a reader that is not a writer are ignored", () =>
    Effect.gen(function*() {
      // snapshots only every 10 minutes: what arrives within the test came live
      const peers = yield* startStorageMesh(8, { batchMs: 20, syncIntervalMs: 600_000 })
      const [owner, reader, mallory] = [peers[0]!, peers[1]!, peers[2]!]
      yield* owner.storage.store("doc:live", { t: 1 }, { enableCRDT: true, allowedPeers: [reader.id, mallory.id] })
      const mine = yield* owner.storage.getDocument("doc:live")
      const theirs = yield* reader.storage.getDocument("doc:live")
      const hers = yield* mallory.storage.getDocument("doc:live")
      const versionBefore = (yield* owner.storage.getKeyInfo("doc:live"))!.version
      yield* edit(mine, 3, 500)
      yield* waitFor("reader has every edit", Effect.sync(() => theirs.getText("body").toJSON() === mine.getText("body").toJSON()), 30_000)
      assert.strictEqual((yield* owner.storage.getKeyInfo("doc:live"))!.version, versionBefore)
      // Mallory reads but may not write: an op she signs and sends is ignored
      yield* waitFor("mallory in sync", Effect.sync(() => hers.getText("body").toJSON() === mine.getText("body").toJSON()), 30_000)
      const gossip = Context.get(mallory.node.context, Gossip)
      const update = (() => {
        const d = new Y.Doc()
        d.getText("body").insert(0, "EVIL")
        return Y.encodeStateAsUpdate(d)
      })()
      // sealed properly under the content key she holds as a reader: only the writer check stops it
      const raw = yield* mallory.node.run(Dht.use((d) => d.get(dhtKeyOf("doc:live"))))
      const v = yield* verifyRecord(raw)
      assert.isTrue(v.ok)
      const record = v.ok ? v.record : undefined
      const slot = record!.acl.readers.find((x) => x.to === mallory.id)!
      const cek = yield* mallory.crypto.unseal(slot.box, slotAad("doc:live", owner.id, record!.acl.epoch, mallory.id), SLOT_INFO)
      const op = { key: "doc:live", owner: owner.id, epoch: record!.acl.epoch, seq: 1 }
      const iv = randomBytes(12)
      const ct = yield* primitives.seal(cek, iv, new Uint8Array(update), opAad(op, mallory.id))
      yield* gossip.publish({ v: 1, ...op, iv: toBase64Url(iv) }, OP_KIND, { payload: ct })
      // and the owner's next edit still arrives (so the op above had time to be refused)
      mine.getText("body").insert(0, "ok ")
      yield* waitFor("owner's edit after mallory's op", Effect.sync(() => theirs.getText("body").toJSON().startsWith("ok ")), 30_000)
      assert.isFalse(theirs.getText("body").toJSON().includes("EVIL"))
      assert.isFalse(mine.getText("body").toJSON().includes("EVIL"))
    }).pipe(Effect.scoped), 120_000)

  it.live("a partition with edits on both sides converges after it heals", () =>
    Effect.gen(function*() {
      const network = new MemoryNetwork({ latencyMs: 1 })
      const peers = yield* startStorageMesh(8, { batchMs: 20, syncIntervalMs: 500 }, network)
      const [owner, writer] = [peers[0]!, peers[1]!]
      yield* owner.storage.store("doc:split", { n: 0 }, { enableCRDT: true, space: "public" })
      yield* owner.storage.grantAccess("doc:split", writer.id, { write: true })
      const docs = yield* openAll(peers, "doc:split")
      yield* edit(docs[0]!, 7, 200)
      yield* waitFor("first edits everywhere", converged(docs), 30_000)
      const left = [peers[0]!, ...peers.slice(2, 5)]
      const right = [peers[1]!, ...peers.slice(5)]
      yield* network.partition([left.map((p) => p.node.peerId), right.map((p) => p.node.peerId) as Array<PeerId>])
      yield* Effect.all([edit(docs[0]!, 8, 500), edit(docs[1]!, 9, 500)], { concurrency: "unbounded" })
      // the sides differ while apart
      assert.notStrictEqual(stateOf(docs[0]!), stateOf(docs[1]!))
      network.heal()
      yield* waitFor("mesh whole again", Effect.map(graph(peers.map((p) => p.node)), isConnectedGraph), 60_000)
      yield* waitFor("all replicas converge after the heal", converged(docs), 60_000)
      assert.isTrue(docs[0]!.getText("body").length > 0)
    }).pipe(Effect.scoped), 150_000)
})
