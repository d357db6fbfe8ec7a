// The RPC plumbing alone, over a scripted Router: an answer settles a pending RPC only when
// it comes from the peer asked; pending RPCs are capped.
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, PubSub } from "effect"
import { TestClock } from "effect/testing"
import type { DhtContext } from "../../src/layers/dht/context.ts"
import { type Answer, decodeContent, makeNetwork, pendingFor } from "../../src/layers/dht/network.ts"
import type { DhtRpc } from "../../src/schema/DhtMessages.ts"
import type { PeerId } from "../../src/schema/PeerId.ts"
import { dhtDefaults } from "../../src/services/Dht.ts"
import { restartCount } from "../../src/internal/supervise.ts"

const SELF = "0".repeat(40) as PeerId
const TARGET = "1".repeat(40) as PeerId
const RELAY = "2".repeat(40) as PeerId

/** A context with only what the network reads, and a Router that records what is sent. */
const fakeContext = (maxPendingRpcs = 1024) => {
  const sent: Array<{ to: PeerId; message: DhtRpc }> = []
  const heard: Array<PeerId> = []
  const unanswered: Array<PeerId> = []
  const ctx = {
    options: { ...dhtDefaults, rpcTimeout: 1000, maxPendingRpcs },
    self: SELF,
    stats: { lookups: 0, lookupHops: 0, rpcsSent: 0, rpcTimeouts: 0, replications: 0, refusedStores: 0, droppedRpcs: 0 },
    router: {
      send: (to: PeerId, message: DhtRpc) =>
        Effect.sync(() => {
          sent.push({ to, message })
          return "id"
        })
    },
    heardFrom: (id: PeerId) => void heard.push(id),
    unanswered: (id: PeerId) => void unanswered.push(id)
  } as unknown as DhtContext
  return { ctx, sent, heard, unanswered }
}

describe("DHT network", () => {
  it("pendingFor ties an answer to the peer its request went to", () => {
    const waiter = Deferred.makeUnsafe<Answer>()
    const pending = new Map([["r1", { to: TARGET, waiter }]])
    const answer: Answer = { op: "stored", rid: "r1", ok: true }
    assert.strictEqual(pendingFor(pending, RELAY, answer), undefined)
    assert.strictEqual(pendingFor(pending, TARGET, answer)?.waiter, waiter)
    assert.strictEqual(pendingFor(pending, TARGET, { ...answer, rid: "r2" }), undefined)
  })

  it.effect("a relay's forged answer with the rid it saw does not settle the RPC; the target's does", () =>
    Effect.gen(function*() {
      const { ctx, heard, sent } = fakeContext()
      const net = makeNetwork(ctx)
      const fiber = yield* Effect.forkChild(net.rpc(TARGET, { op: "store", rid: "seen-by-relay", record: undefined as never }))
      yield* Effect.yieldNow
      assert.strictEqual(sent.length, 1)
      yield* net.settle(RELAY, { op: "stored", rid: "seen-by-relay", ok: true })
      assert.strictEqual(fiber.pollUnsafe(), undefined)
      yield* net.settle(TARGET, { op: "stored", rid: "seen-by-relay", ok: false, reason: "stale" })
      const answer = yield* Fiber.join(fiber)
      assert.deepStrictEqual(answer, { op: "stored", rid: "seen-by-relay", ok: false, reason: "stale" })
      assert.deepStrictEqual(heard, [TARGET])
    }))

  it.effect("with only forged answers the RPC times out", () =>
    Effect.gen(function*() {
      const { ctx, unanswered } = fakeContext()
      const net = makeNetwork(ctx)
      const fiber = yield* Effect.forkChild(net.rpc(TARGET, { op: "find", rid: "r", target: TARGET }))
      yield* Effect.yieldNow
      yield* net.settle(RELAY, { op: "found", rid: "r", nodes: [RELAY] })
      yield* TestClock.adjust(1000)
      assert.strictEqual(yield* Fiber.join(fiber), undefined)
      assert.deepStrictEqual(unanswered, [TARGET])
    }))

  it.effect("RPCs beyond maxPendingRpcs are not sent", () =>
    Effect.gen(function*() {
      const { ctx, sent } = fakeContext(2)
      const net = makeNetwork(ctx)
      yield* Effect.forkChild(net.rpc(TARGET, { op: "find", rid: "a", target: TARGET }))
      yield* Effect.forkChild(net.rpc(TARGET, { op: "find", rid: "b", target: TARGET }))
      yield* Effect.yieldNow
      assert.strictEqual(yield* net.rpc(TARGET, { op: "find", rid: "c", target: TARGET }), undefined)
      assert.strictEqual(sent.length, 2)
      assert.strictEqual(ctx.stats.droppedRpcs, 1)
    }))

  it.effect("the inbox handles at most maxConcurrentRpcs requests at once, queues inboxCapacity, drops the rest", () =>
    Effect.gen(function*() {
      const { ctx, sent } = fakeContext()
      const pubsub = yield* PubSub.unbounded<unknown>()
      const inboxCtx = {
        ...ctx,
        options: { ...ctx.options, maxConcurrentRpcs: 2, inboxCapacity: 3 },
        mesh: { allowUnverifiedPeers: false },
        router: { ...ctx.router, subscribe: PubSub.subscribe(pubsub) }
      } as unknown as DhtContext
      const net = makeNetwork(inboxCtx)
      const gate = yield* Deferred.make<void>()
      let active = 0
      let most = 0
      let handled = 0
      yield* net.serve((_, request) =>
        Effect.gen(function*() {
          active++
          most = Math.max(most, active)
          yield* Deferred.await(gate)
          active--
          handled++
          return { op: "watched", rid: "rid" in request ? request.rid : "" }
        })
      )
      const publish = (i: number) =>
        PubSub.publish(pubsub, {
          id: `m${i}`,
          kind: "dht",
          origin: RELAY,
          content: { op: "find", rid: `r${i}`, target: TARGET },
          hops: 1,
          timestamp: 0,
          verified: true
        })
      // two requests occupy both workers, then eight more arrive: three wait, five are dropped
      yield* publish(0)
      yield* publish(1)
      for (let i = 0; i < 1000 && active < 2; i++) yield* Effect.yieldNow
      for (let i = 2; i < 10; i++) {
        yield* publish(i)
        for (let j = 0; j < 50; j++) yield* Effect.yieldNow
      }
      for (let i = 0; i < 1000 && inboxCtx.stats.droppedRpcs < 5; i++) yield* Effect.yieldNow
      assert.strictEqual(most, 2)
      assert.strictEqual(inboxCtx.stats.droppedRpcs, 5)
      yield* Deferred.succeed(gate, undefined)
      for (let i = 0; i < 1000 && sent.length < 5; i++) yield* Effect.yieldNow
      assert.strictEqual(handled, 5)
      assert.deepStrictEqual(sent.map((s) => s.to), [RELAY, RELAY, RELAY, RELAY, RELAY])
    }).pipe(Effect.scoped))

  it.effect("a defect in a handler is logged and the worker restarts: later requests are still answered", () =>
    Effect.gen(function*() {
      const { ctx, sent } = fakeContext()
      const pubsub = yield* PubSub.unbounded<unknown>()
      const inboxCtx = {
        ...ctx,
        options: { ...ctx.options, maxConcurrentRpcs: 1 },
        mesh: { allowUnverifiedPeers: false },
        router: { ...ctx.router, subscribe: PubSub.subscribe(pubsub) }
      } as unknown as DhtContext
      const net = makeNetwork(inboxCtx)
      const before = restartCount("Dht.worker")
      yield* net.serve((_, request) =>
        "rid" in request && request.rid === "boom"
          ? Effect.die(new Error("handler bug"))
          : Effect.succeed({ op: "watched", rid: "rid" in request ? request.rid : "" })
      )
      const publish = (rid: string) =>
        PubSub.publish(pubsub, { id: rid, kind: "dht", origin: RELAY, content: { op: "watch", rid, key: "k", on: true }, hops: 1, timestamp: 0, verified: true })
      yield* publish("boom")
      yield* publish("after")
      for (let i = 0; i < 100 && sent.length === 0; i++) {
        yield* TestClock.adjust(10)
        yield* Effect.yieldNow
      }
      assert.strictEqual(restartCount("Dht.worker"), before + 1)
      assert.deepStrictEqual(sent.map((s) => s.message), [{ op: "watched", rid: "after" }])
    }).pipe(Effect.scoped))

  it("decodeContent drops malformed and over-deep content without throwing", () => {
    let deep: unknown = 1
    for (let i = 0; i < 10_000; i++) deep = [deep]
    assert.strictEqual(decodeContent(deep), undefined)
    assert.strictEqual(decodeContent({ op: "find", rid: "r", target: "xyz" }), undefined)
    assert.strictEqual(decodeContent(null), undefined)
    assert.deepStrictEqual(decodeContent({ op: "watched", rid: "r" }), { op: "watched", rid: "r" })
  })
})
