import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, PubSub } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Y from "yjs"
import { MemoryNetwork } from "../../src/layers/MemoryNetwork.ts"
import type { PeerId } from "../../src/schema/PeerId.ts"
import type { Delivered } from "../../src/services/Gossip.ts"
import { make as makeIdentity } from "../../src/services/Identity.ts"
import { Router } from "../../src/services/Router.ts"
import { ANSWER_KIND, REQUEST_KIND } from "../../src/storage/stateSync.ts"
import { graph, isConnectedGraph, waitFor } from "../support/memoryMesh.ts"
import { prng } from "../support/random.ts"
import { startPeer, startStorageMesh, type StorageNode } from "./support.ts"

/**
 * No gossip repair and no snapshots within a test: an edit a peer missed reaches it only by
 * the state-vector exchange (the DHT's copy is the record as stored, without any edit).
 */
const mesh = { repairInterval: 0 }
const config = { batchMs: 20, syncIntervalMs: 600_000 }

/** A long history: `ops` random edits of `text`, in transactions of 25. */
const history = (doc: Y.Doc, seed: number, ops: number) =>
  Effect.gen(function*() {
    const random = prng(seed)
    const text = doc.getText("body")
    for (let done = 0; done < ops; done += 25) {
      doc.transact(() => {
        for (let i = 0; i < 25; i++) {
          if (text.length > 0 && random() < 0.3) text.delete(Math.floor(random() * text.length), 1)
          else text.insert(Math.floor(random() * (text.length + 1)), String.fromCharCode(97 + Math.floor(random() * 26)))
        }
      })
      // typing, not a wait for a state: lets the batches go out
      yield* Effect.sleep(1)
    }
  })

const textOf = (doc: Y.Doc) => doc.getText("body").toJSON()

/** Direct messages of the state-vector exchange arriving at `p`, from now on (in the caller's Scope). */
const recordDirect = (p: StorageNode) =>
  Effect.gen(function*() {
    const seen: Array<Delivered> = []
    const sub = yield* Context.get(p.node.context, Router).subscribe
    yield* Effect.forkScoped(Effect.forever(Effect.map(PubSub.take(sub), (d) => {
      if (d.kind === ANSWER_KIND || d.kind === REQUEST_KIND) seen.push(d)
    })))
    return seen
  })

const answerBytes = (seen: ReadonlyArray<Delivered>) =>
  seen.filter((d) => d.kind === ANSWER_KIND).reduce((n, d) => n + (d.payload?.length ?? 0), 0)

describe("state-vector exchange on a memory network", () => {
  it.live("a subscriber that restarted offline fetches only the edit it missed, not the document", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "pp-sv-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      const network = new MemoryNetwork({ latencyMs: 1 })
      const others = yield* startStorageMesh(6, config, network, mesh)
      const owner = others[0]!
      const identity = yield* Effect.orDie(makeIdentity())
      const persisted = { ...config, persistence: { dir } }
      const first = yield* startPeer(network, identity, persisted, mesh)
      yield* waitFor("linked", Effect.map(graph([first.node, ...others.map((o) => o.node)]), isConnectedGraph), 30_000)
      yield* waitFor(
        "the reader's key resolvable",
        Effect.map(Effect.exit(owner.storage.store("probe", 1, { allowedPeers: [first.id] })), (e) => e._tag === "Success"),
        30_000
      )
      yield* owner.storage.store("doc:long", { title: "long" }, { enableCRDT: true, allowedPeers: [first.id] })
      const mine = yield* owner.storage.getDocument("doc:long")
      const theirs = yield* first.storage.getDocument("doc:long")
      yield* history(mine, 11, 3000)
      yield* waitFor("the reader has the history", Effect.sync(() => textOf(theirs) === textOf(mine)), 60_000)
      yield* first.node.stop

      // an edit while the reader is away; nothing republishes the document to the DHT
      mine.getText("body").insert(0, "MISSED ")
      const full = Y.encodeStateAsUpdate(mine).length

      // it comes back alone (its subscription finds no DHT), then gets links
      yield* network.partition([[identity.peerId], others.map((o) => o.node.peerId as PeerId)])
      const second = yield* startPeer(network, identity, persisted, mesh)
      const direct = yield* recordDirect(second)
      const restored = yield* second.storage.getDocument("doc:long")
      assert.isFalse(textOf(restored).startsWith("MISSED "))
      assert.isAbove(textOf(restored).length, 1000, "the history was restored from the directory")
      network.heal()
      yield* waitFor("the restarted reader has the missed edit", Effect.sync(() => textOf(restored) === textOf(mine)), 60_000)
      const bytes = answerBytes(direct)
      assert.isAbove(bytes, 0, "it came in a state-vector answer")
      // the answer is the missed edit (plus the AES-GCM tag), not the document
      assert.isBelow(bytes, full / 20, `answer ${bytes} B, document ${full} B`)
      yield* second.node.stop
    }).pipe(Effect.scoped), 150_000)

  it.live("after a partition heals, a skipped live op makes the subscriber ask, and it gets only what it missed", () =>
    Effect.gen(function*() {
      const network = new MemoryNetwork({ latencyMs: 1 })
      const peers = yield* startStorageMesh(8, config, network, mesh)
      const [owner, writer, reader] = [peers[0]!, peers[1]!, peers[5]!]
      yield* owner.storage.store("doc:heal", { n: 0 }, { enableCRDT: true, allowedPeers: [writer.id, reader.id] })
      yield* owner.storage.grantAccess("doc:heal", writer.id, { write: true })
      const docs = yield* Effect.forEach([owner, writer, reader], (p) => p.storage.getDocument("doc:heal"))
      const [ownerDoc, writerDoc, readerDoc] = docs as [Y.Doc, Y.Doc, Y.Doc]
      yield* history(writerDoc, 12, 2000)
      yield* waitFor("every copy has the history", Effect.sync(() => docs.every((d) => textOf(d) === textOf(writerDoc))), 60_000)
      const direct = yield* recordDirect(reader)

      // the writer and the reader on different sides; the owner with the reader
      const left = [writer, ...peers.slice(2, 5)].map((p) => p.node.peerId)
      const right = [owner, reader, ...peers.slice(6)].map((p) => p.node.peerId)
      yield* network.partition([left, right])
      yield* waitFor("apart", Effect.map(graph(peers.map((p) => p.node)), (g) => !isConnectedGraph(g)), 30_000)
      writerDoc.getText("body").insert(0, "apart ")
      // the batch went out on the writer's side only
      yield* Effect.sleep(100)
      network.heal()
      yield* waitFor("whole again", Effect.map(graph(peers.map((p) => p.node)), isConnectedGraph), 60_000)
      writerDoc.getText("body").insert(0, "again ")
      yield* waitFor("the reader has both edits", Effect.sync(() => textOf(readerDoc) === textOf(writerDoc)), 60_000)
      yield* waitFor("the owner has both edits", Effect.sync(() => textOf(ownerDoc) === textOf(writerDoc)), 60_000)
      assert.isTrue(textOf(readerDoc).startsWith("again apart "))
      // asked of the writer whose op skipped, which answers with the missed edit and the delete set (Yjs state vectors
      // do not cover deletions): no more than what an empty diff of its document costs, plus the edit and the AES-GCM tag
      const answers = direct.filter((d) => d.kind === ANSWER_KIND)
      assert.deepStrictEqual(answers.map((d) => d.origin), [writer.id as PeerId])
      const deleteSet = Y.encodeStateAsUpdate(writerDoc, Y.encodeStateVector(writerDoc)).length
      const full = Y.encodeStateAsUpdate(writerDoc).length
      assert.isBelow(answerBytes(direct), deleteSet + 64 + 16, `answer ${answerBytes(direct)} B, delete set ${deleteSet} B, document ${full} B`)
      assert.isBelow(answerBytes(direct), full / 10)
    }).pipe(Effect.scoped), 150_000)

  it.live("hostile peers: no answer to a non-reader; forged, unasked and garbage messages change nothing", () =>
    Effect.gen(function*() {
      const peers = yield* startStorageMesh(6, config, undefined, mesh)
      const [owner, reader, mallory, carol] = [peers[0]!, peers[1]!, peers[2]!, peers[3]!]
      yield* owner.storage.store("doc:h", { n: 0 }, { enableCRDT: true, allowedPeers: [reader.id] })
      const mine = yield* owner.storage.getDocument("doc:h")
      const theirs = yield* reader.storage.getDocument("doc:h")
      mine.getText("body").insert(0, "secret")
      yield* waitFor("reader in sync", Effect.sync(() => textOf(theirs) === "secret"), 30_000)
      const record = (yield* owner.storage.getKeyInfo("doc:h"))!
      const toMallory = yield* recordDirect(mallory)
      const toReader = yield* recordDirect(reader)
      const malloryRouter = Context.get(mallory.node.context, Router)
      const empty = Y.encodeStateVector(new Y.Doc())
      const request = { v: 1, key: "doc:h", owner: owner.id, epoch: record.epoch }
      // Mallory has no slot: asking with an empty state vector gets her nothing
      yield* malloryRouter.send(owner.id as PeerId, { ...request, n: "MMMMMMMMMMMMMMMM" }, REQUEST_KIND, { payload: empty })
      // garbage state vectors, oversized ones, and malformed contents: dropped, no crash
      yield* malloryRouter.send(owner.id as PeerId, { ...request, n: "GGGGGGGGGGGGGGGG" }, REQUEST_KIND, { payload: new Uint8Array([255, 255, 255, 255, 255, 255, 255, 255, 255]) })
      yield* malloryRouter.send(owner.id as PeerId, { ...request, n: "OOOOOOOOOOOOOOOO" }, REQUEST_KIND, { payload: new Uint8Array(32 * 1024) })
      yield* malloryRouter.send(owner.id as PeerId, { v: 9, what: "ever" }, REQUEST_KIND, { payload: empty })
      // an unasked answer, in the clear, to the reader: an edit she made up
      const evil = new Y.Doc()
      evil.getText("body").insert(0, "EVIL")
      yield* malloryRouter.send(reader.id as PeerId, { ...request, n: "EEEEEEEEEEEEEEEE" }, ANSWER_KIND, { payload: Y.encodeStateAsUpdate(evil) })
      yield* waitFor("the made-up answer arrived", Effect.sync(() => toReader.some((d) => d.kind === ANSWER_KIND && d.origin === mallory.id)), 30_000)
      // the owner still answers afterwards: a newly granted reader's subscription asks, and is answered
      yield* owner.storage.grantAccess("doc:h", carol.id)
      const toCarol = yield* recordDirect(carol)
      const hers = yield* carol.storage.getDocument("doc:h")
      yield* waitFor("an answer reached the new reader", Effect.sync(() => toCarol.some((d) => d.kind === ANSWER_KIND && d.origin === owner.id)), 30_000)
      yield* waitFor("the new reader has the text", Effect.sync(() => textOf(hers) === "secret"), 30_000)
      assert.strictEqual(textOf(theirs), "secret")
      assert.strictEqual(textOf(mine), "secret")
      assert.isFalse(toMallory.some((d) => d.kind === ANSWER_KIND), "no answer ever went to Mallory")
    }).pipe(Effect.scoped), 120_000)
})
