/**
 * The Router reports a direct message its target never acknowledged: after the first send and
 * every retransmission timed out, `undelivered` carries its id (driven by TestClock over the
 * scripted fakes of test/support/fakeMesh.ts).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, PubSub, Queue } from "effect"
import { TestClock } from "effect/testing"
import type { PeerId } from "../../src/schema/PeerId.ts"
import { MAX_ATTEMPT } from "../../src/schema/PeerFrames.ts"
import * as IdentityModule from "../../src/services/Identity.ts"
import { fakeRouter } from "../support/fakeMesh.ts"

describe("Router.undelivered", () => {
  it.effect("a message never acknowledged is reported once, after its last retransmission", () =>
    Effect.gen(function*() {
      const target = yield* IdentityModule.make().pipe(Effect.orDie)
      const mesh = yield* fakeRouter()
      mesh.neighbours = ["0".repeat(40) as PeerId]
      const failures = yield* mesh.router.undelivered
      const id = yield* mesh.router.send(target.peerId, { text: "into the void" })
      // retransmissions 3, 9, 21, 45 s after sending; the last times out 48 s later
      yield* TestClock.adjust(90_000)
      assert.strictEqual(yield* PubSub.remaining(failures), 0)
      yield* TestClock.adjust(5_000)
      const failed = yield* PubSub.take(failures)
      assert.deepStrictEqual(failed, { id, to: target.peerId, kind: "message", attempts: MAX_ATTEMPT + 1 })
      assert.strictEqual((yield* mesh.router.stats).dropped, 1)
      assert.strictEqual((yield* Queue.takeAll(mesh.sent)).length, MAX_ATTEMPT + 1)
      yield* TestClock.adjust(100_000)
      assert.strictEqual(yield* PubSub.remaining(failures), 0)
    }).pipe(Effect.scoped))

  it.effect("a message sent without ack (best effort) is never reported", () =>
    Effect.gen(function*() {
      const target = yield* IdentityModule.make().pipe(Effect.orDie)
      const mesh = yield* fakeRouter()
      mesh.neighbours = ["0".repeat(40) as PeerId]
      const failures = yield* mesh.router.undelivered
      yield* mesh.router.send(target.peerId, { text: "best effort" }, "message", { ack: false })
      yield* TestClock.adjust(200_000)
      assert.strictEqual(yield* PubSub.remaining(failures), 0)
      assert.strictEqual((yield* mesh.router.stats).dropped, 0)
    }).pipe(Effect.scoped))
})
