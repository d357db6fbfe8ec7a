/**
 * Supervision: a defect inside a long-lived loop is logged and the loop restarts. The Router
 * runs here over a scripted fake `Connections` whose `connected` dies once, in the middle of
 * handling an inbound frame; the frames after it must still be relayed.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, PubSub, Queue } from "effect"
import { restartCount } from "../../src/internal/supervise.ts"
import * as RouterLayer from "../../src/layers/Router.ts"
import { signFields } from "../../src/layers/signedMessages.ts"
import type { DirectFrame } from "../../src/schema/PeerFrames.ts"
import type { PeerId } from "../../src/schema/PeerId.ts"
import { Connections, type Inbound } from "../../src/services/Connections.ts"
import { type Delivered, Gossip } from "../../src/services/Gossip.ts"
import * as IdentityModule from "../../src/services/Identity.ts"
import { MeshConfig } from "../../src/services/MeshConfig.ts"
import { PeerKeys } from "../../src/services/PeerKeys.ts"
import { Router } from "../../src/services/Router.ts"

describe("supervised loops", () => {
  it.live("the Router's inbound loop survives a defect and keeps relaying", () =>
    Effect.gen(function*() {
      const self = yield* IdentityModule.make().pipe(Effect.orDie)
      const origin = yield* IdentityModule.make().pipe(Effect.orDie)
      const next = yield* IdentityModule.make().pipe(Effect.orDie)
      const inbound = yield* PubSub.unbounded<Inbound>()
      const sent = yield* Queue.unbounded<{ readonly to: PeerId; readonly text: string }>()
      let calls = 0
      const connections = Connections.of({
        connect: () => Effect.void,
        disconnect: () => Effect.void,
        handleSignal: () => Effect.void,
        send: (to, text) => Effect.as(Queue.offer(sent, { to, text }), true),
        // the second frame's relay finds the link table broken: a defect in the loop
        connected: Effect.suspend(() => ++calls === 2 ? Effect.die(new Error("injected defect")) : Effect.succeed([next.peerId])),
        links: Effect.succeed([]),
        noteVerified: () => undefined,
        protect: () => undefined,
        noteDegree: () => undefined,
        inbound: PubSub.subscribe(inbound),
        enforceCapacity: Effect.void,
        cooldownUntil: () => undefined,
        unreachable: () => Effect.void
      })
      const gossip = Gossip.of({
        publish: () => Effect.succeed("unused"),
        subscribe: Effect.flatMap(PubSub.unbounded<Delivered>(), PubSub.subscribe),
        stats: Effect.die("unused")
      })
      const context = yield* Layer.build(
        RouterLayer.layer.pipe(
          Layer.provide(Layer.mergeAll(
            MeshConfig.layer({}),
            Layer.succeed(IdentityModule.Identity, self),
            Layer.succeed(Connections, connections),
            Layer.succeed(Gossip, gossip),
            PeerKeys.layer
          ))
        )
      )
      const router = Context.get(context, Router)
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
        relayed.push((JSON.parse(text) as { content: { n: number } }).content.n)
      }
      // the frame being handled when the defect struck is lost; the loop restarted for the next
      assert.deepStrictEqual(relayed, [1, 3])
      assert.strictEqual(restartCount("Router.inbound"), before + 1)
      assert.strictEqual((yield* router.stats).forwarded, 2)
    }).pipe(Effect.scoped), 20_000)
})
