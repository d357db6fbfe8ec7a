import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { MemoryNetwork } from "../../src/layers/MemoryNetwork.ts"
import { Connections } from "../../src/services/Connections.ts"
import { Mesh } from "../../src/services/Mesh.ts"
import {
  connectedOf,
  graph,
  isConnectedGraph,
  received,
  startNodes,
  type TestNode,
  waitFor,
  wire,
  withinBounds
} from "../support/memoryMesh.ts"

const heal = (nodes: ReadonlyArray<TestNode>, min: number, max: number) =>
  Effect.gen(function*() {
    for (const node of nodes) yield* node.run(Mesh.use((m) => m.configure({ autoDiscovery: true, maxPeers: max, minPeers: min })))
    let last = ""
    yield* waitFor(
      "bounds and connectivity",
      Effect.map(graph(nodes), (g) => {
        last = [...g.values()].map((p) => p.length).join(",") + (isConnectedGraph(g) ? " connected" : " split")
        return withinBounds(g, min, max) && isConnectedGraph(g)
      })
    ).pipe(Effect.tapDefect(() => Effect.sync(() => console.log("degrees at timeout:", last))))
  })

const everyBroadcastOnce = (nodes: ReadonlyArray<TestNode>) =>
  Effect.gen(function*() {
    const before = nodes.map((n) => received(n).length)
    const id = yield* nodes[0]!.run(Mesh.use((m) => m.sendMessage("ping-all")))
    yield* waitFor("broadcast delivered", Effect.sync(() => nodes.slice(1).every((n) => received(n).some((m) => m.messageId === id))))
    // a round of presence later nothing arrived twice
    yield* Effect.sleep(300)
    for (const [i, n] of nodes.entries()) {
      assert.strictEqual(received(n).filter((m) => m.messageId === id).length, i === 0 ? 0 : 1)
      assert.strictEqual(received(n).length - before[i]!, i === 0 ? 0 : 1)
    }
  })

const line = (n: number) => Array.from({ length: n - 1 }, (_, i) => [i, i + 1] as const)

describe("topologies on a memory network", () => {
  it.live("line: a direct message crosses many hops, then the optimizer brings the line into bounds", () =>
    Effect.gen(function*() {
      const nodes = yield* startNodes(new MemoryNetwork({ latencyMs: 1 }), 8, { autoDiscovery: false, maxPeers: 3, minPeers: 1 })
      yield* wire(nodes, line(8))
      const id = yield* nodes[0]!.run(Mesh.use((m) => m.sendDirectMessage(nodes[7]!.peerId, { secret: 42 })))
      yield* waitFor("direct message delivered", Effect.sync(() => received(nodes[7]!).some((m) => m.messageId === id)))
      const [message] = received(nodes[7]!).filter((m) => m.messageId === id)
      assert.strictEqual(message!.direct, true)
      assert.strictEqual(message!.from, nodes[0]!.peerId)
      assert.deepStrictEqual(message!.content, { secret: 42 })
      assert.isAtLeast(message!.hops, 7)
      for (const n of nodes.slice(1, 7)) assert.isFalse(received(n).some((m) => m.messageId === id))
      yield* heal(nodes, 2, 4)
      yield* everyBroadcastOnce(nodes)
    }).pipe(Effect.scoped), 60_000)

  it.live("ring of 10 then bounds", () =>
    Effect.gen(function*() {
      const nodes = yield* startNodes(new MemoryNetwork({ latencyMs: 1 }), 10, { autoDiscovery: false, maxPeers: 3, minPeers: 1 })
      yield* wire(nodes, [...line(10), [9, 0]])
      yield* heal(nodes, 2, 3)
      yield* everyBroadcastOnce(nodes)
    }).pipe(Effect.scoped), 60_000)

  it.live("star: lowering maxPeers evicts the hub's links with notices, and the mesh re-forms", () =>
    Effect.gen(function*() {
      const nodes = yield* startNodes(new MemoryNetwork({ latencyMs: 1 }), 9, { autoDiscovery: false, maxPeers: 8, minPeers: 1 })
      yield* wire(nodes, nodes.slice(1).map((_, i) => [0, i + 1] as const))
      yield* heal(nodes, 2, 3)
      const evictedByHub = nodes.slice(1).filter((n) =>
        n.events.some((e) => e._tag === "PeerEvicted" && e.by === nodes[0]!.peerId && e.peerId === n.peerId)
      )
      assert.isAtLeast(evictedByHub.length, 5)
      yield* everyBroadcastOnce(nodes)
    }).pipe(Effect.scoped), 60_000)

  it.live("random: 24 nodes with random extra links, then bounds", () =>
    Effect.gen(function*() {
      const nodes = yield* startNodes(new MemoryNetwork({ latencyMs: 1 }), 24, { autoDiscovery: false, maxPeers: 5, minPeers: 1 })
      let seed = 7
      const rand = (n: number) => (seed = (seed * 48271) % 2147483647) % n
      const edges: Array<readonly [number, number]> = []
      for (let i = 1; i < 24; i++) edges.push([i, rand(i)])
      yield* wire(nodes, edges)
      yield* heal(nodes, 2, 4)
      yield* everyBroadcastOnce(nodes)
    }).pipe(Effect.scoped), 60_000)

  it.live("partition then heal: each side keeps its own mesh, and the halves join again", () =>
    Effect.gen(function*() {
      const network = new MemoryNetwork({ latencyMs: 1 })
      const nodes = yield* startNodes(network, 16, { maxPeers: 4, minPeers: 2 })
      yield* waitFor("formed", Effect.map(graph(nodes), (g) => withinBounds(g, 2, 4) && isConnectedGraph(g)))
      const left = nodes.slice(0, 8)
      const right = nodes.slice(8)
      yield* network.partition([left.map((n) => n.peerId), right.map((n) => n.peerId)])
      yield* waitFor(
        "each half connected on its own",
        Effect.gen(function*() {
          const gl = yield* graph(left)
          const gr = yield* graph(right)
          return isConnectedGraph(gl) && isConnectedGraph(gr) && withinBounds(gl, 2, 4) && withinBounds(gr, 2, 4)
        })
      )
      network.heal()
      yield* waitFor("joined again", Effect.map(graph(nodes), (g) => withinBounds(g, 2, 4) && isConnectedGraph(g)))
      yield* everyBroadcastOnce(nodes)
    }).pipe(Effect.scoped), 60_000)
})

describe("eviction", () => {
  it.live("a full node takes a closer peer and sends its farthest one an eviction notice", () =>
    Effect.gen(function*() {
      const network = new MemoryNetwork()
      const id = (hex: string) => hex.padEnd(40, "0")
      const opts = { autoDiscovery: false, maxPeers: 2, minPeers: 1, allowUnverifiedPeers: true } // custom ids
      const [hub] = yield* startNodes(network, 1, { ...opts, peerId: id("8") })
      const far1 = (yield* startNodes(network, 1, { ...opts, peerId: id("01") }))[0]!
      const far2 = (yield* startNodes(network, 1, { ...opts, peerId: id("02") }))[0]!
      const near = (yield* startNodes(network, 1, { ...opts, peerId: id("81") }))[0]!
      yield* wire([hub!, far1, far2, near], [[1, 0], [2, 0]])
      yield* near.run(Mesh.use((m) => m.connectToPeer(hub!.peerId)))
      yield* waitFor(
        "near connected, one far peer evicted",
        Effect.map(connectedOf(hub!), (peers) => peers.includes(near.peerId) && peers.length === 2)
      )
      const hubPeers = yield* connectedOf(hub!)
      assert.isFalse(hubPeers.includes(far2.peerId)) // 02 is farther from 80.. than 01
      yield* waitFor(
        "notice received",
        Effect.sync(() => far2.events.some((e) => e._tag === "PeerEvicted" && e.by === hub!.peerId))
      )
      const notice = far2.events.find((e) => e._tag === "PeerEvicted")
      assert.deepStrictEqual(notice, { _tag: "PeerEvicted", peerId: far2.peerId, by: hub!.peerId, reason: "closer-peer" })
      assert.deepStrictEqual(yield* far2.run(Connections.use((c) => c.connected)), [])
    }).pipe(Effect.scoped), 30_000)
})
