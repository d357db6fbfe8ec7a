import { assert, describe, layer } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Layer, Queue, Schema, Scope } from "effect"
import { layerWerift, RtcPeerConnectionCtor } from "../../src/layers/RtcPeerConnection.ts"
import * as WebRtcTransport from "../../src/layers/WebRtcTransport.ts"
import { makePeerId } from "../../src/schema/PeerId.ts"
import { JsonObject } from "../../src/schema/Signaling.ts"
import { type Link, type LinkMessage, PeerTransport, type Signal, type SignalChannel } from "../../src/services/PeerTransport.ts"

const A = makePeerId("a".repeat(40))
const B = makePeerId("b".repeat(40))

// Counts connections made and closed, to check that every path releases its RTCPeerConnection.
const counts = { made: 0, closed: 0 }
const CountingWerift = Layer.effect(
  RtcPeerConnectionCtor,
  Effect.gen(function*() {
    const werift = yield* RtcPeerConnectionCtor
    return RtcPeerConnectionCtor.of({
      make: (config) => {
        const pc = werift.make(config)
        counts.made++
        const close = pc.close.bind(pc)
        let closed = false
        pc.close = () => {
          // werift also calls close() on itself; count each connection once
          if (!closed) counts.closed++
          closed = true
          return close()
        }
        return pc
      }
    })
  })
).pipe(Layer.provide(layerWerift()))

const TestLayer = WebRtcTransport.layer().pipe(Layer.provide(CountingWerift))

// In-memory signaling for one pair. Signals must be plain JSON, as the server relays them.
const isSignalData = Schema.is(Schema.NullOr(JsonObject))
const signalPair = Effect.gen(function*() {
  const toB = yield* Queue.unbounded<Signal>()
  const toA = yield* Queue.unbounded<Signal>()
  const channel = (out: Queue.Queue<Signal>, incoming: Queue.Queue<Signal>): SignalChannel => ({
    send: (signal) =>
      isSignalData(signal.data) // rejects undefined fields
        ? Queue.offer(out, signal).pipe(Effect.asVoid)
        : Effect.die(new Error(`not JSON: ${String(signal.data)}`)),
    incoming
  })
  return { a: channel(toB, toA), b: channel(toA, toB) }
})

/** Opens a link A (initiator) <-> B (responder); each side's link lives in its own scope. */
const connect = Effect.gen(function*() {
  const transport = yield* PeerTransport
  const { a, b } = yield* signalPair
  const scopeA = yield* Scope.make()
  const scopeB = yield* Scope.make()
  yield* Effect.addFinalizer(() => Effect.andThen(Scope.close(scopeA, Exit.void), Scope.close(scopeB, Exit.void)))
  const t0 = performance.now()
  const [linkA, linkB] = yield* Effect.all([
    transport.open(B, { initiator: true, signals: a, timeoutMs: 10_000 }).pipe(Scope.provide(scopeA)),
    transport.open(A, { initiator: false, signals: b, timeoutMs: 10_000 }).pipe(Scope.provide(scopeB))
  ], { concurrency: 2 })
  return { linkA, linkB, scopeA, scopeB, setupMs: performance.now() - t0 }
})

const takeN = (link: Link, n: number) =>
  Effect.gen(function*() {
    const out: Array<LinkMessage> = []
    while (out.length < n) out.push(...(yield* Queue.takeBetween(link.messages, 1, n - out.length)))
    return out
  })

layer(TestLayer, { excludeTestServices: true })("WebRtcTransport (werift, loopback)", (it) => {
  it.effect("opens a link and exchanges messages both ways", () =>
    Effect.gen(function*() {
      const transport = yield* PeerTransport
      assert.strictEqual(transport.kind, "webrtc")
      const { linkA, linkB, setupMs } = yield* connect
      console.log(`link setup: ${setupMs.toFixed(0)} ms`)
      assert.strictEqual(linkA.remote, B)
      assert.strictEqual(linkB.remote, A)
      yield* linkA.send("hello from a")
      yield* linkB.send("hello from b")
      yield* linkB.send("")
      assert.deepStrictEqual(yield* takeN(linkB, 1), ["hello from a"])
      assert.deepStrictEqual(yield* takeN(linkA, 2), ["hello from b", ""])
    }))

  it.effect("delivers a burst of 2000 x 1 KB messages complete and in order", () =>
    Effect.gen(function*() {
      const { linkA, linkB } = yield* connect
      const payload = "x".repeat(1000)
      for (const round of ["fresh", "warm"]) {
        const n = 2000
        const t0 = performance.now()
        for (let i = 0; i < n; i++) yield* linkA.send(`${i}:${payload}`)
        assert.isAbove(yield* linkA.pending, 0)
        const received = yield* takeN(linkB, n)
        const ms = performance.now() - t0
        console.log(`${round}: ${n} x 1 KB in ${ms.toFixed(0)} ms = ${Math.round(n / ms * 1000)} msg/s`)
        assert.strictEqual(received.length, n)
        received.forEach((m, i) => assert.strictEqual(m, `${i}:${payload}`))
        assert.strictEqual(yield* linkA.pending, 0)
      }
    }))

  it.effect("carries large and non-ASCII messages intact; refuses messages over 1 MiB", () =>
    Effect.gen(function*() {
      const { linkA, linkB } = yield* connect
      const big = "é😀\"\\".repeat(60_000) // 480 KB of UTF-8 with escapes and surrogate pairs: sent in pieces
      const messages = ["before", big, "after", "😀".repeat(20_000)]
      for (const m of messages) yield* linkA.send(m)
      const received = yield* takeN(linkB, messages.length)
      assert.strictEqual(received.length, messages.length)
      received.forEach((m, i) => assert.isTrue(m === messages[i], `message ${i} differs`))
      const error = yield* Effect.flip(linkA.send("y".repeat(1024 * 1024 + 1)))
      assert.strictEqual(error.reason, "refused")
      yield* linkA.send("y".repeat(1024 * 1024))
      assert.strictEqual((yield* takeN(linkB, 1))[0]!.length, 1024 * 1024)
    }))

  it.effect("close on one side resolves closed and ends messages on the other", () =>
    Effect.gen(function*() {
      const { linkA, linkB } = yield* connect
      yield* linkA.send("last words")
      assert.deepStrictEqual(yield* takeN(linkB, 1), ["last words"])
      yield* linkB.close("bye")
      yield* linkB.close("again") // idempotent
      assert.strictEqual(yield* linkB.closed, "bye")
      const reason = yield* linkA.closed
      console.log(`remote close seen as: ${reason}`)
      assert.strictEqual(reason, "remote: bye")
      const end = yield* Effect.flip(Queue.take(linkA.messages))
      assert.isTrue(Cause.isDone(end))
      assert.strictEqual((yield* Effect.flip(linkA.send("late"))).reason, "closed")
      assert.strictEqual((yield* Effect.flip(linkB.send("late"))).reason, "closed")
    }))

  it.effect("closing a link's Scope closes the other side too", () =>
    Effect.gen(function*() {
      const { linkA, linkB, scopeA } = yield* connect
      yield* Scope.close(scopeA, Exit.void)
      assert.strictEqual(yield* linkA.closed, "scope closed")
      assert.strictEqual(yield* linkB.closed, "remote: scope closed")
      assert.isTrue(Cause.isDone(yield* Effect.flip(Queue.take(linkB.messages))))
    }))

  it.effect("fails with timeout when the responder never answers, and releases the connection", () =>
    Effect.gen(function*() {
      const transport = yield* PeerTransport
      const { a, b } = yield* signalPair
      const before = { ...counts }
      const offered = yield* Deferred.make<Signal>()
      // the "responder" only looks at the offer
      yield* Queue.take(b.incoming).pipe(Effect.flatMap((s) => Deferred.succeed(offered, s)), Effect.forkScoped)
      const t0 = performance.now()
      const error = yield* Effect.flip(transport.open(B, { initiator: true, signals: a, timeoutMs: 400 }))
      assert.strictEqual(error.reason, "timeout")
      assert.isAtLeast(performance.now() - t0, 390)
      assert.strictEqual((yield* Deferred.await(offered)).kind, "offer")
      // released by the failed open itself, not by this test's Scope
      assert.strictEqual(counts.made - before.made, 1)
      assert.strictEqual(counts.closed - before.closed, 1)

      const silent = yield* signalPair
      const responderError = yield* Effect.flip(
        transport.open(A, { initiator: false, signals: silent.b, timeoutMs: 200 })
      )
      assert.strictEqual(responderError.reason, "timeout")
      assert.strictEqual(counts.made - counts.closed, 0)
    }))

  it.effect("fails with setup-failed on a malformed offer", () =>
    Effect.gen(function*() {
      const transport = yield* PeerTransport
      const { a, b } = yield* signalPair
      // werift accepts any text as SDP, so only a structurally bad offer fails fast
      yield* a.send({ kind: "offer", data: { type: "offer" } })
      const error = yield* Effect.flip(transport.open(A, { initiator: false, signals: b, timeoutMs: 5_000 }))
      assert.strictEqual(error.reason, "setup-failed")
      assert.strictEqual(counts.made - counts.closed, 0)
    }))
})

describe("WebRtcTransport resources", () => {
  layer(TestLayer, { excludeTestServices: true })("after all links", (it) => {
    it.effect("every RTCPeerConnection made was closed", () =>
      Effect.sync(() => {
        assert.isAbove(counts.made, 0)
        assert.strictEqual(counts.closed, counts.made)
      }))
  })
})
