import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Y from "yjs"
import { MemoryNetwork } from "../../src/layers/MemoryNetwork.ts"
import type { PeerId } from "../../src/schema/PeerId.ts"
import { make as makeIdentity } from "../../src/services/Identity.ts"
import { makeDirStore } from "../../src/storage/localStore.ts"
import { graph, isConnectedGraph, waitFor } from "../support/memoryMesh.ts"
import { startPeer, startStorageMesh } from "./support.ts"

const textIn = (state: Uint8Array | undefined) => {
  const doc = new Y.Doc()
  if (state !== undefined) Y.applyUpdate(doc, state)
  return doc.getText("body").toJSON()
}

describe("storage persistence in a directory", () => {
  it.live("records, content keys and offline CRDT edits survive a restart, and the edits sync once the peer is back", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "pp-storage-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      const network = new MemoryNetwork({ latencyMs: 1 })
      const others = yield* startStorageMesh(6, { syncIntervalMs: 300 }, network)
      const identity = yield* Effect.orDie(makeIdentity())
      const config = { persistence: { dir }, syncIntervalMs: 300, batchMs: 20 }
      const first = yield* startPeer(network, identity, config)
      const reader = others[0]!
      yield* waitFor("first run linked", Effect.map(graph([first.node, ...others.map((o) => o.node)]), isConnectedGraph), 30_000)
      yield* waitFor("reader's key resolvable", first.node.run(Effect.map(Effect.exit(first.storage.store("probe", 1, { allowedPeers: [reader.id] })), (e) => e._tag === "Success")), 30_000)

      yield* first.storage.store("notes", { title: "Notes" }, { enableCRDT: true, allowedPeers: [reader.id] })
      const mine = yield* first.storage.getDocument("notes")
      const theirs = yield* reader.storage.getDocument("notes")
      mine.getText("body").insert(0, "online ")
      yield* waitFor("reader has the online edit", Effect.sync(() => theirs.getText("body").toJSON() === "online "), 30_000)

      // offline: no link at all; the edit is kept locally, not published
      yield* network.partition([[first.node.peerId], others.map((o) => o.node.peerId as PeerId)])
      yield* waitFor("first peer alone", Effect.map(graph([first.node]), (g) => (g.get(first.node.peerId) ?? []).length === 0), 30_000)
      mine.getText("body").insert(7, "offline ")
      const store = yield* makeDirStore(dir)
      yield* waitFor("offline edit saved", Effect.map(store.load("d/notes"), (s) => textIn(s) === "online offline "), 10_000)
      assert.strictEqual(theirs.getText("body").toJSON(), "online ")
      yield* first.node.stop

      // restart: same identity, same directory, a new runtime (and a new encryption key)
      const second = yield* startPeer(network, identity, config)
      network.heal()
      yield* waitFor("reader gets the offline edit", Effect.sync(() => theirs.getText("body").toJSON() === "online offline "), 60_000)
      // the restarted owner still owns, reads and writes its private record (its content key was kept)
      assert.deepStrictEqual(yield* second.storage.listKeys(), ["notes", "probe"])
      assert.deepStrictEqual(yield* second.storage.retrieve("notes"), { title: "Notes" })
      yield* second.storage.update("notes", { title: "Notes v2" })
      yield* waitFor("reader sees the update", reader.storage.retrieve("notes").pipe(Effect.map((v) => JSON.stringify(v) === JSON.stringify({ title: "Notes v2" })), Effect.orElseSucceed(() => false)), 30_000)
      yield* second.node.stop
    }).pipe(Effect.scoped), 150_000)

  it.live("when the whole network restarted (an empty DHT), the owner publishes its CRDT document again from its directory", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "pp-storage-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      const identity = yield* Effect.orDie(makeIdentity())
      const config = { persistence: { dir }, syncIntervalMs: 300, batchMs: 20 }
      const before = new MemoryNetwork({ latencyMs: 1 })
      const others = yield* startStorageMesh(4, { syncIntervalMs: 300 }, before)
      const first = yield* startPeer(before, identity, config)
      yield* waitFor("linked", Effect.map(graph([first.node, ...others.map((o) => o.node)]), isConnectedGraph), 30_000)
      yield* first.storage.store("board", { title: "Board" }, { enableCRDT: true, space: "public" })
      const mine = yield* first.storage.getDocument("board")
      mine.getText("body").insert(0, "kept across a restart")
      const store = yield* makeDirStore(dir)
      yield* waitFor("saved", Effect.map(store.load("d/board"), (s) => textIn(s) === "kept across a restart"), 10_000)
      yield* first.node.stop
      yield* Effect.forEach(others, (o) => o.node.stop)

      // a new network: no DHT holds anything; the owner comes back with its directory
      const after = new MemoryNetwork({ latencyMs: 1 })
      const fresh = yield* startStorageMesh(4, { syncIntervalMs: 300 }, after)
      const second = yield* startPeer(after, identity, config)
      yield* waitFor("linked again", Effect.map(graph([second.node, ...fresh.map((o) => o.node)]), isConnectedGraph), 30_000)
      const reader = fresh[0]!
      yield* waitFor(
        "a new peer reads the document from the DHT",
        reader.storage.retrieve("board").pipe(Effect.map((v) => JSON.stringify(v) === JSON.stringify({ title: "Board" })), Effect.orElseSucceed(() => false)),
        30_000
      )
      const theirs = yield* reader.storage.getDocument("board")
      yield* waitFor("with the text", Effect.sync(() => theirs.getText("body").toJSON() === "kept across a restart"), 30_000)
      yield* second.node.stop
    }).pipe(Effect.scoped), 150_000)
})
