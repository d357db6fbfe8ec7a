import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { MemoryNetwork } from "../../src/layers/MemoryNetwork.ts"
import { Mesh } from "../../src/services/Mesh.ts"
import { graph, isConnectedGraph, received, startNodes, waitFor, withinBounds } from "../support/memoryMesh.ts"

describe("mesh on a memory network", () => {
  it.live("16 nodes form a connected mesh within [minPeers, maxPeers] and every broadcast reaches every node once", () =>
    Effect.gen(function*() {
      const network = new MemoryNetwork({ latencyMs: 2 })
      const nodes = yield* startNodes(network, 16, { maxPeers: 4, minPeers: 2 })
      yield* waitFor(
        "bounds and connectivity",
        Effect.map(graph(nodes), (g) => withinBounds(g, 2, 4) && isConnectedGraph(g))
      )
      const ids: Array<string> = []
      for (const node of nodes.slice(0, 4)) {
        ids.push(yield* node.run(Mesh.use((m) => m.sendMessage({ text: `hello from ${node.peerId}` }))))
      }
      yield* waitFor(
        "all broadcasts delivered",
        Effect.sync(() => nodes.every((n, i) => received(n).length === (i < 4 ? 3 : 4)))
      )
      for (const [i, node] of nodes.entries()) {
        const got = received(node).map((m) => m.messageId).sort()
        const expected = ids.filter((_, j) => j !== i).sort()
        assert.deepStrictEqual(got, expected)
        for (const m of received(node)) assert.isTrue(m.verified)
      }
    }).pipe(Effect.scoped), 60_000)
})
