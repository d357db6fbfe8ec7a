/**
 * Supervision: a defect inside a long-lived loop is logged and the loop restarts. The Router
 * runs here over a scripted fake `Connections` whose `connected` dies once, in the middle of
 * handling an inbound frame; the frames after it must still be relayed.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, PubSub, Queue } from "effect"
import { restartCount } from "../../src/internal/supervise.ts"
import { signFields } from "../../src/layers/signedMessages.ts"
import type { DirectFrame } from "../../src/schema/PeerFrames.ts"
import * as IdentityModule from "../../src/services/Identity.ts"
import { fakeRouter } from "../support/fakeMesh.ts"

describe("supervised loops", () => {
  it.live("the Router's inbound loop survives a defect and keeps relaying", () =>
    Effect.gen(function*() {
      const origin = yield* IdentityModule.make().pipe(Effect.orDie)
      const next = yield* IdentityModule.make().pipe(Effect.orDie)
      let calls = 0
      // the second frame's relay finds the link table broken: a defect in the loop
      const mesh = yield* fakeRouter({}, () =>
        Effect.suspend(() => ++calls === 2 ? Effect.die(new Error("injected defect")) : Effect.succeed([next.peerId])))
      const { inbound, router, sent } = mesh
      const frameFor = (n: number) =>
        Effect.map(
          signFields(origin, { t: "direct", kind: "message", to: next.peerId }, { n }, 64),
          (fields): DirectFrame => ({ t: "direct", kind: "message", to: next.peerId, flood: false, ack: false, ...fields })
        )
      const before = restartCount("Router.inbound")
      for (let n = 1; n <= 3; n++) yield* PubSub.publish(inbound, { from: origin.peerId, frame: yield* frameFor(n) })
      const relayed: Array<number> = []
      while (relayed.length < 2) {
        const { text } = yield* Queue.take(sent)
        relayed.push((JSON.parse(text as string) as { content: { n: number } }).content.n)
      }
      // the frame being handled when the defect struck is lost; the loop restarted for the next
      assert.deepStrictEqual(relayed, [1, 3])
      assert.strictEqual(restartCount("Router.inbound"), before + 1)
      assert.strictEqual((yield* router.stats).forwarded, 2)
    }).pipe(Effect.scoped), 20_000)
})
