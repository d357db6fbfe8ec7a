/**
 * Scripted fakes of the services the Router stands on, for service tests driven by TestClock:
 * a `Connections` whose neighbours, sends and inbound frames the test controls, and a
 * `Gossip` whose deliveries (the reverse-path routes' source) the test publishes.
 */
import { Context, Effect, Layer, PubSub, Queue } from "effect"
import * as RouterLayer from "../../src/layers/Router.ts"
import type { PeerId } from "../../src/schema/PeerId.ts"
import { Connections, type Inbound, type MediaInbound } from "../../src/services/Connections.ts"
import { type Delivered, Gossip } from "../../src/services/Gossip.ts"
import * as IdentityModule from "../../src/services/Identity.ts"
import { MeshConfig, type MeshOptions } from "../../src/services/MeshConfig.ts"
import { MeshEvents } from "../../src/services/MeshEvents.ts"
import { PeerKeys } from "../../src/services/PeerKeys.ts"
import type { LinkMessage } from "../../src/services/PeerTransport.ts"
import { Router } from "../../src/services/Router.ts"

export interface FakeMesh {
  readonly self: IdentityModule.Identity["Service"]
  readonly router: Router["Service"]
  /** Frames arriving from neighbours. */
  readonly inbound: PubSub.PubSub<Inbound>
  /** Broadcasts as Gossip delivers them (first arrivals). */
  readonly delivered: PubSub.PubSub<Delivered>
  /** What the Router put on links, in order. */
  readonly sent: Queue.Queue<{ readonly to: PeerId; readonly text: LinkMessage }>
  /** The neighbours `connected` returns (change at will). */
  neighbours: ReadonlyArray<PeerId>
}

/** A Router over fakes; `connected` may be replaced to inject faults. */
export const fakeRouter = (options: Partial<MeshOptions> = {}, connected?: (mesh: FakeMesh) => Effect.Effect<ReadonlyArray<PeerId>>) =>
  Effect.gen(function*() {
    const self = yield* IdentityModule.make().pipe(Effect.orDie)
    const inbound = yield* PubSub.unbounded<Inbound>()
    const delivered = yield* PubSub.unbounded<Delivered>()
    const mediaInbound = yield* PubSub.unbounded<MediaInbound>()
    const sent = yield* Queue.unbounded<{ readonly to: PeerId; readonly text: LinkMessage }>()
    const mesh = { self, inbound, delivered, sent, neighbours: [] as ReadonlyArray<PeerId> } as Omit<FakeMesh, "router"> & { router?: Router["Service"] }
    const connections = Connections.of({
      connect: () => Effect.void,
      disconnect: () => Effect.void,
      handleSignal: () => Effect.void,
      send: (to, text) => Effect.as(Queue.offer(sent, { to, text }), true),
      connected: Effect.suspend(() => connected === undefined ? Effect.succeed(mesh.neighbours) : connected(mesh as FakeMesh)),
      links: Effect.succeed([]),
      noteVerified: () => undefined,
      protect: () => undefined,
      noteDegree: () => undefined,
      inbound: PubSub.subscribe(inbound),
      enforceCapacity: Effect.void,
      cooldownUntil: () => undefined,
      unreachable: () => Effect.void,
      stats: Effect.succeed({ invalidFrames: 0, rateLimitedFrames: 0, rateLimitDisconnects: 0 }),
      mediaOf: () => undefined,
      mediaInbound: PubSub.subscribe(mediaInbound),
      protectMedia: () => undefined
    })
    const gossip = Gossip.of({
      publish: () => Effect.succeed("unused"),
      subscribe: PubSub.subscribe(delivered),
      stats: Effect.die("unused")
    })
    const context = yield* Layer.build(
      RouterLayer.layer.pipe(
        Layer.provide(Layer.mergeAll(
          MeshConfig.layer(options),
          Layer.succeed(IdentityModule.Identity, self),
          Layer.succeed(Connections, connections),
          Layer.succeed(Gossip, gossip),
          PeerKeys.layer,
          MeshEvents.layer
        ))
      )
    )
    mesh.router = Context.get(context, Router)
    return mesh as FakeMesh
  })
