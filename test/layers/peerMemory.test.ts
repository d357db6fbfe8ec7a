import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect } from "effect"
import { makePeerMemory, PEER_STATE_LIMIT, REFUSED_COOLDOWN_MS } from "../../src/layers/connections/peerMemory.ts"
import type { PeerId } from "../../src/schema/PeerId.ts"

const id = (n: number) => n.toString(16).padStart(40, "0") as PeerId

describe("what Connections remembers about peers", () => {
  it.effect("cooldowns back off with each failure in a row (jittered down by at most 20%), refusals wait longer, bans count too", () =>
    Effect.gen(function*() {
      const m = makePeerMemory()
      const now = yield* Clock.currentTimeMillis
      const a = id(1)
      assert.strictEqual(m.cooldownUntil(a), undefined)
      const waits: Array<number> = []
      for (let i = 0; i < 7; i++) {
        yield* m.coolDown(a)
        waits.push(m.cooldownUntil(a)! - now)
      }
      waits.forEach((w, i) => {
        const d = Math.min(30_000, 1000 * 2 ** i)
        assert.isTrue(w > d * 0.8 - 1e-9 && w <= d, `attempt ${i}: ${w} ms, expected (${d * 0.8}, ${d}]`)
      })
      // a refusal: the first failure already waits about REFUSED_COOLDOWN_MS
      const b = id(2)
      yield* m.coolDown(b, REFUSED_COOLDOWN_MS)
      const refused = m.cooldownUntil(b)! - now
      assert.isTrue(refused >= REFUSED_COOLDOWN_MS * 0.75 && refused <= REFUSED_COOLDOWN_MS * 1.25, `${refused}`)
      // a ban further out than the cooldown is what counts
      m.banned.set(b, now + 3_600_000)
      assert.strictEqual(m.cooldownUntil(b), now + 3_600_000)
      // a success forgets the backoff
      m.cooldowns.delete(a)
      assert.strictEqual(m.cooldownUntil(a), undefined)
    }))

  it.effect("each map is bounded: a peer cannot make another remember more than PEER_STATE_LIMIT peers", () =>
    Effect.gen(function*() {
      const m = makePeerMemory()
      for (let i = 0; i < PEER_STATE_LIMIT + 100; i++) {
        yield* m.coolDown(id(i))
        m.banned.set(id(i), 1)
        m.signalingVerified.set(id(i), true)
        m.degrees.set(id(i), 3)
      }
      for (const map of [m.cooldowns, m.banned, m.signalingVerified, m.degrees]) assert.strictEqual(map.size, PEER_STATE_LIMIT)
      // the oldest went first
      assert.strictEqual(m.degrees.get(id(0)), undefined)
      assert.strictEqual(m.degrees.get(id(PEER_STATE_LIMIT + 99)), 3)
    }))
})
