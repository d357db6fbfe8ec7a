// Property tests (fast-check): random and mutated DHT requests driven straight into the
// handler of one peer, with a scripted mesh around it. Whatever arrives, decoding and
// handling never throw or die, and the peer still stores and returns an honest record.
import { assert, describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, type Schema } from "effect"
import fc from "fast-check"
import { chooseRecord, judge, MAX_VERSION, ownerOf, type RecordHeader } from "../../src/internal/dhtRecords.ts"
import { keyId, makeContext } from "../../src/layers/dht/context.ts"
import { makeHandler } from "../../src/layers/dht/handlers.ts"
import { decodeContent, isAnswer } from "../../src/layers/dht/network.ts"
import type { DhtRecord } from "../../src/schema/DhtMessages.ts"
import type { Connections } from "../../src/services/Connections.ts"
import { dhtDefaults } from "../../src/services/Dht.ts"
import type { Discovery } from "../../src/services/Discovery.ts"
import { make as makeIdentity } from "../../src/services/Identity.ts"
import { resolveMeshOptions } from "../../src/services/MeshConfig.ts"
import { PeerKeys } from "../../src/services/PeerKeys.ts"
import type { Router } from "../../src/services/Router.ts"
import { signRecord } from "./hostile.ts"

const nest = (depth: number): Schema.Json => {
  let v: Schema.Json = 1
  for (let i = 0; i < depth; i++) v = [v]
  return v
}

/** One peer's handler with an empty mesh around it, and a second identity to sign records. */
const harness = Effect.gen(function*() {
  const identity = yield* makeIdentity()
  const other = yield* makeIdentity()
  const keys = yield* PeerKeys.use((k) => Effect.succeed(k)).pipe(Effect.provide(PeerKeys.layer))
  const sent: Array<unknown> = []
  const ctx = makeContext({
    options: { ...dhtDefaults, maxRecordsPerPublisher: 50 },
    mesh: resolveMeshOptions(),
    identity,
    router: { send: (_: unknown, m: unknown) => Effect.sync(() => (sent.push(m), "id")) } as unknown as Router["Service"],
    connections: { connected: Effect.succeed([]) } as unknown as Connections["Service"],
    discovery: { discovered: Effect.succeed([]), reachable: Effect.succeed(new Map()) } as unknown as Discovery["Service"],
    keys
  })
  const handle = makeHandler(ctx, { reply: () => Effect.void, onNotify: () => Effect.void })
  const sign = (fields: Partial<DhtRecord> & { key: string; value: Schema.Json }) => signRecord(other, fields)
  return { ctx, handle, sign, from: other.peerId, sent }
})

describe("DHT handler under random input", () => {
  it.live("random JSON, mutated records, deep nesting, huge numbers and wrong types: never a throw or a defect", () =>
    Effect.gen(function*() {
      const { ctx, from, handle, sign } = yield* harness
      const valid = yield* sign({ key: "valid", value: { list: [1, 2, 3] } })
      const target = yield* keyId("global", "valid")
      const huge = fc.constantFrom(1e308, -1e308, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 2, -0, 2 ** 64, 0.5, -1)
      const anything = fc.oneof(fc.jsonValue(), huge, fc.string(), fc.constant(null), fc.integer({ min: 60, max: 90 }).map(nest))
      const field = fc.constantFrom(...Object.keys(valid), "owner")
      const mutated = fc.tuple(field, anything, fc.constantFrom("store", "notify")).map(([f, v, op]) => {
        const record: Record<string, unknown> = { ...valid, [f]: v }
        return op === "store" ? { op, rid: "r", record } : { op, record, oldValue: null }
      })
      const input = fc.oneof(
        fc.jsonValue(),
        mutated,
        fc.integer({ min: 1, max: 300 }).map(nest),
        // past V8's recursion limits: JSON.stringify and recursive checks would throw here
        fc.constant(null).map(() => ({ op: "store", rid: "deep", record: { ...valid, value: nest(20_000) } })),
        fc.record({
          op: fc.constantFrom("find", "found", "store", "stored", "watch", "watched", "notify"),
          rid: fc.oneof(fc.string({ maxLength: 80 }), anything),
          key: fc.oneof(fc.string({ maxLength: 600 }), anything),
          target: fc.oneof(fc.constant(target as string), fc.string()),
          on: anything,
          record: fc.oneof(fc.constant(valid as unknown), anything)
        }),
        anything.map((v) => ({ op: "find", rid: "x", target, key: v }))
      )
      const samples = fc.sample(input, { numRuns: 300, seed: 20261201 })
      let handled = 0
      for (const content of samples) {
        const message = decodeContent(content)
        if (message === undefined || isAnswer(message)) continue
        const exit = yield* Effect.exit(handle(from, message))
        if (!Exit.isSuccess(exit)) assert.fail(`handler failed on an input of op ${String((content as { op?: unknown }).op)}: ${Cause.pretty(exit.cause)}`)
        handled++
      }
      assert.isAbove(handled, 10)
      assert.isAtMost(ctx.store.usage(from).records, 50)
      // still a working holder: an honest store, then a find that returns it
      const honest = yield* sign({ key: "after-fuzz", value: "intact" })
      const stored = yield* handle(from, { op: "store", rid: "s", record: honest })
      assert.deepStrictEqual(stored, { op: "stored", rid: "s", ok: true })
      const found = yield* handle(from, { op: "find", rid: "f", target: yield* keyId("global", "after-fuzz"), key: "after-fuzz" })
      assert.strictEqual(found?.op === "found" ? found.record?.value : undefined, "intact")
    }), 30_000)
})

const header = fc.record({
  key: fc.constant("k"),
  publisher: fc.constantFrom("a", "b", "c"),
  owner: fc.option(fc.constantFrom("a", "b", "c"), { nil: undefined }),
  version: fc.oneof(fc.integer({ min: -5, max: 3000 }), fc.constantFrom(Number.MAX_SAFE_INTEGER, MAX_VERSION, MAX_VERSION + 1, 1.5)),
  ts: fc.integer({ min: 0, max: 10 }),
  expiresAt: fc.constant(100),
  writable: fc.boolean()
}) as fc.Arbitrary<RecordHeader>

describe("DHT record rules, as properties", () => {
  it("an accepted record keeps the owner, steps by at most maxStep, and stays in range", () => {
    fc.assert(
      fc.property(fc.option(header, { nil: undefined }), header, (held, incoming) => {
        const verdict = judge(held, incoming, 1000)
        if (verdict !== "accept") return
        expect(Number.isSafeInteger(incoming.version) && incoming.version >= 1 && incoming.version <= MAX_VERSION).toBe(true)
        if (held === undefined) return
        expect(ownerOf(incoming)).toBe(ownerOf(held))
        expect(incoming.version - held.version).toBeLessThanOrEqual(1000)
        expect(incoming.publisher === ownerOf(held) || held.writable).toBe(true)
      }),
      { numRuns: 2000 }
    )
  })
  it("a read returns one of the copies, of an owner no other owner outnumbers", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom("h1", "h2", "h3", "x"), header), { maxLength: 8 }), (pairs) => {
        const copies = pairs.map(([from, record]) => ({ from, record }))
        const chosen = chooseRecord(copies)
        if (copies.length === 0) {
          expect(chosen).toBeUndefined()
          return
        }
        expect(copies.some((c) => c.record === chosen)).toBe(true)
        const votes = (owner: string) => new Set(copies.filter((c) => ownerOf(c.record) === owner).map((c) => c.from)).size
        const mine = votes(ownerOf(chosen!))
        for (const c of copies) expect(votes(ownerOf(c.record))).toBeLessThanOrEqual(mine)
      }),
      { numRuns: 2000 }
    )
  })
})
