/**
 * Hostile peers against the WebDHT, on a memory network: a hostile node is another node of
 * the network, its own DHT off, sending hand-made DHT RPCs through its Router with records it
 * signs itself (test/dht/hostile.ts). After each attack an honest put/get between honest
 * nodes is checked. "It was handled" is read from the victim's answer to the hostile
 * request (a barrier), never after a sleep.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import { restartCount } from "../../src/internal/supervise.ts"
import { keyId } from "../../src/layers/Dht.ts"
import { MemoryNetwork } from "../../src/layers/MemoryNetwork.ts"
import type { PeerId } from "../../src/schema/PeerId.ts"
import { Dht, type DhtOptions } from "../../src/services/Dht.ts"
import { graph, isConnectedGraph, startNodes, type TestNode, waitFor } from "../support/memoryMesh.ts"
import { type Hostile, startHostile } from "../dht/hostile.ts"

const HONEST = 8

const network = (dht: Partial<DhtOptions> = {}) =>
  Effect.gen(function*() {
    const net = new MemoryNetwork({ latencyMs: 1 })
    const base = { maxPeers: 4, minPeers: 2, presenceInterval: 1000 }
    const honest = yield* startNodes(net, HONEST, { ...base, dht: { replicateInterval: 2000, rpcTimeout: 2000, ...dht } })
    const [evil] = yield* startNodes(net, 1, { ...base, enableWebDHT: false })
    const all = [...honest, evil!]
    yield* waitFor("mesh formed", Effect.map(graph(all), (g) => isConnectedGraph(g) && [...g.values()].every((p) => p.length >= 1)), 30_000)
    const hostile = yield* startHostile(evil!)
    return { honest, hostile }
  })

const dht = <A, E>(node: TestNode, f: (d: Dht["Service"]) => Effect.Effect<A, E>) => node.run(Dht.use(f))

let checks = 0
/** An honest put by one honest node, read by two others. */
const honestPutGet = (honest: ReadonlyArray<TestNode>) =>
  Effect.gen(function*() {
    const key = `honest/${checks++}`
    yield* dht(honest[1]!, (d) => d.put(key, { n: checks }))
    assert.deepStrictEqual(yield* dht(honest[4]!, (d) => d.get(key)), { n: checks })
    assert.deepStrictEqual(yield* dht(honest[7]!, (d) => d.get(key)), { n: checks })
  })

/** Sends a store of `record` to each of `targets`; returns their answers (all must come). */
const storeAt = (hostile: Hostile, targets: ReadonlyArray<PeerId>, record: unknown) =>
  Effect.forEach(targets, (to) =>
    Effect.flatMap(hostile.request(to, { op: "store", record: record as never }), (a) =>
      a === undefined ? Effect.die(new Error(`no answer from ${to}`)) : Effect.succeed(a)), { concurrency: "unbounded" })

describe("WebDHT against a hostile peer", () => {
  it.live("answers count only from the peer asked: a third node's forged `found` with another's rid is ignored", () =>
    Effect.gen(function*() {
      const net = new MemoryNetwork({ latencyMs: 1 })
      const base = { maxPeers: 3, minPeers: 1, presenceInterval: 1000 }
      // one honest reader, two hostile nodes: H is asked and stays silent, S answers H's rid
      const [reader] = yield* startNodes(net, 1, { ...base, dht: { rpcTimeout: 1500 } })
      const [h, s] = yield* startNodes(net, 2, { ...base, enableWebDHT: false })
      yield* waitFor("mesh formed", Effect.map(graph([reader!, h!, s!]), isConnectedGraph), 30_000)
      const asked = yield* startHostile(h!)
      const spoofer = yield* startHostile(s!)
      const forgedRecord = yield* spoofer.sign({ key: "spoofed", value: "forged" })
      let spoofs = 0
      asked.onRequest = (from, content) =>
        Effect.gen(function*() {
          if (content.op !== "find" || content.key !== "spoofed") return false
          spoofs++
          // the relay's trick: answer the rid it saw, from another node
          yield* spoofer.send(from, { op: "found", rid: content.rid as string, nodes: [], record: forgedRecord })
          return true
        })
      spoofer.onRequest = (_, content) => Effect.succeed(content.op === "find" && content.key === "spoofed")
      const result = yield* Effect.exit(dht(reader!, (d) => d.get("spoofed")))
      assert.isAbove(spoofs, 0)
      assert.strictEqual(result._tag, "Failure")
      // the spoofed answer did not count: nobody answered, which is a timeout
      if (result._tag === "Failure") assert.include(String(result.cause), "Timeout")
      // the reader (the only honest node) still writes and reads
      yield* dht(reader!, (d) => d.put("after-spoof", 1))
      assert.strictEqual(yield* dht(reader!, (d) => d.get("after-spoof")), 1)
    }).pipe(Effect.scoped), 60_000)

  it.live("key takeover: a higher version signed by another peer is refused by holders and loses reads; the owner still updates", () =>
    Effect.gen(function*() {
      const { honest, hostile } = yield* network()
      const owner = honest[0]!
      yield* dht(owner, (d) => d.put("room/topic", "mine"))
      const holders = yield* dht(owner, (d) => d.holders("room/topic"))
      assert.isAtLeast(holders.length, 1)
      const squat = yield* hostile.sign({ key: "room/topic", value: "stolen", version: 999 })
      // the hostile node also answers every find of the key with its own record
      hostile.forged.set("room/topic", squat)
      const answers = yield* storeAt(hostile, holders, squat)
      for (const { answer } of answers) assert.deepStrictEqual([answer.ok, answer.reason], [false, "unauthorized"])
      for (const node of honest.slice(1)) assert.strictEqual(yield* dht(node, (d) => d.get("room/topic")), "mine")
      assert.strictEqual(yield* dht(owner, (d) => d.update("room/topic", "still mine")), 2)
      assert.strictEqual(yield* dht(honest[5]!, (d) => d.get("room/topic")), "still mine")
      // a writable key: another owner is refused at any version, updates keep the owner
      yield* dht(owner, (d) => d.put("board", ["a"], { writable: true }))
      const boardHolders = yield* dht(owner, (d) => d.holders("board"))
      const takeover = yield* hostile.sign({ key: "board", value: ["pwned"], version: 5, writable: true })
      for (const { answer } of yield* storeAt(hostile, boardHolders, takeover)) assert.strictEqual(answer.reason, "unauthorized")
      assert.strictEqual(yield* dht(honest[3]!, (d) => d.update("board", ["a", "b"])), 2)
      assert.deepStrictEqual(yield* dht(honest[6]!, (d) => d.get("board")), ["a", "b"])
      yield* honestPutGet(honest)
    }).pipe(Effect.scoped), 120_000)

  it.live("version freeze: MAX_SAFE_INTEGER and jumps beyond maxVersionStep are refused; others still update", () =>
    Effect.gen(function*() {
      const { honest, hostile } = yield* network()
      yield* dht(honest[1]!, (d) => d.put("counter", 0, { writable: true }))
      const holders = yield* dht(honest[1]!, (d) => d.holders("counter"))
      const freeze = yield* hostile.sign({ key: "counter", value: -1, version: Number.MAX_SAFE_INTEGER, writable: true, owner: honest[1]!.peerId })
      for (const { answer } of yield* storeAt(hostile, holders, freeze)) assert.strictEqual(answer.reason, "unauthorized")
      const jump = yield* hostile.sign({ key: "counter", value: -2, version: 1002, writable: true, owner: honest[1]!.peerId })
      for (const { answer } of yield* storeAt(hostile, holders, jump)) assert.strictEqual(answer.reason, "unauthorized")
      // a bounded step by anyone is fine on a writable key
      const step = yield* hostile.sign({ key: "counter", value: 7, version: 2, writable: true, owner: honest[1]!.peerId })
      for (const { answer } of yield* storeAt(hostile, holders, step)) assert.strictEqual(answer.ok, true)
      assert.strictEqual(yield* dht(honest[2]!, (d) => d.update("counter", 8)), 3)
      assert.strictEqual(yield* dht(honest[7]!, (d) => d.get("counter")), 8)
      // a new key cannot start frozen either
      const fresh = yield* hostile.sign({ key: "frozen-from-birth", value: 1, version: Number.MAX_SAFE_INTEGER })
      for (const { answer } of yield* storeAt(hostile, [honest[3]!.peerId], fresh)) assert.strictEqual(answer.reason, "unauthorized")
      yield* honestPutGet(honest)
    }).pipe(Effect.scoped), 120_000)

  it.live("store spam: thousands of junk keys leave each victim within the publisher quota; honest puts and gets work", () =>
    Effect.gen(function*() {
      const quota = 40
      const { honest, hostile } = yield* network({ maxRecordsPerPublisher: quota })
      const victims = honest.slice(0, 3).map((n) => n.peerId)
      let ok = 0
      let refused = 0
      // in batches within the inbox's capacity, each batch waited for (every store answered)
      for (let batch = 0; batch < 10; batch++) {
        const records = yield* Effect.forEach(
          Array.from({ length: 100 }, (_, i) => batch * 100 + i),
          (i) => hostile.sign({ key: `junk/${i}`, value: "x".repeat(200) })
        )
        const answers = yield* Effect.forEach(records, (r) => storeAt(hostile, victims, r), { concurrency: 20 })
        for (const { answer } of answers.flat()) {
          if (answer.ok === true) ok++
          else if (answer.reason === "quota") refused++
        }
      }
      assert.strictEqual(ok + refused, 3000)
      assert.isAtMost(ok, 3 * quota)
      for (const victim of honest.slice(0, 3)) {
        const stats = yield* dht(victim, (d) => d.stats)
        assert.isAtMost(stats.records, quota + 10)
        assert.isAtLeast(stats.refusedStores, 1000 - quota)
      }
      yield* honestPutGet(honest)
    }).pipe(Effect.scoped), 180_000)

  it.live("watch spam: watches are capped per watcher, and leases end unless renewed", () =>
    Effect.gen(function*() {
      const { honest, hostile } = yield* network({ maxWatchesPerPeer: 16, watchLease: 5000 })
      const victim = honest[2]!
      const answers = yield* Effect.forEach(
        Array.from({ length: 200 }, (_, i) => i),
        (i) => hostile.request(victim.peerId, { op: "watch", key: `watched/${i}`, on: true }),
        { concurrency: 20 }
      )
      assert.strictEqual(answers.filter((a) => a?.answer.op === "watched" && a.answer.ok === undefined).length, 16)
      assert.strictEqual(answers.filter((a) => a?.answer.ok === false).length, 184)
      assert.isAtMost((yield* dht(victim, (d) => d.stats)).watchers, 16)
      // not renewed: gone (a state, polled with a deadline)
      yield* waitFor("leases ended", Effect.map(dht(victim, (d) => d.stats), (s) => s.watchers === 0), 20_000)
      // and the place is free again
      const again = yield* hostile.request(victim.peerId, { op: "watch", key: "watched/again", on: true })
      assert.strictEqual(again?.answer.ok, undefined)
      yield* honestPutGet(honest)
    }).pipe(Effect.scoped), 120_000)

  it.live("ttl beyond maxTtl: a record signed to live for years is dropped maxTtl after signing", () =>
    Effect.gen(function*() {
      const { honest, hostile } = yield* network({ maxTtl: 6000 })
      const forever = yield* hostile.sign({ key: "forever", value: "years", expiresAt: Date.now() + 10 * 365 * 86_400_000 })
      const answers = yield* storeAt(hostile, honest.map((n) => n.peerId), forever)
      assert.isAbove(answers.filter((a) => a.answer.ok === true).length, 0)
      yield* waitFor(
        "forever expired",
        Effect.map(Effect.flip(dht(honest[5]!, (d) => d.get("forever"))), (e) => e._tag === "NotFound").pipe(Effect.orElseSucceed(() => false)),
        30_000
      )
      // a store signed in the future is refused
      const ahead = yield* hostile.sign({ key: "ahead", value: 1, ts: Date.now() + 3_600_000 })
      for (const { answer } of yield* storeAt(hostile, [honest[0]!.peerId], ahead)) assert.strictEqual(answer.reason, "invalid")
      yield* honestPutGet(honest)
    }).pipe(Effect.scoped), 120_000)

  it.live("routing-table poisoning: ids a hostile peer names in its answers never enter the victim's table", () =>
    Effect.gen(function*() {
      const { honest, hostile } = yield* network()
      const victim = honest[2]!
      const fakes = new Set<string>()
      /** Made-up ids next to `target`: they would be the closest entries of any table holding them. */
      const fakesNear = (target: string) =>
        Array.from({ length: 12 }, (_, i) => {
          const id = target.slice(0, 36) + (0x1000 + i * 7).toString(16).slice(-4)
          fakes.add(id)
          return id
        })
      let poisoned = 0
      hostile.onRequest = (from, content) =>
        Effect.gen(function*() {
          if (from !== victim.peerId || content.op !== "find" || typeof content.target !== "string") return false
          poisoned++
          yield* hostile.send(from, { op: "found", rid: content.rid as string, nodes: fakesNear(content.target) })
          return true
        })
      // the victim looks keys up until one of its lookups asked the hostile node
      for (let i = 0; i < 20 && poisoned === 0; i++) yield* Effect.ignore(dht(victim, (d) => d.get(`lookup/${i}`)))
      assert.isAbove(poisoned, 0)
      hostile.onRequest = undefined
      // the victim's answer to a find for a poisoned region names none of them
      for (const target of [...fakes].slice(0, 3)) {
        const answer = yield* hostile.request(victim.peerId, { op: "find", target })
        assert.strictEqual(answer?.answer.op, "found")
        const nodes = answer!.answer.nodes as ReadonlyArray<string>
        assert.isAbove(nodes.length, 0)
        for (const id of nodes) assert.isFalse(fakes.has(id), `made-up ${id} in the victim's table`)
      }
      yield* honestPutGet(honest)
    }).pipe(Effect.scoped), 120_000)

  it.live("random and mutated RPCs: nothing throws or dies, and the victim still answers", () =>
    Effect.gen(function*() {
      const { honest, hostile } = yield* network()
      const victim = honest[3]!
      yield* dht(honest[0]!, (d) => d.put("fuzz/target", "intact"))
      const valid = yield* hostile.sign({ key: "fuzz/valid", value: { a: [1, 2] } })
      const target = yield* keyId("global", "fuzz/valid")
      const nest = (depth: number) => {
        let v: unknown = 1
        for (let i = 0; i < depth; i++) v = [v]
        return v
      }
      const huge = fc.constantFrom(1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, -0, 2 ** 64, 0.5)
      const field = fc.constantFrom("op", "rid", "record", "key", "target", "nodes", "version", "ts", "expiresAt", "value", "sig", "on", "ok")
      const mutated = fc.tuple(field, fc.oneof(fc.jsonValue(), huge, fc.string(), fc.constant(null))).map(([f, v]) => {
        const record: Record<string, unknown> = { ...valid }
        const rpc: Record<string, unknown> = { op: "store", rid: "r", record }
        if (f in record) record[f] = v
        else rpc[f] = v
        return rpc
      })
      const shapes = fc.oneof(
        fc.jsonValue(),
        mutated,
        fc.integer({ min: 60, max: 80 }).map((d) => ({ op: "store", rid: "deep", record: { ...valid, value: nest(d) } })),
        fc.integer({ min: 1, max: 200 }).map((d) => nest(d)),
        fc.record({ op: fc.constantFrom("find", "found", "store", "stored", "watch", "watched", "notify"), rid: fc.jsonValue(), key: fc.jsonValue(), target: fc.oneof(fc.constant(target), fc.string()), nodes: fc.jsonValue(), record: fc.jsonValue() }),
        huge.map((n) => ({ op: "find", rid: "n", target, key: n })),
        fc.constant({ op: "notify", record: valid, oldValue: nest(70) })
      )
      const inputs = fc.sample(shapes, { numRuns: 200, seed: 4242 })
      yield* Effect.forEach(inputs, (content) => hostile.send(victim.peerId, content as never), { concurrency: 10, discard: true })
      // barrier: a valid request after the junk is answered
      const answer = yield* hostile.request(victim.peerId, { op: "find", target, key: "fuzz/valid" })
      assert.strictEqual(answer?.answer.op, "found")
      assert.strictEqual(yield* dht(victim, (d) => d.get("fuzz/target")), "intact")
      for (const loop of ["Dht.inbox", "Dht.worker", "Dht.replicate", "Dht.republish"]) assert.strictEqual(restartCount(loop), 0, loop)
      yield* honestPutGet(honest)
    }).pipe(Effect.scoped), 120_000)
})
