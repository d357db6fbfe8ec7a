import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Option, PubSub } from "effect"
import { CHUNK_BYTES } from "../../src/internal/streamProtocol.ts"
import { MemoryNetwork } from "../../src/layers/MemoryNetwork.ts"
import { Mesh } from "../../src/services/Mesh.ts"
import type { MeshEvent } from "../../src/services/MeshEvents.ts"
import { Router } from "../../src/services/Router.ts"
import { type IncomingStream, type StreamEvent, Streams } from "../../src/services/Streams.ts"
import { startNodes, type TestNode, waitFor, wire } from "../support/memoryMesh.ts"
import { prng } from "../support/random.ts"

const bytes = (n: number, seed = 1) => {
  const random = prng(seed)
  return Uint8Array.from({ length: n }, () => Math.floor(random() * 256))
}
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b))

/** Three nodes in a line, a - b - c: c is two hops from a. */
const line3 = Effect.gen(function*() {
  const nodes = yield* startNodes(new MemoryNetwork({ latencyMs: 1 }), 3, { autoDiscovery: false, maxPeers: 3, minPeers: 1 })
  yield* wire(nodes, [[0, 1], [1, 2]])
  return nodes as [TestNode, TestNode, TestNode]
})

const binaries = (node: TestNode) =>
  node.events.filter((e): e is Extract<MeshEvent, { _tag: "BinaryMessageReceived" }> => e._tag === "BinaryMessageReceived")

/** Reads a whole stream; `pause` between chunks makes a slow reader. */
const readAll = (s: IncomingStream, pause = 0, onChunk: (n: number) => void = () => {}) =>
  Effect.gen(function*() {
    const parts: Array<Uint8Array> = []
    while (true) {
      const chunk = yield* s.read
      if (Option.isNone(chunk)) return Buffer.concat(parts)
      parts.push(chunk.value)
      onChunk(chunk.value.byteLength)
      if (pause > 0) yield* Effect.sleep(pause)
    }
  })

const streamEvents = (node: TestNode) =>
  Effect.gen(function*() {
    const seen: Array<StreamEvent> = []
    const streams = yield* node.run(Streams.use(Effect.succeed))
    const sub = yield* streams.events
    yield* Effect.forkScoped(Effect.forever(Effect.map(PubSub.take(sub), (e) => seen.push(e))))
    return seen
  })

describe("binary messages and streams (memory network)", () => {
  it.live("binary direct messages cross two hops intact, once, with their metadata; too large ones are refused", () =>
    Effect.gen(function*() {
      const [a, , c] = yield* line3
      const data = bytes(100_000)
      const id = yield* a.run(Mesh.use((m) => m.sendBinaryData(c.peerId, data)))
      yield* waitFor("binary delivered", Effect.sync(() => binaries(c).length === 1))
      const got = binaries(c)[0]!
      assert.isTrue(same(got.data, data))
      assert.strictEqual(got.messageId, id)
      assert.strictEqual(got.from, a.peerId)
      assert.isTrue(got.direct && got.verified)
      assert.strictEqual(got.hops, 2)
      const tooLarge = yield* Effect.flip(a.run(Mesh.use((m) => m.sendBinaryData(c.peerId, new Uint8Array(256 * 1024 + 1)))))
      assert.strictEqual(tooLarge._tag, "MessageTooLarge")
    }).pipe(Effect.scoped), 30_000)

  it.live("a binary broadcast reaches each of 8 nodes once", () =>
    Effect.gen(function*() {
      const nodes = yield* startNodes(new MemoryNetwork({ latencyMs: 1 }), 8, { autoDiscovery: false, maxPeers: 3, minPeers: 1 })
      yield* wire(nodes, [[0, 1], [1, 2], [2, 3], [3, 4], [4, 5], [5, 6], [6, 7], [7, 0], [0, 4]])
      const data = bytes(40_000, 3)
      const id = yield* nodes[2]!.run(Mesh.use((m) => m.broadcastBinaryData(data)))
      const others = nodes.filter((_, i) => i !== 2)
      yield* waitFor("broadcast delivered", Effect.sync(() => others.every((n) => binaries(n).length === 1)))
      // a repair round later, still once each
      yield* Effect.sleep(1500)
      for (const n of others) {
        assert.strictEqual(binaries(n).length, 1)
        assert.strictEqual(binaries(n)[0]!.messageId, id)
        assert.isFalse(binaries(n)[0]!.direct)
        assert.isTrue(same(binaries(n)[0]!.data, data))
      }
      assert.strictEqual(binaries(nodes[2]!).length, 0)
    }).pipe(Effect.scoped), 30_000)

  it.live("a 6 MiB stream crosses two hops intact, with progress and completion at both ends", () =>
    Effect.gen(function*() {
      const [a, , c] = yield* line3
      const sentEvents = yield* streamEvents(a)
      const gotEvents = yield* streamEvents(c)
      const data = bytes(6 * 1024 * 1024 + 123, 7)
      const reader = yield* c.run(Streams.use((s) => Effect.flatMap(s.accept, (stream) => Effect.map(readAll(stream), (all) => ({ stream, all }))))).pipe(
        Effect.forkScoped
      )
      const out = yield* a.run(Streams.use((s) => s.open(c.peerId, { name: "data.bin", size: data.byteLength, type: "application/octet-stream" })))
      for (let at = 0; at < data.byteLength; at += 100_000) yield* out.write(data.subarray(at, at + 100_000))
      yield* out.close
      const { all, stream } = yield* Fiber.join(reader)
      assert.isTrue(same(all, data))
      assert.strictEqual(stream.name, "data.bin")
      assert.strictEqual(stream.size, data.byteLength)
      assert.strictEqual(stream.peerId, a.peerId)
      yield* waitFor("completion at both ends", Effect.sync(() =>
        sentEvents.some((e) => e._tag === "Completed") && gotEvents.some((e) => e._tag === "Completed")))
      const progress = sentEvents.filter((e) => e._tag === "Progress").map((e) => (e as { bytes: number }).bytes)
      assert.isAbove(progress.length, 10)
      assert.deepStrictEqual(progress, [...progress].sort((x, y) => x - y))
      assert.strictEqual(gotEvents.filter((e) => e._tag === "Progress").at(-1)?._tag, "Progress")
      for (const node of [a, c]) assert.strictEqual((yield* node.run(Streams.use((s) => s.stats))).active, 0)
    }).pipe(Effect.scoped), 60_000)

  it.live("a slow reader slows the writer: what is written and not yet read stays within the window", () =>
    Effect.gen(function*() {
      const [a, , c] = yield* line3
      let written = 0
      let read = 0
      let most = 0
      const reader = yield* c.run(Streams.use((s) => Effect.flatMap(s.accept, (stream) => readAll(stream, 5, (n) => (read += n))))).pipe(
        Effect.forkScoped
      )
      const out = yield* a.run(Streams.use((s) => s.open(c.peerId, { name: "slow" })))
      const chunk = bytes(CHUNK_BYTES, 9)
      for (let i = 0; i < 120; i++) {
        yield* out.write(chunk)
        written += chunk.byteLength
        most = Math.max(most, written - read)
      }
      yield* out.close
      assert.strictEqual((yield* Fiber.join(reader)).byteLength, 120 * CHUNK_BYTES)
      // the default window is 16 chunks: the writer never got further ahead than that
      assert.isAtMost(most, 17 * CHUNK_BYTES)
      assert.isAbove(most, 4 * CHUNK_BYTES)
    }).pipe(Effect.scoped), 60_000)

  it.live("either end can abort: the other end's write or read fails, and both see streamAborted", () =>
    Effect.gen(function*() {
      const [a, , c] = yield* line3
      const aEvents = yield* streamEvents(a)
      const cEvents = yield* streamEvents(c)
      // the reader aborts
      const reader = yield* c.run(Streams.use((s) =>
        Effect.flatMap(s.accept, (stream) => Effect.andThen(stream.read, stream.abort("enough")))
      )).pipe(Effect.forkScoped)
      const out = yield* a.run(Streams.use((s) => s.open(c.peerId, { name: "first" })))
      const writing = yield* Effect.exit(Effect.forever(out.write(bytes(CHUNK_BYTES))))
      yield* Fiber.join(reader)
      assert.isTrue(Exit.isFailure(writing))
      const error = yield* Effect.flip(out.close)
      assert.strictEqual(error.reason, "aborted")
      assert.match(error.message, /remote: aborted: enough/)
      // the writer aborts
      const reader2 = yield* c.run(Streams.use((s) => Effect.flatMap(s.accept, (stream) => Effect.flip(readAll(stream))))).pipe(
        Effect.forkScoped
      )
      const out2 = yield* a.run(Streams.use((s) => s.open(c.peerId, { name: "second" })))
      yield* out2.write(bytes(3 * CHUNK_BYTES))
      yield* out2.abort("changed my mind")
      const readError = yield* Fiber.join(reader2)
      assert.strictEqual(readError.reason, "aborted")
      assert.match(readError.message, /changed my mind/)
      const aborted = (events: ReadonlyArray<StreamEvent>) => events.filter((e) => e._tag === "Aborted").map((e) => (e as { by: string }).by)
      yield* waitFor("aborts seen at both ends", Effect.sync(() => aborted(aEvents).length === 2 && aborted(cEvents).length === 2))
      assert.deepStrictEqual(aborted(aEvents), ["remote", "local"])
      assert.deepStrictEqual(aborted(cEvents), ["local", "remote"])
      for (const node of [a, c]) assert.strictEqual((yield* node.run(Streams.use((s) => s.stats))).active, 0)
    }).pipe(Effect.scoped), 60_000)

  it.live("a receiver leaving mid-transfer aborts the stream cleanly at the sender, nothing left behind", () =>
    Effect.gen(function*() {
      const [a, , c] = yield* line3
      yield* c.run(Streams.use((s) => Effect.flatMap(s.accept, (stream) => readAll(stream, 20)))).pipe(Effect.forkScoped)
      const out = yield* a.run(Streams.use((s) => s.open(c.peerId, { name: "big", size: 50 * 1024 * 1024 })))
      const writer = yield* Effect.forkScoped(Effect.exit(Effect.forever(out.write(bytes(CHUNK_BYTES)))))
      yield* waitFor("some progress", Effect.map(a.run(Streams.use((s) => s.stats)), (st) => st.active === 1))
      yield* Effect.sleep(200)
      yield* c.stop
      const exit = yield* Fiber.join(writer)
      assert.isTrue(Exit.isFailure(exit))
      const error = yield* Effect.flip(out.close)
      assert.match(error.message, /the peer left/)
      assert.strictEqual((yield* a.run(Streams.use((s) => s.stats))).active, 0)
    }).pipe(Effect.scoped), 60_000)

  it.live("a hostile sender: chunks beyond the credit or without acceptance abort its stream; too many streams are refused", () =>
    Effect.gen(function*() {
      const [a, b] = yield* startNodes(new MemoryNetwork({ latencyMs: 1 }), 2, { autoDiscovery: false, maxPeers: 1, minPeers: 1 })
      yield* wire([a!, b!], [[0, 1]])
      const raw = (content: Record<string, unknown>, id: string, payload?: Uint8Array) =>
        a!.run(Router.use((r) => r.send(b!.peerId, content as never, "stream", payload === undefined ? { id } : { id, payload })))
      // data before acceptance: nobody took the stream
      yield* raw({ op: "open", sid: "hostile-one", name: "x" }, "hostile-one>o")
      yield* raw({ op: "data", sid: "hostile-one", seq: 0 }, "hostile-one>0", bytes(10))
      yield* waitFor("violation counted", Effect.map(b!.run(Streams.use((s) => s.stats)), (st) => st.invalid === 1))
      // beyond the credit of an accepted stream
      yield* raw({ op: "open", sid: "hostile-two", name: "y" }, "hostile-two>o")
      const accepted = yield* b!.run(Streams.use((s) => s.accept))
      assert.strictEqual(accepted.id, "hostile-two")
      yield* raw({ op: "data", sid: "hostile-two", seq: 500 }, "hostile-two>500", bytes(10))
      const error = yield* Effect.flip(accepted.read)
      assert.strictEqual(error.reason, "invalid")
      assert.match(error.message, /beyond the credit/)
      // opens beyond maxIncomingPerPeer (8) are refused
      for (let i = 0; i < 12; i++) yield* raw({ op: "open", sid: `flood-${i}-xxxx`, name: "z" }, `flood-${i}-xxxx>o`)
      yield* waitFor("refusals", Effect.map(b!.run(Streams.use((s) => s.stats)), (st) => st.refused === 4))
      assert.strictEqual((yield* b!.run(Streams.use((s) => s.stats))).active, 8)
    }).pipe(Effect.scoped), 30_000)
})
