/**
 * The Lua discovery of the Redis registry against the in-memory `XorIndex` as oracle: over
 * random joins and leaves (uniform ids, and ids clustered under one long prefix), the
 * XOR-closest K, the ring neighbours and the ring gap a leave closes are identical, and the
 * random picks are as many as the in-memory registry makes, never a chosen peer.
 */
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import { Effect } from "effect"
import * as Redis from "effect/persistence/Redis"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { XorIndex } from "../../src/internal/xorIndex.ts"
import * as S from "../../src/server/RedisScripts.ts"
import { startRedis, type RedisServer } from "../support/redis.ts"
import { randomId } from "../support/server.ts"

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await redis.stop()
})

const withRedis = <A>(body: (r: Redis.Redis["Service"]) => Effect.Effect<A, Redis.RedisError>) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    return yield* body(yield* Redis.Redis)
  })).pipe(
    Effect.provide(NodeRedis.layer({ socket: { path: redis.socket, tls: false } }))
  ))

const clustered = (prefix: string) => prefix + randomId().slice(prefix.length)

const run = (label: string, makeId: () => string, ops: number) =>
  it(`${label}: ${ops} random joins and leaves match XorIndex`, () =>
    withRedis((r) =>
      Effect.gen(function*() {
        yield* r.send("FLUSHALL")
        yield* r.send("SET", "pp:epoch", "e")
        const oracle = new XorIndex<string>()
        const members: Array<string> = []
        const K = 8
        let compared = 0
        for (let op = 0; op < ops; op++) {
          if (members.length > 3 && Math.random() < 0.3) {
            const [id] = members.splice(Math.floor(Math.random() * members.length), 1)
            oracle.remove(id!)
            const [ok, pred, , succ] = yield* r.eval(S.leave)("n", id!, "srv")
            expect(ok).toBe(1)
            const ring = oracle.ringNeighbours(id!)
            const gap = ring.pred !== undefined && ring.pred !== ring.succ ? [ring.pred, ring.succ] : ["", ""]
            expect([pred, succ]).toEqual(gap)
            compared++
            continue
          }
          const id = makeId()
          members.push(id)
          oracle.add(id)
          yield* r.send("HSET", "pp:owner", id, "srv|0|")
          const random = 2
          const [ok, near = [], pred, succ, picks = []] = yield* r.eval(S.announce)("n", id, "srv", "{}", false, K, random, "e")
          expect(ok).toBe(1)
          expect(new Set(near)).toEqual(new Set(oracle.closest(id, K)))
          const ring = oracle.ringNeighbours(id)
          expect([pred || undefined, succ || undefined]).toEqual([ring.pred, ring.succ])
          const chosen = new Set([...near, pred, succ, id].filter((x) => x))
          expect(picks.length).toBe(Math.min(random, oracle.size - chosen.size))
          for (const p of picks) expect(chosen.has(p)).toBe(false)
          compared++
        }
        expect(compared).toBe(ops)
      })
    ), 60_000)

describe("Redis discovery scripts", () => {
  run("uniform ids", randomId, 1500)
  const prefix = randomId().slice(0, 25)
  run("ids under one 100-bit prefix", () => clustered(prefix), 600)
  run("a tiny network", randomId, 40)
})
