/**
 * The composition root: `makeMeshLayer(options, platform)` builds every service of a mesh
 * node over a platform (a `PeerTransport` and a `Signaling`): WebRTC and WebSocket in Node
 * or browsers, or a `MemoryNetwork` in tests and simulations.
 *
 * @since 2.0.0
 */
import { Clock, Effect, Layer, PubSub } from "effect"
import { CryptoConfig, cryptoDefaults, CryptoManager } from "../crypto/CryptoManager.ts"
import { KeyDirectory } from "../crypto/KeyDirectory.ts"
import { E2E_KIND, makeEncryptedMessaging } from "../crypto/messaging.ts"
import { supervised } from "../internal/supervise.ts"
import { Connections } from "../services/Connections.ts"
import { DhtConfig, dhtDefaults } from "../services/Dht.ts"
import { StorageConfig } from "../services/DistributedStorage.ts"
import { Discovery } from "../services/Discovery.ts"
import { type Delivered, Gossip } from "../services/Gossip.ts"
import type { PeerId } from "../schema/PeerId.ts"
import { Identity, type IdentityError } from "../services/Identity.ts"
import { Mesh } from "../services/Mesh.ts"
import { InvalidMeshOptions, MeshConfig, type MeshOptions, resolveMeshOptions } from "../services/MeshConfig.ts"
import { MeshEvents } from "../services/MeshEvents.ts"
import { PeerKeys } from "../services/PeerKeys.ts"
import { PeerTransport } from "../services/PeerTransport.ts"
import { Router } from "../services/Router.ts"
import { Signaling } from "../services/Signaling.ts"
import { Streams } from "../services/Streams.ts"
import * as ConnectionsLayer from "./Connections.ts"
import * as DhtLayer from "./Dht.ts"
import * as DiscoveryLayer from "./Discovery.ts"
import * as GossipLayer from "./Gossip.ts"
import * as MediaLayer from "./Media.ts"
import * as RouterLayer from "./Router.ts"
import * as StorageLayer from "./DistributedStorage.ts"
import * as StreamsLayer from "./Streams.ts"

/** What a platform provides to a mesh node. */
export type Platform<E = never, R = never> = Layer.Layer<PeerTransport | Signaling, E, Identity | MeshConfig | R>

const meshService = Layer.effect(
  Mesh,
  Effect.gen(function*() {
    const config = yield* MeshConfig
    const identity = yield* Identity
    const signaling = yield* Signaling
    const connections = yield* Connections
    const discovery = yield* Discovery
    const gossip = yield* Gossip
    const router = yield* Router
    const events = yield* MeshEvents
    const transport = yield* PeerTransport
    const streams = yield* Streams
    const crypto = yield* CryptoManager
    const encrypted = makeEncryptedMessaging({
      crypto,
      directory: yield* KeyDirectory,
      router,
      gossip,
      neighbours: connections.connected,
      events,
      maxMessageSize: config.maxMessageSize,
      maxPlaintextBytes: (yield* CryptoConfig).maxPlaintextBytes ?? cryptoDefaults.maxPlaintextBytes
    })
    let signalingUrl: string | undefined
    /** When `connect` last succeeded: `uptime` counts from it (0 while not connected). */
    let connectedAt: number | undefined

    // user messages from gossip and routing become MessageReceived events; `ttl` is what the
    // frame had left on arrival (supervised: a defect here would silence every message)
    const forward = (direct: boolean) => (subscription: PubSub.Subscription<Delivered>) =>
      supervised(direct ? "Mesh.directMessages" : "Mesh.broadcasts", Effect.gen(function*() {
        while (true) {
          const m = yield* PubSub.take(subscription)
          if (m.kind === "binary") {
            if (m.payload === undefined) continue
            yield* PubSub.publish(events, {
              _tag: "BinaryMessageReceived",
              from: m.origin,
              // a copy: the bytes may be a view of a frame still being forwarded
              data: m.payload.slice(),
              direct,
              messageId: m.id,
              hops: m.hops,
              timestamp: m.timestamp,
              verified: m.verified
            })
            continue
          }
          if (yield* encrypted.receive(m, direct)) continue
          if (m.kind !== "message") continue
          yield* PubSub.publish(events, {
            _tag: "MessageReceived",
            from: m.origin,
            content: m.content,
            direct,
            hops: m.hops,
            ttl: m.ttl,
            encrypted: false,
            messageId: m.id,
            timestamp: m.timestamp,
            verified: m.verified
          })
        }
      })).pipe(Effect.forkScoped)
    yield* forward(false)(yield* gossip.subscribe)
    yield* forward(true)(yield* router.subscribe)

    // crypto events become mesh events (for the facade's cryptoReady, peerKeyAdded, cryptoError)
    const cryptoEvents = yield* crypto.subscribe
    yield* supervised("Mesh.cryptoEvents", Effect.gen(function*() {
      while (true) {
        const e = yield* PubSub.take(cryptoEvents)
        if (e._tag === "CryptoReady") yield* PubSub.publish(events, { _tag: "CryptoReady", publicKey: e.publicKey })
        else if (e._tag === "PeerKeyAdded") yield* PubSub.publish(events, { _tag: "PeerKeyAdded", peerId: e.peerId as PeerId })
        else if (e._tag === "KeyAnnounced") yield* encrypted.announce(e.announcement)
        else if (e._tag === "CryptoError") {
          yield* PubSub.publish(events, { _tag: "CryptoFailed", reason: e.error.reason, message: e.error.message })
        }
      }
    })).pipe(Effect.forkScoped)
    /** Makes the encryption key before the first link (a custom id has none: its envelopes would be refused). */
    const initCrypto = config.enableCrypto && identity.verified ? Effect.ignore(crypto.init) : Effect.void

    // a user's direct message its target never acknowledged becomes MessageFailed
    const undelivered = yield* router.undelivered
    yield* Effect.gen(function*() {
      while (true) {
        const u = yield* PubSub.take(undelivered)
        if (u.kind !== "message" && u.kind !== "binary" && u.kind !== E2E_KIND) continue
        yield* PubSub.publish(events, {
          _tag: "MessageFailed",
          messageId: u.id,
          to: u.to,
          reason: `not acknowledged by ${u.to} after ${u.attempts} attempts`
        })
      }
    }).pipe(Effect.forkScoped)

    const disconnect = Effect.gen(function*() {
      // the other ends of open streams hear it first, while the links are still up
      yield* streams.closeAll("the peer left")
      yield* signaling.disconnect
      connectedAt = undefined
      for (const peer of yield* connections.links) yield* connections.disconnect(peer.peerId, "disconnect")
    })

    return Mesh.of({
      peerId: identity.peerId,
      connect: (url) =>
        Effect.tap(Effect.andThen(initCrypto, signaling.connect(url)), () =>
          Effect.map(Clock.currentTimeMillis, (now) => {
            signalingUrl = url
            connectedAt = now
          })),
      disconnect,
      sendMessage: (content, options) => gossip.publish(content, "message", options),
      sendDirectMessage: (to, content, options) =>
        options?.encrypt === true
          ? encrypted.sendEncryptedMessage(to, content, options.id === undefined ? {} : { id: options.id })
          : router.send(to, content, "message", options?.id === undefined ? {} : { id: options.id }),
      sendEncryptedMessage: encrypted.sendEncryptedMessage,
      sendEncryptedBroadcast: encrypted.sendEncryptedBroadcast,
      createGroup: encrypted.createGroup,
      addToGroup: encrypted.addToGroup,
      removeFromGroup: encrypted.removeFromGroup,
      sendBinaryData: (to, data, options) => router.send(to, data.byteLength, "binary", { ...options, payload: data.slice() }),
      broadcastBinaryData: (data, options) => gossip.publish(data.byteLength, "binary", { ...options, payload: data.slice() }),
      connectToPeer: (peerId) => connections.connect(peerId),
      disconnectPeer: (peerId) => connections.disconnect(peerId, "manual"),
      configure: (patch) =>
        Effect.gen(function*() {
          // the services read these settings live, so the next optimizer pass applies them
          const next = yield* Effect.try({
            try: () => resolveMeshOptions({ ...config, ...patch }),
            catch: (e) => e instanceof InvalidMeshOptions ? e : new InvalidMeshOptions([String(e)])
          })
          Object.assign(config, next)
          yield* discovery.optimize
        }),
      status: Effect.gen(function*() {
        const links = yield* connections.links
        const now = yield* Clock.currentTimeMillis
        return {
          peerId: identity.peerId,
          verified: identity.verified,
          networkName: config.networkName,
          connected: yield* signaling.isConnected,
          signalingUrl,
          connectedCount: links.filter((l) => l.status === "connected").length,
          connectingCount: links.filter((l) => l.status === "connecting").length,
          discoveredCount: (yield* discovery.discovered).length,
          maxPeers: config.maxPeers,
          minPeers: config.minPeers,
          autoDiscovery: config.autoDiscovery,
          evictionStrategy: config.evictionStrategy,
          xorRouting: config.xorRouting,
          connectionType: "websocket",
          transport: transport.kind,
          uptime: connectedAt === undefined ? 0 : now - connectedAt
        }
      })
    })
  })
)

/**
 * Every service of a mesh node over `platform`, configured by `options`. `identity` keeps a
 * peer's key pair across restarts (by default a fresh one is made).
 */
export const makeMeshLayer = <E, R, IE = IdentityError>(
  options: Partial<MeshOptions>,
  platform: Platform<E, R>,
  identity: Layer.Layer<Identity, IE> = Identity.layer(options.peerId) as Layer.Layer<Identity, IE>
) => {
  const foundation = Layer.mergeAll(
    MeshConfig.layer(options),
    identity,
    MeshEvents.layer,
    PeerKeys.layer
  )
  const crypto = options.enableCrypto === false ? CryptoManager.layerDisabled : CryptoManager.layer
  const dht = options.enableWebDHT === false
    ? DhtLayer.layerDisabled
    : DhtLayer.layer.pipe(Layer.provide(Layer.succeed(DhtConfig, { ...dhtDefaults, ...options.dht })))
  const storage = StorageLayer.layer.pipe(Layer.provide(Layer.succeed(StorageConfig, options.storage ?? {})))
  return meshService.pipe(
    Layer.provideMerge(MediaLayer.layer),
    Layer.provideMerge(storage),
    Layer.provideMerge(StreamsLayer.layer),
    Layer.provideMerge(KeyDirectory.layer),
    Layer.provideMerge(dht),
    Layer.provideMerge(DiscoveryLayer.layer),
    Layer.provideMerge(RouterLayer.layer),
    Layer.provideMerge(GossipLayer.layer),
    Layer.provideMerge(ConnectionsLayer.layer),
    Layer.provideMerge(platform),
    Layer.provideMerge(Layer.provideMerge(crypto, foundation))
  )
}
