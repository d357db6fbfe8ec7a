/**
 * Test helpers for meshes on a `MemoryNetwork`: start N nodes, wait for a state (polling
 * with a deadline, never a fixed sleep), and check the link graph.
 */
import { Context, Effect, Exit, Layer, PubSub, Scope } from "effect"
import { makeMeshLayer } from "../../src/layers/Mesh.ts"
import type { MemoryNetwork } from "../../src/layers/MemoryNetwork.ts"
import type { PeerId } from "../../src/schema/PeerId.ts"
import { Connections } from "../../src/services/Connections.ts"
import { Mesh } from "../../src/services/Mesh.ts"
import type { MeshOptions } from "../../src/services/MeshConfig.ts"
import { type MeshEvent, MeshEvents } from "../../src/services/MeshEvents.ts"

export type NodeServices = Layer.Success<ReturnType<typeof makeMeshLayer>>

export interface TestNode {
  readonly peerId: PeerId
  readonly context: Context.Context<NodeServices>
  /** Every event since start. */
  readonly events: Array<MeshEvent>
  readonly run: <A, E>(effect: Effect.Effect<A, E, NodeServices>) => Effect.Effect<A, E>
  /** Closes this node (its links drop, signaling says goodbye). */
  readonly stop: Effect.Effect<void>
}

export const fastOptions: Partial<MeshOptions> = {
  optimizeInterval: 150,
  presenceInterval: 250,
  connectionTimeout: 3000
}

export const startNode = Effect.fnUntraced(function*(
  network: MemoryNetwork,
  options: Partial<MeshOptions> = {}
): Effect.fn.Return<TestNode, never, Scope.Scope> {
  const parent = yield* Effect.scope
  const scope = yield* Scope.fork(parent, "sequential")
  const context = yield* Layer.buildWithScope(makeMeshLayer({ ...fastOptions, ...options }, network.layer), scope).pipe(Effect.orDie)
  const events: Array<MeshEvent> = []
  const subscription = yield* PubSub.subscribe(Context.get(context, MeshEvents)).pipe(Scope.provide(scope))
  yield* Effect.gen(function*() {
    while (true) events.push(yield* PubSub.take(subscription))
  }).pipe(Effect.forkIn(scope))
  const run = <A, E>(effect: Effect.Effect<A, E, NodeServices>) => Effect.provide(effect, context)
  yield* run(Mesh.use((m) => m.connect("memory://test"))).pipe(Effect.orDie)
  return {
    peerId: Context.get(context, Mesh).peerId,
    context,
    events,
    run,
    stop: Scope.close(scope, Exit.void)
  }
})

export const startNodes = (network: MemoryNetwork, n: number, options: Partial<MeshOptions> = {}) =>
  Effect.forEach(Array.from({ length: n }, (_, i) => i), () => startNode(network, options))

/** Polls `check` every 25 ms until it holds; fails with `what` after `timeoutMs`. */
export const waitFor = (what: string, check: Effect.Effect<boolean>, timeoutMs = 20_000) =>
  Effect.gen(function*() {
    while (!(yield* check)) yield* Effect.sleep(25)
  }).pipe(
    Effect.timeoutOrElse({ duration: timeoutMs, orElse: () => Effect.die(new Error(`timed out waiting for: ${what}`)) })
  )

export const connectedOf = (node: TestNode) => node.run(Connections.use((c) => c.connected))

/** Links the given pairs by hand (autoDiscovery off) and waits until they are up. */
export const wire = (nodes: ReadonlyArray<TestNode>, edges: ReadonlyArray<readonly [number, number]>) =>
  Effect.gen(function*() {
    for (const [a, b] of edges) yield* nodes[a]!.run(Mesh.use((m) => m.connectToPeer(nodes[b]!.peerId)))
    yield* waitFor(
      "hand-made links up",
      Effect.gen(function*() {
        for (const [a, b] of edges) {
          if (!(yield* connectedOf(nodes[a]!)).includes(nodes[b]!.peerId)) return false
        }
        return true
      })
    )
  })

/** The link graph: every node's connected peers. */
export const graph = (nodes: ReadonlyArray<TestNode>) =>
  Effect.forEach(nodes, (n) => Effect.map(connectedOf(n), (peers) => [n.peerId, peers] as const)).pipe(
    Effect.map((entries) => new Map<PeerId, ReadonlyArray<PeerId>>(entries))
  )

/** True when every node is linked to every other through the graph (links counted from both ends). */
export const isConnectedGraph = (g: ReadonlyMap<PeerId, ReadonlyArray<PeerId>>): boolean => {
  const ids = [...g.keys()]
  if (ids.length === 0) return true
  const adjacency = new Map<PeerId, Set<PeerId>>(ids.map((id) => [id, new Set()]))
  for (const [a, peers] of g) {
    for (const b of peers) {
      adjacency.get(a)?.add(b)
      adjacency.get(b)?.add(a)
    }
  }
  const seen = new Set<PeerId>([ids[0]!])
  const stack = [ids[0]!]
  while (stack.length > 0) {
    for (const next of adjacency.get(stack.pop()!) ?? []) {
      if (!seen.has(next)) {
        seen.add(next)
        stack.push(next)
      }
    }
  }
  return ids.every((id) => seen.has(id))
}

export const withinBounds = (g: ReadonlyMap<PeerId, ReadonlyArray<PeerId>>, min: number, max: number) =>
  [...g.values()].every((peers) => peers.length >= min && peers.length <= max)

export const received = (node: TestNode) =>
  node.events.filter((e): e is Extract<MeshEvent, { _tag: "MessageReceived" }> => e._tag === "MessageReceived")
