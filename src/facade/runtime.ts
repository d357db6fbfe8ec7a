/**
 * The runtime behind a `PeerPigeonMesh`: `makeMeshLayer` in a `ManagedRuntime`, with the
 * fiber that turns the mesh's events and DHT changes into facade events. Both subscriptions
 * exist before `startRuntime` resolves, so no event of the new runtime is missed.
 *
 * @since 2.0.0
 */
import { Cause, Effect, Exit, Layer, ManagedRuntime, PubSub, Stream } from "effect"
import { layer as debugLoggerLayer } from "../DebugLogger.ts"
import { makeMeshLayer, type Platform } from "../layers/Mesh.ts"
import type { PeerId } from "../schema/PeerId.ts"
import { Dht, type DhtChange } from "../services/Dht.ts"
import { DistributedStorage, type StorageEvent } from "../services/DistributedStorage.ts"
import { Identity } from "../services/Identity.ts"
import type { MeshStatus } from "../services/Mesh.ts"
import type { MeshOptions } from "../services/MeshConfig.ts"
import { type MeshEvent, MeshEvents } from "../services/MeshEvents.ts"
import { type IncomingStream, type StreamEvent, Streams } from "../services/Streams.ts"

export type Services = Layer.Success<ReturnType<typeof makeMeshLayer>>
export type Runtime = ManagedRuntime.ManagedRuntime<Services, unknown>

/** An Exit's value, or its failure thrown (typed errors as themselves). */
export const unwrap = <A>(exit: Exit.Exit<A, unknown>): A => {
  if (Exit.isSuccess(exit)) return exit.value
  throw Cause.squash(exit.cause)
}

export interface Listeners {
  readonly event: (event: MeshEvent) => void
  readonly dhtChange: (change: DhtChange) => void
  readonly streamEvent: (event: StreamEvent) => void
  /** A stream another peer opened, already accepted: read it or abort it. */
  readonly incomingStream: (stream: IncomingStream) => void
  readonly storageEvent: (event: StorageEvent) => void
}

/** Builds the runtime and subscribes `listeners`; a failure to start disposes what was built. */
export const startRuntime = async (
  options: MeshOptions,
  platform: Platform,
  identity: Identity["Service"],
  listeners: Listeners
): Promise<Runtime> => {
  const runtime: Runtime = ManagedRuntime.make(
    makeMeshLayer(options, platform, Layer.succeed(Identity, identity)).pipe(Layer.provideMerge(debugLoggerLayer))
  )
  const subscribed = Promise.withResolvers<void>()
  runtime.runFork(
    Effect.gen(function*() {
      const subscription = yield* MeshEvents.use((pubsub) => PubSub.subscribe(pubsub))
      // started at once, so the DHT's PubSub is subscribed before anyone can subscribe a key
      yield* Dht.use((d) => d.changes.pipe(Stream.runForEach((change) => Effect.sync(() => listeners.dhtChange(change))))).pipe(
        Effect.forkScoped({ startImmediately: true })
      )
      const streams = yield* Streams
      const streamEvents = yield* streams.events
      yield* Effect.forever(Effect.map(PubSub.take(streamEvents), listeners.streamEvent)).pipe(Effect.forkScoped)
      yield* Effect.forever(Effect.map(streams.accept, listeners.incomingStream)).pipe(Effect.forkScoped)
      const storageEvents = yield* DistributedStorage.use((s) => s.events)
      yield* Effect.forever(Effect.map(PubSub.take(storageEvents), listeners.storageEvent)).pipe(Effect.forkScoped)
      subscribed.resolve()
      while (true) listeners.event(yield* PubSub.take(subscription))
    }).pipe(Effect.scoped)
  ).addObserver((exit) => {
    if (Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)) subscribed.reject(Cause.squash(exit.cause))
  })
  await subscribed.promise.catch(async (error: unknown) => {
    await runtime.dispose()
    throw error
  })
  return runtime
}

/** The status before `init()` (or after `disconnect()`): the options, nothing connected. */
export const offlineStatus = (o: MeshOptions, peerId: string, verified: boolean): MeshStatus => ({
  peerId: peerId as PeerId,
  verified,
  networkName: o.networkName,
  connected: false,
  signalingUrl: undefined,
  connectedCount: 0,
  connectingCount: 0,
  discoveredCount: 0,
  maxPeers: o.maxPeers,
  minPeers: o.minPeers,
  autoDiscovery: o.autoDiscovery,
  evictionStrategy: o.evictionStrategy,
  xorRouting: o.xorRouting,
  connectionType: "websocket",
  transport: "",
  uptime: 0
})
