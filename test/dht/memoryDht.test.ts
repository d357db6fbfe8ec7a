import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import { MemoryNetwork } from "../../src/layers/MemoryNetwork.ts"
import { KeyDirectory } from "../../src/crypto/KeyDirectory.ts"
import { Connections } from "../../src/services/Connections.ts"
import { Dht, type DhtChange } from "../../src/services/Dht.ts"
import { graph, isConnectedGraph, startNodes, type TestNode, waitFor, withinBounds } from "../support/memoryMesh.ts"

const dhtOptions = { maxPeers: 4, minPeers: 2, presenceInterval: 1000, dht: { replicateInterval: 2000, rpcTimeout: 3000 } }

const formed = (nodes: ReadonlyArray<TestNode>) =>
  waitFor("mesh formed", Effect.map(graph(nodes), (g) => withinBounds(g, 2, 4) && isConnectedGraph(g)), 30_000)

/**
 * The states a test waits for before it reads: every node's key record published (each node's
 * first put, whose lookups and stores share the network with the test's), and a key on
 * `replicationFactor` holders. Reading before then made a read's correctness depend on RPC
 * answers racing `rpcTimeout` on a loaded machine.
 */
const published = (nodes: ReadonlyArray<TestNode>) =>
  waitFor(
    "every key record published",
    Effect.map(Effect.forEach(nodes, (n) => n.run(KeyDirectory.use((k) => k.published))), (all) => all.every(Boolean)),
    60_000
  )
const onHolders = (node: TestNode, key: string, count = 3) =>
  waitFor(
    `${key} on ${count} holders`,
    dht(node, (d) => d.holders(key)).pipe(Effect.map((h) => h.length >= count), Effect.orElseSucceed(() => false)),
    30_000
  )

const dht = <A, E>(node: TestNode, f: (d: Dht["Service"]) => Effect.Effect<A, E>) => node.run(Dht.use(f))

describe("WebDHT on a memory network of 32 nodes", () => {
  it.live("a value put by one node is read by every node; owners alone may update", () =>
    Effect.gen(function*() {
      const nodes = yield* startNodes(new MemoryNetwork({ latencyMs: 1 }), 32, dhtOptions)
      yield* formed(nodes)
      yield* published(nodes)
      const version = yield* dht(nodes[0]!, (d) => d.put("color", { name: "blue" }))
      assert.strictEqual(version, 1)
      yield* onHolders(nodes[0]!, "color")
      const values = yield* Effect.forEach(nodes, (node) => dht(node, (d) => d.get("color")), { concurrency: 6 })
      assert.deepStrictEqual(values, nodes.map(() => ({ name: "blue" })))

      // a non-owner may not change it
      const denied = yield* Effect.flip(dht(nodes[5]!, (d) => d.update("color", "red")))
      assert.strictEqual(denied._tag, "Unauthorized")
      const deniedPut = yield* Effect.flip(dht(nodes[6]!, (d) => d.put("color", "green")))
      assert.strictEqual(deniedPut._tag, "Unauthorized")
      assert.deepStrictEqual(yield* dht(nodes[9]!, (d) => d.get("color")), { name: "blue" })

      // the owner may; a writable key lets others in
      assert.strictEqual(yield* dht(nodes[0]!, (d) => d.update("color", { name: "teal" })), 2)
      assert.deepStrictEqual(yield* dht(nodes[17]!, (d) => d.get("color")), { name: "teal" })
      yield* dht(nodes[1]!, (d) => d.put("board", ["a"], { writable: true }))
      yield* onHolders(nodes[1]!, "board")
      assert.strictEqual(yield* dht(nodes[2]!, (d) => d.update("board", ["a", "b"])), 2)
      assert.deepStrictEqual(yield* dht(nodes[30]!, (d) => d.get("board")), ["a", "b"])

      // errors
      const missing = yield* Effect.flip(dht(nodes[3]!, (d) => d.get("nothing-here")))
      assert.strictEqual(missing._tag, "NotFound")
      const notThere = yield* Effect.flip(dht(nodes[3]!, (d) => d.update("nothing-here", 1)))
      assert.strictEqual(notThere._tag, "NotFound")
      const big = yield* Effect.flip(dht(nodes[3]!, (d) => d.put("big", "x".repeat(70_000))))
      assert.strictEqual(big._tag, "ValueTooLarge")

      // delete: gone everywhere
      yield* dht(nodes[0]!, (d) => d.delete("color"))
      yield* onHolders(nodes[0]!, "color")
      const gone = yield* Effect.flip(dht(nodes[20]!, (d) => d.get("color")))
      assert.strictEqual(gone._tag, "NotFound")
      // a holder of the deletion, too, says NotFound (it once took its own copy for no answer)
      const holders = yield* dht(nodes[0]!, (d) => d.holders("color"))
      const holder = nodes.find((n) => n.peerId === holders[0])
      assert.isDefined(holder)
      assert.strictEqual((yield* Effect.flip(dht(holder!, (d) => d.get("color"))))._tag, "NotFound")
    }).pipe(Effect.scoped), 90_000)

  it.live("the value survives the loss of 30% of the nodes, all but one of its holders among them", () =>
    Effect.gen(function*() {
      const nodes = yield* startNodes(new MemoryNetwork({ latencyMs: 1 }), 32, dhtOptions)
      yield* formed(nodes)
      yield* dht(nodes[0]!, (d) => d.put("survivor", 42))
      let holders: ReadonlyArray<string> = []
      yield* waitFor(
        "replicated to 3 holders",
        dht(nodes[0]!, (d) => d.holders("survivor")).pipe(
          Effect.map((h) => (holders = h).length >= 3),
          Effect.orElseSucceed(() => false)
        ),
        30_000
      )
      const keep = holders[0]!
      const doomed = new Set(holders.slice(1))
      for (const n of nodes) {
        if (doomed.size >= 10) break
        if (n.peerId !== keep && n !== nodes[0]) doomed.add(n.peerId)
      }
      assert.strictEqual(doomed.size, 10)
      for (const n of nodes) if (doomed.has(n.peerId)) yield* n.stop
      const alive = nodes.filter((n) => !doomed.has(n.peerId))
      // the mesh heals, then the holder re-replicates to the new closest peers
      yield* Effect.logInfo("survivor: healing")
      yield* waitFor(
        "healed",
        Effect.map(graph(alive), (g) => isConnectedGraph(g) && [...g.values()].every((p) => p.length >= 1)),
        30_000
      )
      yield* Effect.logInfo("survivor: re-replicating")
      yield* waitFor(
        "re-replicated",
        Effect.map(Effect.exit(dht(alive[1]!, (d) => d.holders("survivor"))), (e) => e._tag === "Success" && e.value.length >= 3),
        30_000
      )
      const values = yield* Effect.forEach(alive, (node) => dht(node, (d) => d.get("survivor")), { concurrency: 6 })
      assert.deepStrictEqual(values, alive.map(() => 42))
    }).pipe(Effect.scoped), 180_000)

  it.live("a subscriber many hops away receives every update in order", () =>
    Effect.gen(function*() {
      const nodes = yield* startNodes(new MemoryNetwork({ latencyMs: 2 }), 32, dhtOptions)
      yield* formed(nodes)
      const publisher = nodes[0]!
      // the subscriber: a node that is not a neighbour of the publisher
      const neighbours = yield* publisher.run(Connections.use((c) => c.connected))
      const subscriber = nodes.find((n) => n !== publisher && !neighbours.includes(n.peerId))!
      yield* dht(publisher, (d) => d.put("score", 0))
      const collected = yield* dht(subscriber, (d) => d.changes.pipe(Stream.take(5), Stream.runCollect)).pipe(Effect.forkScoped)
      assert.strictEqual(yield* dht(subscriber, (d) => d.subscribe("score")), 0)
      for (let i = 1; i <= 5; i++) yield* dht(publisher, (d) => d.update("score", i))
      const changes: ReadonlyArray<DhtChange> = yield* Fiber.join(collected).pipe(Effect.timeout("20 seconds"))
      assert.deepStrictEqual(changes.map((c) => [c.version, c.newValue, c.oldValue]), [
        [2, 1, 0],
        [3, 2, 1],
        [4, 3, 2],
        [5, 4, 3],
        [6, 5, 4]
      ])
      for (const c of changes) assert.strictEqual(c.publisher, publisher.peerId)
    }).pipe(Effect.scoped), 90_000)
})
