/**
 * The routing table's churn signal (layers/dht/context.ts), over scripted mesh lists: a peer
 * signaling said left leaves the table at once (which starts the churn repair) and is not
 * taken back from the lagging presence list; a link, a new announcement or an answer of its
 * own takes it back, and what was known of it holding records does not count any more.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect } from "effect"
import { TestClock } from "effect/testing"
import { makeContext, type Services } from "../../src/layers/dht/context.ts"
import type { PeerId } from "../../src/schema/PeerId.ts"
import { dhtDefaults } from "../../src/services/Dht.ts"
import type { DiscoveredPeer } from "../../src/services/Discovery.ts"
import { defaults as meshDefaults } from "../../src/services/MeshConfig.ts"

const id = (c: string) => c.repeat(40) as PeerId
const SELF = id("0")
const A = id("a")
const B = id("b")
const C = id("c")

/** A context over mesh lists the test changes: links, signaling's announcements, presence heard. */
const scripted = () => {
  const lists = { linked: [] as Array<PeerId>, announced: [] as Array<PeerId>, heard: [] as Array<PeerId> }
  const ctx = makeContext({
    options: dhtDefaults,
    mesh: meshDefaults,
    identity: { peerId: SELF },
    connections: { connected: Effect.sync(() => [...lists.linked]) },
    discovery: {
      discovered: Effect.sync(() => lists.announced.map((peerId): DiscoveredPeer => ({ peerId, verified: true, discoveredAt: 0 }))),
      reachable: Effect.sync(() => new Map(lists.heard.map((p) => [p, 0])))
    }
  } as unknown as Services)
  return { ctx, lists }
}

describe("DHT routing table and churn", () => {
  it.effect("a peer signaling says left leaves the table, and the stale presence list does not bring it back", () =>
    Effect.gen(function*() {
      const { ctx, lists } = scripted()
      lists.announced = [A, B]
      lists.heard = [C]
      yield* ctx.refreshTable
      assert.deepStrictEqual([A, B, C].map((p) => ctx.table.has(p)), [true, true, true])

      // B left: signaling forgot it; presence still lists it (it lags)
      yield* TestClock.adjust(1000)
      lists.announced = [A]
      lists.heard = [B, C]
      yield* ctx.refreshTable
      assert.deepStrictEqual([A, B, C].map((p) => ctx.table.has(p)), [true, false, true])
      assert.isFalse(ctx.view(id("b")).includes(B))
    }))

  it.effect("a linked peer stays though signaling forgot it; an answer brings a departed peer back", () =>
    Effect.gen(function*() {
      const { ctx, lists } = scripted()
      lists.announced = [A, B]
      lists.linked = [A]
      yield* ctx.refreshTable
      lists.announced = []
      yield* ctx.refreshTable
      assert.isTrue(ctx.table.has(A))
      assert.isFalse(ctx.table.has(B))
      ctx.heardFrom(B, yield* Clock.currentTimeMillis)
      assert.isTrue(ctx.table.has(B))
    }))

  it.effect("what a peer was known to hold does not outlive its stay in the table", () =>
    Effect.gen(function*() {
      const { ctx, lists } = scripted()
      lists.announced = [B]
      yield* ctx.refreshTable
      yield* TestClock.adjust(100)
      ctx.holders.note("k", 1, B, "acked", yield* Clock.currentTimeMillis)
      assert.strictEqual(ctx.knownAt("k", 1, B, "acked"), 100)
      // B leaves and comes back (a restart with the same id): it may hold nothing now
      yield* TestClock.adjust(100)
      lists.announced = []
      yield* ctx.refreshTable
      yield* TestClock.adjust(100)
      lists.announced = [B]
      yield* ctx.refreshTable
      assert.isTrue(ctx.table.has(B))
      assert.isUndefined(ctx.knownAt("k", 1, B, "acked"))
    }))

  it.effect("a peer counts for replication from the pass after it entered the table", () =>
    Effect.gen(function*() {
      const { ctx, lists } = scripted()
      ctx.pass.count = 5
      lists.announced = [A]
      yield* ctx.refreshTable
      assert.isFalse(ctx.settled(A))
      ctx.pass.count = 6
      assert.isTrue(ctx.settled(A))
    }))
})
