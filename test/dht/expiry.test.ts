// Expiry and republish, driven by TestClock: records outlive their TTL while the publisher
// runs (it republishes), and disappear one TTL after it stops.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { MemoryNetwork } from "../../src/layers/MemoryNetwork.ts"
import { Connections } from "../../src/services/Connections.ts"
import { Dht } from "../../src/services/Dht.ts"
import { startNodes } from "../support/memoryMesh.ts"

const TTL = 60_000

/** Lets the event-driven work (links, RPCs over real async crypto) settle without moving the clock. */
const settle = Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 50)))
const until = (check: Effect.Effect<boolean>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 400; i++) {
      if (yield* check) return
      yield* settle
    }
    return yield* Effect.die(new Error("state not reached"))
  })

/** Runs an effect that may wait on RPC timeouts, moving the test clock until it finishes. */
const withClock = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(effect)
    for (let i = 0; i < 200 && fiber.pollUnsafe() === undefined; i++) {
      yield* TestClock.adjust(1000)
      yield* settle
    }
    return yield* Fiber.join(fiber)
  })

describe("DHT expiry and republish (TestClock)", () => {
  it.effect("a published record survives many TTLs; after its publisher leaves it expires", () =>
    Effect.gen(function*() {
      const opts = {
        maxPeers: 3,
        minPeers: 1,
        presenceInterval: 0,
        repairInterval: 0,
        dht: { ttl: TTL, republishInterval: TTL / 3, replicateInterval: TTL / 4, rpcTimeout: 5000 }
      }
      const nodes = yield* startNodes(new MemoryNetwork(), 4, opts)
      // links form on discovery events alone, without the clock moving
      yield* until(Effect.map(
        Effect.forEach(nodes, (n) => n.run(Connections.use((c) => c.connected))),
        (all) => all.every((peers) => peers.length >= 1)
      ))
      const [publisher, a, b] = nodes as [typeof nodes[0], typeof nodes[0], typeof nodes[0]]
      yield* publisher.run(Dht.use((d) => d.put("ephemeral", "still here")))
      for (let step = 0; step < 12; step++) {
        yield* TestClock.adjust(TTL / 4)
        yield* settle
      }
      // three TTLs later, republished: readable
      assert.strictEqual(yield* a.run(Dht.use((d) => d.get("ephemeral"))), "still here")
      // closing a node may wait on timers (eviction notices): let the clock move meanwhile
      yield* Effect.forkChild(publisher.stop)
      for (let step = 0; step < 8; step++) {
        yield* TestClock.adjust(TTL / 4)
        yield* settle
      }
      const gone = yield* Effect.flip(withClock(b.run(Dht.use((d) => d.get("ephemeral")))))
      assert.strictEqual(gone._tag, "NotFound")
    }).pipe(Effect.scoped), 60_000)
})
