/**
 * Route capture: a neighbour that becomes the route to a peer and then drops what it should
 * relay cannot hold the traffic. The Router runs over scripted fakes (test/support/fakeMesh.ts)
 * with TestClock: the first attempt follows the learned route into the black hole; the
 * retransmission after the missed ack avoids that hop.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, PubSub, Queue } from "effect"
import { TestClock } from "effect/testing"
import type { PeerId } from "../../src/schema/PeerId.ts"
import * as IdentityModule from "../../src/services/Identity.ts"
import { fakeRouter } from "../support/fakeMesh.ts"

describe("route capture", () => {
  it.effect("a retransmission avoids the next hop that lost the first attempt", () =>
    Effect.gen(function*() {
      const target = yield* IdentityModule.make().pipe(Effect.orDie)
      const hostile = "f".repeat(40) as PeerId
      // XOR-next to the target, so greedy routing always has this way round the black hole
      const honest = (target.peerId.slice(0, 39) + (target.peerId.endsWith("0") ? "1" : "0")) as PeerId
      const mesh = yield* fakeRouter()
      mesh.neighbours = [hostile, honest]
      // the target's latest broadcast first came through the hostile neighbour: it is the route
      yield* PubSub.publish(mesh.delivered, { id: "b1", kind: "presence", origin: target.peerId, content: {}, hops: 1, ttl: 16, timestamp: 0, verified: true, via: hostile })
      yield* Effect.yieldNow
      yield* mesh.router.send(target.peerId, { text: "hello" })
      const first = yield* Queue.take(mesh.sent)
      assert.strictEqual(first.to, hostile)
      // the hostile hop drops it: no ack. The first retransmission is due after 3 s
      yield* TestClock.adjust(3500)
      const second = yield* Queue.take(mesh.sent)
      const frame = JSON.parse(second.text as string) as { attempt?: number; flood: boolean }
      assert.strictEqual(frame.attempt, 1)
      assert.isFalse(frame.flood)
      assert.strictEqual(second.to, honest)
    }).pipe(Effect.scoped))

  it.effect("a later copy claiming fewer hops does not take the route over (arrival order decides)", () =>
    Effect.gen(function*() {
      const target = yield* IdentityModule.make().pipe(Effect.orDie)
      const a = "1".repeat(40) as PeerId
      const b = "2".repeat(40) as PeerId
      const mesh = yield* fakeRouter()
      mesh.neighbours = [a, b]
      // newest first arrival wins, whatever hop counts say (b's claim of 0 hops came first, a's broadcast is newer)
      yield* PubSub.publish(mesh.delivered, { id: "b1", kind: "presence", origin: target.peerId, content: {}, hops: 0, ttl: 16, timestamp: 0, verified: true, via: b })
      yield* PubSub.publish(mesh.delivered, { id: "b2", kind: "presence", origin: target.peerId, content: {}, hops: 9, ttl: 16, timestamp: 0, verified: true, via: a })
      yield* Effect.yieldNow
      yield* mesh.router.send(target.peerId, { text: "hello" }, "message", { ack: false })
      assert.strictEqual((yield* Queue.take(mesh.sent)).to, a)
    }).pipe(Effect.scoped))
})
