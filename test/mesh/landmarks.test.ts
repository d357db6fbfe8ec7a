/**
 * Landmark presence on a memory network of 48 nodes (issue 15): the presence a peer sends and
 * forwards is bounded by the landmarks' formula rather than growing with the network (counted
 * messages, not time), every peer registers with a home landmark, and direct messages between
 * random pairs take routes close to the shortest path in the link graph (BFS).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { MemoryNetwork } from "../../src/layers/MemoryNetwork.ts"
import type { PeerId } from "../../src/schema/PeerId.ts"
import { Connections } from "../../src/services/Connections.ts"
import { Mesh } from "../../src/services/Mesh.ts"
import { Router } from "../../src/services/Router.ts"
import { prng } from "../support/random.ts"
import { graph, isConnectedGraph, received, startNodes, type TestNode, waitFor } from "../support/memoryMesh.ts"

const N = 48
const PRESENCE = 250

const hopsFrom = (g: ReadonlyMap<PeerId, ReadonlyArray<PeerId>>, from: PeerId): Map<PeerId, number> => {
  const dist = new Map([[from, 0]])
  let frontier = [from]
  while (frontier.length > 0) {
    const next: Array<PeerId> = []
    for (const id of frontier) {
      for (const m of g.get(id) ?? []) {
        if (!dist.has(m)) {
          dist.set(m, dist.get(id)! + 1)
          next.push(m)
        }
      }
    }
    frontier = next
  }
  return dist
}

const settled = (nodes: ReadonlyArray<TestNode>) => {
  let last = ""
  return Effect.gen(function*() {
    const links = yield* Effect.forEach(nodes, (n) => n.run(Connections.use((c) => c.links)))
    const now = JSON.stringify(links.map((ls) => ls.map((l) => `${l.peerId}:${l.status}`).sort()))
    const same = now === last && links.every((ls) => ls.every((l) => l.status === "connected"))
    last = now
    return same && isConnectedGraph(yield* graph(nodes))
  })
}

describe("landmarks", () => {
  it.live("presence stays within the landmark budget, every peer has a home, and routes stay short", () =>
    Effect.gen(function*() {
      const network = new MemoryNetwork({ latencyMs: 1, countKinds: true })
      const nodes = yield* startNodes(network, N, { maxPeers: 3, minPeers: 2, presenceInterval: PRESENCE, enableWebDHT: false })
      yield* waitFor("formed and settled", settled(nodes), 60_000)
      // every peer knows a live landmark to head for (its own home, or itself being one)
      yield* waitFor(
        "every peer has a home landmark",
        Effect.map(Effect.forEach(nodes, (n) => n.run(Router.use((r) => r.homeOf(n.peerId)))), (homes) => homes.every((h) => h !== undefined)),
        30_000
      )

      // presence over 40 presence intervals, counted in messages
      const before = network.stats.byKind.get("gossip:presence") ?? 0
      const registrationsBefore = network.stats.byKind.get("direct:route") ?? 0
      yield* Effect.sleep(40 * PRESENCE)
      const perNodePerInterval = ((network.stats.byKind.get("gossip:presence") ?? 0) - before) / N / 40
      const registrations = (network.stats.byKind.get("direct:route") ?? 0) - registrationsBefore
      // every peer's presence would cost each peer about N * (mean degree - 1) per interval
      // (about 90 here); landmarks cost about 4 * (degree - 1), up to twice that where peers
      // underestimate N: at most a quarter of the former
      const g0 = yield* graph(nodes)
      const meanDegree = [...g0.values()].reduce((a, l) => a + l.length, 0) / N
      const everyone = N * (meanDegree - 1)
      assert.isBelow(perNodePerInterval, everyone / 4, `presence per node per interval: ${perNodePerInterval} (every peer's: ${everyone})`)
      assert.isAbove(perNodePerInterval, 0)
      assert.isAbove(registrations, 0)

      // direct messages between random pairs
      const g = yield* graph(nodes)
      const random = prng(21)
      const sent: Array<{ to: TestNode; id: string; shortest: number }> = []
      for (let i = 0; i < 40; i++) {
        const from = nodes[Math.floor(random() * N)]!
        let to = nodes[Math.floor(random() * N)]!
        while (to === from) to = nodes[Math.floor(random() * N)]!
        const shortest = hopsFrom(g, from.peerId).get(to.peerId)!
        sent.push({ to, shortest, id: yield* from.run(Mesh.use((m) => m.sendDirectMessage(to.peerId, { i }))) })
      }
      yield* waitFor("every direct message delivered", Effect.sync(() => sent.every(({ id, to }) => received(to).some((m) => m.messageId === id))))
      const stretch = sent.map(({ id, shortest, to }) => received(to).find((m) => m.messageId === id)!.hops / shortest)
      const mean = stretch.reduce((a, b) => a + b, 0) / stretch.length
      assert.isAtMost(mean, 2, `mean stretch ${mean}`)
    }).pipe(Effect.scoped), 180_000)
})
