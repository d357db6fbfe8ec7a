/**
 * Quiet replication: a holder skips re-replicating a record whose closest peers (as its
 * routing table knows them) did not change since its last replication, for up to QUIET_PASSES
 * passes; when a holder leaves, the others replicate again and the record stays readable.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { QUIET_PASSES } from "../../src/layers/dht/maintenance.ts"
import { MemoryNetwork } from "../../src/layers/MemoryNetwork.ts"
import { Dht } from "../../src/services/Dht.ts"
import { graph, isConnectedGraph, startNodes, type TestNode, waitFor, withinBounds } from "../support/memoryMesh.ts"

const REPLICATE = 300
const options = { maxPeers: 4, minPeers: 2, enableCrypto: false, dht: { replicateInterval: REPLICATE, rpcTimeout: 2000 } }

const totals = (nodes: ReadonlyArray<TestNode>) =>
  Effect.map(Effect.forEach(nodes, (n) => n.run(Dht.use((d) => d.stats))), (all) => ({
    replications: all.reduce((a, s) => a + s.replications, 0),
    skipped: all.reduce((a, s) => a + s.replicationsSkipped, 0)
  }))

describe("DHT replication", () => {
  it.live("is skipped while the closest peers stay the same, and comes back when a holder leaves", () =>
    Effect.gen(function*() {
      const nodes = yield* startNodes(new MemoryNetwork({ latencyMs: 1 }), 12, options)
      yield* waitFor("formed", Effect.map(graph(nodes), (g) => withinBounds(g, 2, 4) && isConnectedGraph(g)), 30_000)
      for (let i = 0; i < 4; i++) yield* nodes[i]!.run(Dht.use((d) => d.put(`k${i}`, i)))
      // let the tables settle, then count over QUIET_PASSES - 1 passes
      yield* Effect.sleep(4 * REPLICATE)
      const before = yield* totals(nodes)
      yield* Effect.sleep((QUIET_PASSES - 1) * REPLICATE)
      const after = yield* totals(nodes)
      assert.isAbove(after.skipped - before.skipped, 0)
      // without the skip every holder replicates every record every pass: 4 records x 3+
      // holders x 2 stores x (QUIET_PASSES - 1) passes; with it, a small part of that
      assert.isBelow(after.replications - before.replications, (4 * 3 * 2 * (QUIET_PASSES - 1)) / 2)

      // a holder of k0 leaves: the others replicate again and k0 stays readable
      const holders = yield* nodes[5]!.run(Dht.use((d) => d.holders("k0")))
      const leaving = nodes.find((n) => holders.includes(n.peerId) && n !== nodes[0] && n !== nodes[6])
      assert.isDefined(leaving)
      const alive = nodes.filter((n) => n !== leaving)
      const mark = (yield* totals(alive)).replications
      yield* leaving!.stop
      yield* waitFor("replicated again after the departure", Effect.map(totals(alive), (t) => t.replications > mark), 20_000)
      assert.strictEqual(yield* alive[5]!.run(Dht.use((d) => d.get("k0"))), 0)
    }).pipe(Effect.scoped), 90_000)
})
