/** Storage on memory-network nodes: each node gets a CryptoManager and a DistributedStorage over its own Dht. */
import { Context, Effect, Exit, Layer, PubSub, Scope } from "effect"
import { CryptoManager } from "../../src/crypto/CryptoManager.ts"
import { KeyDirectory } from "../../src/crypto/KeyDirectory.ts"
import { MemoryNetwork } from "../../src/layers/MemoryNetwork.ts"
import { DistributedStorage, type StorageEvent, type StorageOptions } from "../../src/services/DistributedStorage.ts"
import { makeMeshLayer } from "../../src/layers/Mesh.ts"
import { Identity } from "../../src/services/Identity.ts"
import { Mesh } from "../../src/services/Mesh.ts"
import type { MeshOptions } from "../../src/services/MeshConfig.ts"
import { fastOptions, graph, isConnectedGraph, type NodeServices, startNodes, type TestNode, waitFor, withinBounds } from "../support/memoryMesh.ts"

export interface StorageNode {
  readonly node: TestNode
  readonly id: string
  readonly storage: DistributedStorage["Service"]
  readonly crypto: CryptoManager["Service"]
  /** Every storage event since start. */
  readonly events: Array<StorageEvent>
}

export const meshOptions = { maxPeers: 5, minPeers: 2, presenceInterval: 1000, dht: { replicateInterval: 2000, rpcTimeout: 2000 } }

/** Storage (and crypto) on `node`, in the caller's Scope. */
export const withStorage = (node: TestNode) =>
  Effect.gen(function*() {
    const storage = Context.get(node.context, DistributedStorage)
    const crypto = Context.get(node.context, CryptoManager)
    yield* Effect.orDie(crypto.init)
    const events: Array<StorageEvent> = []
    const subscription = yield* storage.events
    yield* Effect.forkScoped(Effect.forever(Effect.map(PubSub.take(subscription), (e) => events.push(e))))
    return { node, id: node.peerId as string, storage, crypto, events } satisfies StorageNode
  })

/**
 * `n` nodes with storage on one memory network, linked into one mesh, each with its
 * encryption key published in the key directory (readers' keys are resolved there).
 */
export const startStorageMesh = (
  n: number,
  config: Partial<StorageOptions> = {},
  network = new MemoryNetwork({ latencyMs: 1 }),
  mesh: Partial<MeshOptions> = {}
) =>
  Effect.gen(function*() {
    const nodes = yield* startNodes(network, n, { ...meshOptions, ...mesh, storage: config })
    yield* waitFor("mesh formed", Effect.map(graph(nodes), (g) => withinBounds(g, 2, 5) && isConnectedGraph(g)), 30_000)
    const peers = yield* Effect.forEach(nodes, withStorage)
    yield* waitFor(
      "every key in the directory",
      Effect.map(Effect.forEach(nodes, (n) => n.run(KeyDirectory.use((d) => d.published))), (all) => all.every(Boolean)),
      30_000
    )
    return peers
  })

/** The peer whose Scope ends first: for stopping a node on purpose. */
export const scoped = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.flatMap(Scope.make(), (scope) => Scope.provide(effect, scope))

export const eventsOf = <T extends StorageEvent["_tag"]>(p: StorageNode, tag: T, key: string) =>
  p.events.filter((e): e is Extract<StorageEvent, { _tag: T }> => e._tag === tag && e.key === key)

/** A node with storage that keeps `identity` (a restart of the same peer), on `network`, in its own Scope. */
export const startPeer = (
  network: MemoryNetwork,
  identity: Identity["Service"],
  config: Partial<StorageOptions> = {},
  mesh: Partial<MeshOptions> = {}
) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(
      makeMeshLayer({ ...fastOptions, ...meshOptions, ...mesh, storage: config }, network.layer, Layer.succeed(Identity, identity)),
      scope
    ).pipe(Effect.orDie)
    const run = <A, E>(effect: Effect.Effect<A, E, NodeServices>) => Effect.provide(effect, context)
    yield* run(Mesh.use((m) => m.connect("memory://test"))).pipe(Effect.orDie)
    const node: TestNode = { peerId: identity.peerId, context, events: [], run, stop: Scope.close(scope, Exit.void) }
    const peer = yield* withStorage(node).pipe(Scope.provide(scope))
    return peer
  })
