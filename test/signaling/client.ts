/**
 * Test helpers for `WsSignaling`: a real server as a scoped resource, and a client whose
 * events are read in order with `next(tag)`, bounded in time, so tests wait for an event,
 * never for a fixed delay.
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import { Context, Effect, Layer, PubSub } from "effect"
import * as WsSignaling from "../../src/layers/WsSignaling.ts"
import { PeerPigeonServer, type PeerPigeonServerOptions } from "../../src/server/index.ts"
import { Identity } from "../../src/services/Identity.ts"
import { MeshConfig } from "../../src/services/MeshConfig.ts"
import { Signaling, type SignalingEvent } from "../../src/services/Signaling.ts"

/** A started server on 127.0.0.1, stopped when the Scope closes (stopping twice is harmless). */
export const startServer = (options: PeerPigeonServerOptions = {}) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const server = new PeerPigeonServer({ host: "127.0.0.1", port: 0, ...options })
      await server.start()
      return server
    }),
    (server) => Effect.promise(() => server.stop())
  )

/** Fast reconnection so outage tests take well under a second. */
export const fastOptions = (options: Partial<WsSignaling.WsSignalingOptions> = {}) =>
  WsSignaling.layerOptions({ connectTimeout: "5 seconds", backoff: { baseMs: 50, maxMs: 400 }, ...options })

export interface ClientOptions extends Partial<WsSignaling.WsSignalingOptions> {
  readonly networkName?: string
  readonly peerId?: string
}

export const clientLayer = ({ networkName, peerId, ...options }: ClientOptions = {}) =>
  Layer.fresh(WsSignaling.layer).pipe(
    Layer.provide(fastOptions(options)),
    Layer.provideMerge(Layer.mergeAll(
      Identity.layer(peerId),
      MeshConfig.layer({ networkName: networkName ?? "test" }),
      NodeSocket.layerWebSocketConstructor
    ))
  )

type Tag = SignalingEvent["_tag"]
type EventOf<T extends Tag> = Extract<SignalingEvent, { readonly _tag: T }>

/** A client built in the current Scope, subscribed before anything happens. */
export const makeClient = Effect.fnUntraced(function*(options: ClientOptions = {}) {
  const context = yield* Layer.build(clientLayer(options))
  const signaling = Context.get(context, Signaling)
  const identity = Context.get(context, Identity)
  const subscription = yield* signaling.subscribe
  const seen: Array<SignalingEvent> = []
  /** The next event with this tag (and predicate); earlier events of other kinds are skipped. */
  const next = <T extends Tag>(tag: T, predicate: (e: EventOf<T>) => boolean = () => true, timeout = "10 seconds" as const) =>
    Effect.gen(function*() {
      while (true) {
        const event = yield* PubSub.take(subscription)
        seen.push(event)
        if (event._tag === tag && predicate(event as EventOf<T>)) return event as EventOf<T>
      }
    }).pipe(
      Effect.timeoutOrElse({
        duration: timeout,
        orElse: () => Effect.die(new Error(`no ${tag} event within ${timeout}; saw ${JSON.stringify(seen.map((e) => e._tag))}`))
      })
    )
  return { signaling, identity, peerId: identity.peerId, next, seen }
})
