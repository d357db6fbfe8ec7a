import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { KeyDirectory } from "../../src/crypto/KeyDirectory.ts"
import { ringOf } from "../../src/internal/ring.ts"
import { MemoryNetwork } from "../../src/layers/MemoryNetwork.ts"
import { Connections } from "../../src/services/Connections.ts"
import { Mesh } from "../../src/services/Mesh.ts"
import { Router } from "../../src/services/Router.ts"
import { prng } from "../support/random.ts"
import { graph, isConnectedGraph, received, startNodes, type TestNode, waitFor, withinBounds } from "../support/memoryMesh.ts"

/** Every node is linked to both of its ring neighbours among `nodes`, and the graph is connected. */
const ringHolds = (nodes: ReadonlyArray<TestNode>) =>
  Effect.map(graph(nodes), (g) => {
    const ids = nodes.map((n) => n.peerId)
    const ringLinked = nodes.every((n) => [...ringOf(n.peerId, ids)].every((r) => g.get(n.peerId)?.includes(r)))
    return ringLinked && isConnectedGraph(g) && withinBounds(g, 2, 3)
  })

describe("the ring keeps the mesh connected", () => {
  it.live("40 nodes that each learn only 2 close peers (no presence, no random picks) form one mesh, also through churn", () =>
    Effect.gen(function*() {
      // with closeness alone, nodes cluster by id prefix and the clusters never meet
      const network = new MemoryNetwork({ latencyMs: 1, discoveryK: 2, discoveryRandom: 0 })
      const options = { maxPeers: 3, minPeers: 2, presenceInterval: 0 }
      const nodes = yield* startNodes(network, 40, options)
      yield* waitFor("ring links, bounds and connectivity", ringHolds(nodes), 30_000)

      // a quarter of the nodes leave one after another; their ring neighbours close the gaps
      const random = prng(5)
      const alive = [...nodes]
      for (let i = 0; i < 10; i++) {
        const [gone] = alive.splice(Math.floor(random() * alive.length), 1)
        yield* gone!.stop
      }
      yield* waitFor("the ring closes over the gaps", ringHolds(alive), 30_000)
      const newcomers = yield* startNodes(network, 5, options)
      yield* waitFor("newcomers join the ring", ringHolds([...alive, ...newcomers]), 30_000)
      assert.isTrue(isConnectedGraph(yield* graph([...alive, ...newcomers])))
    }).pipe(Effect.scoped), 120_000)

  it.live("direct messages find their way without flooding: greedy XOR, then up the ring", () =>
    Effect.gen(function*() {
      const network = new MemoryNetwork({ latencyMs: 1, discoveryK: 2, discoveryRandom: 0 })
      const nodes = yield* startNodes(network, 40, { maxPeers: 3, minPeers: 2, presenceInterval: 0 })
      yield* waitFor("ring links, bounds and connectivity", ringHolds(nodes), 30_000)
      // and settled: no link being set up, and the same graph on two looks in a row (a link that
      // closes under a message in flight is what retransmission, by flooding, is for)
      let last = ""
      yield* waitFor("the mesh settles", Effect.gen(function*() {
        const links = yield* Effect.forEach(nodes, (n) => n.run(Connections.use((c) => c.links)))
        const now = JSON.stringify(links.map((ls) => ls.map((l) => `${l.peerId}:${l.status}`).sort()))
        const settled = now === last && links.every((ls) => ls.every((l) => l.status === "connected")) && (yield* ringHolds(nodes))
        last = now
        return settled
      }), 30_000)
      // the DHT's own traffic (each peer publishing its encryption key) is over, and counted apart
      yield* waitFor("keys published", Effect.map(Effect.forEach(nodes, (n) => n.run(KeyDirectory.use((d) => d.published))), (p) => p.every(Boolean)), 30_000)
      const flooded = Effect.map(Effect.forEach(nodes, (n) => n.run(Router.use((r) => r.stats))), (all) => all.reduce((a, s) => a + s.flooded, 0))
      const before = yield* flooded
      const random = prng(8)
      const sent: Array<[TestNode, string]> = []
      for (let i = 0; i < 30; i++) {
        const from = nodes[Math.floor(random() * nodes.length)]!
        let to = nodes[Math.floor(random() * nodes.length)]!
        while (to === from) to = nodes[Math.floor(random() * nodes.length)]!
        sent.push([to, yield* from.run(Mesh.use((m) => m.sendDirectMessage(to.peerId, { i })))])
      }
      yield* waitFor("every direct message delivered", Effect.sync(() => sent.every(([to, id]) => received(to).some((m) => m.messageId === id))))
      assert.strictEqual((yield* flooded) - before, 0)
      for (const [to, id] of sent) assert.strictEqual(received(to).filter((m) => m.messageId === id).length, 1)
    }).pipe(Effect.scoped), 120_000)
})
