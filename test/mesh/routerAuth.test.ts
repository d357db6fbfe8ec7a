import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { MemoryNetwork } from "../../src/layers/MemoryNetwork.ts"
import { signBatch, signFields, unsignedFields } from "../../src/layers/signedMessages.ts"
import type { DirectFrame } from "../../src/schema/PeerFrames.ts"
import { Connections } from "../../src/services/Connections.ts"
import { make as makeIdentity } from "../../src/services/Identity.ts"
import { Mesh } from "../../src/services/Mesh.ts"
import { Router } from "../../src/services/Router.ts"
import { connectedOf, received, startNodes, waitFor } from "../support/memoryMesh.ts"

describe("direct messages: origin checks and exactly-once delivery", () => {
  it.live("a forged copy is dropped and does not keep the genuine message out; a retransmission is not delivered again", () =>
    Effect.gen(function*() {
      const [a, b] = yield* startNodes(new MemoryNetwork(), 2, { maxPeers: 1, minPeers: 1 })
      yield* waitFor("linked", Effect.map(connectedOf(a!), (peers) => peers.includes(b!.peerId)))
      // an origin that is not in the mesh; A relays its message, and tampers with a copy first
      const origin = yield* makeIdentity()
      const fields = yield* signFields(origin, { t: "direct", kind: "message", to: b!.peerId }, { pay: 1 }, 32)
      const genuine: DirectFrame = { t: "direct", kind: "message", to: b!.peerId, flood: false, ack: true, ...fields }
      const forged: DirectFrame = { ...genuine, content: { pay: 1_000_000 } }
      const relay = (frame: DirectFrame) => a!.run(Connections.use((c) => c.send(b!.peerId, JSON.stringify(frame))))
      yield* relay(forged)
      yield* relay(genuine)
      yield* waitFor("genuine delivered", Effect.sync(() => received(b!).some((m) => m.messageId === genuine.id)))
      yield* relay({ ...genuine, attempt: 1 })
      yield* relay({ ...forged, attempt: 2, flood: true })
      yield* Effect.sleep(200)
      const copies = received(b!).filter((m) => m.messageId === genuine.id)
      assert.strictEqual(copies.length, 1)
      assert.deepStrictEqual(copies[0]!.content, { pay: 1 })
      assert.strictEqual(copies[0]!.from, origin.peerId)
      const stats = yield* b!.run(Router.use((r) => r.stats))
      // the first forged copy was checked and dropped; once the id is delivered, later copies
      // (the retransmission, the forged flood) are duplicates and never delivered
      assert.strictEqual(stats.dropped, 1)
      assert.strictEqual(stats.duplicates, 2)
    }).pipe(Effect.scoped), 30_000)

  it.live("messages sent at once share batch signatures and all arrive once, in order", () =>
    Effect.gen(function*() {
      // no DHT: its traffic (the key directory's publication) would count in `sent`
      const [a, b] = yield* startNodes(new MemoryNetwork({ latencyMs: 1 }), 2, { maxPeers: 1, minPeers: 1, enableWebDHT: false })
      yield* waitFor("linked", Effect.map(connectedOf(a!), (peers) => peers.includes(b!.peerId)))
      const ids = yield* Effect.forEach(
        Array.from({ length: 100 }, (_, i) => i),
        (i) => a!.run(Mesh.use((m) => m.sendDirectMessage(b!.peerId, { i }))),
        { concurrency: "unbounded" }
      )
      yield* waitFor("all delivered", Effect.sync(() => received(b!).filter((m) => m.direct).length >= 100))
      const got = received(b!).filter((m) => m.direct)
      assert.deepStrictEqual(got.map((m) => m.messageId), ids)
      assert.deepStrictEqual(got.map((m) => (m.content as { i: number }).i), ids.map((_, i) => i))
      assert.isTrue(got.every((m) => m.verified && m.from === a!.peerId))
      // every message acknowledged: nothing left to retransmit
      yield* Effect.sleep(3500)
      const stats = yield* a!.run(Router.use((r) => r.stats))
      assert.strictEqual(stats.sent, 100)
      assert.strictEqual(stats.flooded, 0)
      assert.strictEqual(received(b!).filter((m) => m.direct).length, 100)
    }).pipe(Effect.scoped), 30_000)

  it.live("a batch-signed message relayed with another message's proof is dropped", () =>
    Effect.gen(function*() {
      const [a, b] = yield* startNodes(new MemoryNetwork(), 2, { maxPeers: 1, minPeers: 1 })
      yield* waitFor("linked", Effect.map(connectedOf(a!), (peers) => peers.includes(b!.peerId)))
      const origin = yield* makeIdentity()
      const unsigned = yield* Effect.forEach([1, 2, 3], (n) =>
        Effect.map(unsignedFields(origin, { n }, 32), (f) => ({ t: "direct" as const, kind: "message", to: b!.peerId, ...f })))
      const sigs = yield* signBatch(origin, unsigned)
      const frame = (i: number, sig: string): DirectFrame => ({ ...unsigned[i]!, flood: false, ack: true, sig })
      const relay = (f: DirectFrame) => a!.run(Connections.use((c) => c.send(b!.peerId, JSON.stringify(f))))
      yield* relay(frame(0, sigs[1]!))
      yield* relay(frame(1, sigs[1]!))
      yield* relay(frame(2, sigs[2]!))
      yield* waitFor("two delivered", Effect.sync(() => received(b!).filter((m) => m.direct).length >= 2))
      yield* Effect.sleep(100)
      assert.deepStrictEqual(received(b!).filter((m) => m.direct).map((m) => m.content), [{ n: 2 }, { n: 3 }])
    }).pipe(Effect.scoped), 30_000)

  it.live("an acknowledged message lost on its link is retransmitted; one sent with { ack: false } is not", () =>
    Effect.gen(function*() {
      let dropping = false
      const network = new MemoryNetwork({ loss: 0.5, random: () => (dropping ? 0 : 1) })
      // no DHT: its traffic (the key directory's publication) would count in `sent`
      const [a, b] = yield* startNodes(network, 2, { maxPeers: 1, minPeers: 1, enableWebDHT: false })
      yield* waitFor("linked", Effect.map(connectedOf(a!), (peers) => peers.includes(b!.peerId)))
      dropping = true
      const reliable = yield* a!.run(Router.use((r) => r.send(b!.peerId, { n: 1 })))
      const once = yield* a!.run(Router.use((r) => r.send(b!.peerId, { n: 2 }, "message", { ack: false })))
      dropping = false
      assert.isTrue(network.stats.dropped >= 2)
      // the first retransmission comes 3 s after sending
      yield* waitFor("retransmission delivered", Effect.sync(() => received(b!).some((m) => m.messageId === reliable)), 10_000)
      yield* Effect.sleep(500)
      assert.isFalse(received(b!).some((m) => m.messageId === once))
      const stats = yield* a!.run(Router.use((r) => r.stats))
      assert.strictEqual(stats.sent, 2)
    }).pipe(Effect.scoped), 30_000)
})
