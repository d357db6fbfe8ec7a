import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Y from "yjs"
import { MemoryNetwork } from "../../src/layers/MemoryNetwork.ts"
import type { PeerId } from "../../src/schema/PeerId.ts"
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
