/**
 * Child of bench/dht.ts: the WebDHT on a `MemoryNetwork` of N nodes (one process, the real
 * services built with `makeMeshLayer`).
 *
 *   --n=100 --puts=50 --gets=100 --churn=0.3 --latency=5
 *
 * Phases: start N nodes; wait (bounded) for a connected mesh and for every node's key record
 * (its first put, `pp/keys/<peerId>`) to be published; `puts` puts then `gets` gets
 * from random nodes, one at a time (latency, lookup rounds from the nodes' Dht stats);
 * then stop `churn` of the nodes at random, let the mesh heal, switch replication to a short
 * interval for a bounded window, and get every key from random survivors.
 *
 * Replication interval: a node's `replicateInterval` is fixed when it starts. To keep
 * background re-replication out of the latency figures yet have it every `fastMs` during
 * the churn phase, the nodes get a long magic interval and a bench-side `Clock` that turns
 * sleeps of exactly that length into `fastMs` sleeps while the churn phase runs (all other
 * sleeps go to the real clock unchanged).
 */
import { Clock, Context, Duration, Effect, Exit, Layer, Scope } from "effect"
import { KeyDirectory } from "../src/crypto/KeyDirectory.ts"
import { MemoryNetwork } from "../src/layers/MemoryNetwork.ts"
import { makeMeshLayer } from "../src/layers/Mesh.ts"
import type { PeerId } from "../src/schema/PeerId.ts"
import { Connections } from "../src/services/Connections.ts"
import { Dht, type DhtStats } from "../src/services/Dht.ts"
import { Mesh } from "../src/services/Mesh.ts"
import { Router } from "../src/services/Router.ts"
import type { MeshOptions } from "../src/services/MeshConfig.ts"
import { arg, components, done, log, mean, percentile, prng, report } from "./dht-common.ts"

type Services = Layer.Success<ReturnType<typeof makeMeshLayer>>

interface SimNode {
  readonly peerId: PeerId
  readonly context: Context.Context<Services>
  readonly scope: Scope.Closeable
  alive: boolean
}

const n = arg("n", 100)
const puts = arg("puts", 50)
const gets = arg("gets", 100)
const churn = arg("churn", 0.3)
const latencyMs = arg("latency", 5)
const fastMs = arg("fastReplicate", 1500)
const repairWindowMs = arg("repairWindow", 12_000)
const formationTimeoutMs = arg("formationTimeout", 60_000)
const startBudgetMs = arg("startBudget", 240_000)
const opTimeoutMs = arg("opTimeout", 20_000)
const publishTimeoutMs = arg("publishTimeout", 120_000)
const random = prng(arg("seed", 11))
const useBenchClock = arg("clock", 1) === 1
const pick = <A>(xs: ReadonlyArray<A>): A => xs[Math.floor(random() * xs.length)]!
const cpuMs = (from: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(from)
  return (u.user + u.system) / 1000
}

/** The magic replication interval: odd enough that no other sleep has this length. */
const SLOW_REPLICATE = 3_600_007
let fastReplication = false
const wakeups = new Set<() => void>()
const setFastReplication = (on: boolean) => {
  fastReplication = on
  if (on) for (const wake of [...wakeups]) wake()
}

const benchClock = (base: Clock.Clock): Clock.Clock => ({
  currentTimeMillisUnsafe: () => base.currentTimeMillisUnsafe(),
  currentTimeMillis: base.currentTimeMillis,
  currentTimeNanosUnsafe: () => base.currentTimeNanosUnsafe(),
  currentTimeNanos: base.currentTimeNanos,
  monotonicTimeNanosUnsafe: () => base.monotonicTimeNanosUnsafe(),
  monotonicTimeNanos: base.monotonicTimeNanos,
  sleep: (duration) => {
    if (Duration.toMillis(duration) !== SLOW_REPLICATE) return base.sleep(duration)
    if (fastReplication) return base.sleep(Duration.millis(fastMs))
    return Effect.raceFirst(
      base.sleep(duration),
      Effect.callback<void>((resume) => {
        const wake = () => resume(Effect.void)
        wakeups.add(wake)
        return Effect.sync(() => wakeups.delete(wake))
      })
    )
  }
})

const options: Partial<MeshOptions> = {
  networkName: "dhtsim",
  maxPeers: arg("maxPeers", 4),
  minPeers: arg("minPeers", 2),
  presenceInterval: arg("presenceInterval", 5000),
  optimizeInterval: arg("optimizeInterval", 2000),
  repairInterval: arg("repairInterval", 1000),
  connectionTimeout: 3000,
  dht: { replicateInterval: SLOW_REPLICATE, republishInterval: SLOW_REPLICATE + 4, rpcTimeout: arg("rpcTimeout", 3000) }
}

const network = new MemoryNetwork({ latencyMs, random: prng(arg("seed", 11) + 1) })
const use = <A, E>(node: SimNode, effect: Effect.Effect<A, E, Services>) => Effect.provide(effect, node.context)

const startNode = (parent: Scope.Scope) =>
  Effect.gen(function*() {
    const scope = yield* Scope.fork(parent, "sequential")
    const base = yield* Clock.Clock
    const context = yield* Layer.buildWithScope(makeMeshLayer(options, network.layer), scope).pipe(
      Effect.provideService(Clock.Clock, useBenchClock ? benchClock(base) : base),
      Effect.orDie
    )
    const node: SimNode = { peerId: Context.get(context, Mesh).peerId, context, scope, alive: true }
    yield* use(node, Mesh.use((m) => m.connect("memory://dht"))).pipe(Effect.orDie)
    return node
  })

const linkGraph = (nodes: ReadonlyArray<SimNode>) =>
  Effect.forEach(nodes, (node) => Effect.map(use(node, Connections.use((c) => c.connected)), (peers) => [node.peerId as string, peers as ReadonlyArray<string>] as const))
    .pipe(Effect.map((entries) => new Map(entries)))

const formedState = (graph: ReadonlyMap<string, ReadonlyArray<string>>, min: number) => {
  const parts = components(graph)
  return { formed: parts.length === 1 && [...graph.values()].every((p) => p.length >= min), parts }
}

const sumStats = (nodes: ReadonlyArray<SimNode>) =>
  Effect.map(Effect.forEach(nodes, (node) => use(node, Dht.use((d) => d.stats))), (all) => {
    const sum = { lookups: 0, lookupHops: 0, rpcsSent: 0, rpcTimeouts: 0, replications: 0 }
    for (const s of all) for (const k of Object.keys(sum) as Array<keyof typeof sum>) sum[k] += (s as DhtStats)[k]
    return sum
  })

const sumRouter = (nodes: ReadonlyArray<SimNode>) =>
  Effect.map(Effect.forEach(nodes, (node) => use(node, Router.use((r) => r.stats))), (all) => ({
    sent: all.reduce((a, s) => a + s.sent, 0),
    flooded: all.reduce((a, s) => a + s.flooded, 0),
    forwarded: all.reduce((a, s) => a + s.forwarded, 0),
    dropped: all.reduce((a, s) => a + s.dropped, 0)
  }))

/** One bounded DHT operation: its latency and whether it succeeded. */
const timed = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const t = performance.now()
    const exit = yield* Effect.exit(effect.pipe(Effect.timeoutOrElse({ duration: opTimeoutMs, orElse: () => Effect.fail("bench-timeout" as const) })))
    return { ms: performance.now() - t, exit }
  })

const program = Effect.gen(function*() {
  const root = yield* Scope.make()
  report("options", JSON.stringify({ n, latencyMs, maxPeers: options.maxPeers, minPeers: options.minPeers }))
  const tRun = Date.now()

  // ---- start and formation
  const nodes: Array<SimNode> = []
  for (let i = 0; i < n; i++) {
    if (Date.now() - tRun > startBudgetMs) {
      log(`start budget of ${startBudgetMs / 1000} s spent: going on with ${nodes.length} nodes`)
      break
    }
    nodes.push(yield* startNode(root))
    if ((i + 1) % Math.max(1, Math.round(n / 5)) === 0) log(`started ${i + 1}/${n} nodes`)
  }
  report("nodes", nodes.length)
  report("start_s", (Date.now() - tRun) / 1000)
  const tForm = Date.now()
  let state = formedState(yield* linkGraph(nodes), options.minPeers!)
  while (!state.formed && Date.now() - tForm < formationTimeoutMs) {
    yield* Effect.sleep(500)
    state = formedState(yield* linkGraph(nodes), options.minPeers!)
  }
  report("formed_s", state.formed ? (Date.now() - tRun) / 1000 : `not formed (${state.parts.length} components)`)
  log(`mesh ${state.formed ? "formed" : "NOT formed"} with ${nodes.length} nodes`)
  // every node's first put (its key record) done, so the figures are the DHT's, not startup's
  const tPublish = Date.now()
  let unpublished = nodes.length
  while (Date.now() - tPublish < publishTimeoutMs) {
    const published = yield* Effect.forEach(nodes, (node) => use(node, KeyDirectory.use((k) => k.published)))
    unpublished = published.filter((p) => !p).length
    if (unpublished === 0) break
    yield* Effect.sleep(1000)
  }
  report("key_records_published_s", unpublished === 0 ? (Date.now() - tPublish) / 1000 : `${unpublished} not published in ${publishTimeoutMs / 1000} s`)

  // ---- puts
  const keys: Array<{ key: string; value: { i: number; token: string } }> = []
  const putMs: Array<number> = []
  let putOk = 0
  const s0 = yield* sumStats(nodes)
  const net0 = network.stats.sent
  for (let i = 0; i < puts; i++) {
    const entry = { key: `bench/${i}`, value: { i, token: random().toString(36).slice(2) } }
    const r = yield* timed(use(pick(nodes), Dht.use((d) => d.put(entry.key, entry.value))))
    putMs.push(r.ms)
    if (Exit.isSuccess(r.exit)) {
      putOk++
      keys.push(entry)
    }
    if ((i + 1) % 10 === 0 || r.ms > 5000) {
      const sn = yield* sumStats(nodes)
      const q = yield* sumRouter(nodes)
      log(`put ${i + 1}/${puts}: last ${r.ms.toFixed(0)} ms; so far rpc timeouts ${sn.rpcTimeouts - s0.rpcTimeouts}, rpcs ${sn.rpcsSent - s0.rpcsSent}, routed flooded ${q.flooded}/${q.sent}`)
    }
  }
  const s1 = yield* sumStats(nodes)
  const net1 = network.stats.sent
  const q1 = yield* sumRouter(nodes)
  report("put_ok", `${putOk}/${puts}`)
  report("put_p50_ms", percentile(putMs, 50))
  report("put_p95_ms", percentile(putMs, 95))
  report("put_rounds_per_lookup", (s1.lookupHops - s0.lookupHops) / Math.max(1, s1.lookups - s0.lookups))
  log(`puts: ${putOk}/${puts}, p50 ${percentile(putMs, 50)?.toFixed(0)} ms`)

  // ---- gets (with the process's CPU time: one process runs every node, so it is the whole
  // network's work for a get, background included; the idle share is measured just before)
  const idleCpu0 = process.cpuUsage()
  const idleT0 = performance.now()
  yield* Effect.sleep(3000)
  const idleShare = cpuMs(idleCpu0) / (performance.now() - idleT0)
  const getMs: Array<number> = []
  let getOk = 0
  const getCpu0 = process.cpuUsage()
  const getT0 = performance.now()
  for (let i = 0; i < gets && keys.length > 0; i++) {
    const entry = pick(keys)
    const r = yield* timed(use(pick(nodes), Dht.use((d) => d.get(entry.key))))
    getMs.push(r.ms)
    if (Exit.isSuccess(r.exit) && JSON.stringify(r.exit.value) === JSON.stringify(entry.value)) getOk++
  }
  const getCpu = cpuMs(getCpu0)
  const getWall = performance.now() - getT0
  const s2 = yield* sumStats(nodes)
  const lookups = Math.max(1, s2.lookups - s1.lookups)
  report("idle_cpu_share", idleShare)
  report("get_cpu_ms", getCpu / Math.max(1, getMs.length))
  report("get_cpu_ms_above_idle", (getCpu - idleShare * getWall) / Math.max(1, getMs.length))
  report("get_ok", `${getOk}/${getMs.length}`)
  report("get_ratio", getMs.length === 0 ? null : getOk / getMs.length)
  report("get_p50_ms", percentile(getMs, 50))
  report("get_p95_ms", percentile(getMs, 95))
  report("get_lookups", s2.lookups - s1.lookups)
  report("get_rounds_per_lookup", (s2.lookupHops - s1.lookupHops) / lookups)
  report("get_rpcs_per_lookup", (s2.rpcsSent - s1.rpcsSent) / lookups)
  report("get_rpc_timeouts", s2.rpcTimeouts - s1.rpcTimeouts)
  report("get_link_msgs_per_get", (network.stats.sent - net1) / Math.max(1, getMs.length))
  report("put_link_msgs_per_put", (net1 - net0) / Math.max(1, puts))
  const q2 = yield* sumRouter(nodes)
  report("get_routed_sent", q2.sent - q1.sent)
  report("get_routed_flooded", q2.flooded - q1.flooded)
  report("get_routed_dropped", q2.dropped - q1.dropped)
  report("get_routed_forwards_per_msg", (q2.forwarded - q1.forwarded) / Math.max(1, q2.sent - q1.sent))
  report("log2_n", Math.log2(nodes.length))
  log(`gets: ${getOk}/${getMs.length}, p50 ${percentile(getMs, 50)?.toFixed(0)} ms`)

  // ---- churn
  if (churn > 0 && keys.length > 0) {
    // who holds each key now: a key whose holders all stop can only be lost (the DHT promises
    // survival when a minority of holders leaves), so those are counted apart
    const holdersOf = new Map<string, ReadonlyArray<PeerId>>()
    for (const entry of keys) {
      const r = yield* Effect.exit(use(pick(nodes), Dht.use((d) => d.holders(entry.key))))
      holdersOf.set(entry.key, Exit.isSuccess(r) ? r.value : [])
    }
    const doomed = new Set<SimNode>()
    const count = Math.round(nodes.length * churn)
    while (doomed.size < count) doomed.add(pick(nodes))
    const doomedIds = new Set<string>([...doomed].map((node) => node.peerId))
    const orphaned = keys.filter((entry) => (holdersOf.get(entry.key) ?? []).every((id) => doomedIds.has(id))).length
    report("churn_keys_all_holders_stopped", `${orphaned} of ${keys.length}`)
    report("churn_holders_per_key", mean(keys.map((entry) => holdersOf.get(entry.key)?.length ?? 0)))
    for (const node of doomed) {
      node.alive = false
      yield* Scope.close(node.scope, Exit.void)
    }
    const survivors = nodes.filter((node) => node.alive)
    report("churn_stopped", count)
    const tHeal = Date.now()
    let healed = formedState(yield* linkGraph(survivors), 1)
    while (!healed.formed && Date.now() - tHeal < 30_000) {
      yield* Effect.sleep(500)
      healed = formedState(yield* linkGraph(survivors), 1)
    }
    report("churn_healed_s", healed.formed ? (Date.now() - tHeal) / 1000 : `not healed in 30 s (${healed.parts.length} components)`)
    const r0 = yield* sumStats(survivors)
    setFastReplication(true)
    yield* Effect.sleep(repairWindowMs)
    setFastReplication(false)
    const r1 = yield* sumStats(survivors)
    report("churn_repair_window_s", repairWindowMs / 1000)
    report("churn_replication_rpcs", r1.replications - r0.replications)
    log(`churn: ${count} stopped; repair window over, getting ${keys.length} keys`)
    const churnMs: Array<number> = []
    let churnOk = 0
    let keptOk = 0
    let kept = 0
    const failures: Record<string, number> = {}
    for (const entry of keys) {
      const r = yield* timed(use(pick(survivors), Dht.use((d) => d.get(entry.key))))
      churnMs.push(r.ms)
      const keptHolder = (holdersOf.get(entry.key) ?? []).some((id) => !doomedIds.has(id))
      if (keptHolder) kept++
      if (Exit.isSuccess(r.exit) && JSON.stringify(r.exit.value) === JSON.stringify(entry.value)) {
        churnOk++
        if (keptHolder) keptOk++
      } else {
        const why = Exit.isSuccess(r.exit) ? "wrong value" : String((r.exit.cause as unknown as { toString(): string }).toString()).slice(0, 40)
        failures[why] = (failures[why] ?? 0) + 1
      }
    }
    report("churn_get_ok", `${churnOk}/${keys.length}`)
    report("churn_get_ratio", churnOk / keys.length)
    report("churn_kept_get_ok", `${keptOk}/${kept}`)
    report("churn_kept_get_ratio", kept === 0 ? null : keptOk / kept)
    report("churn_get_p50_ms", percentile(churnMs, 50))
    report("churn_get_p95_ms", percentile(churnMs, 95))
    if (Object.keys(failures).length > 0) report("churn_failures", JSON.stringify(failures))
  }
  report("run_s", (Date.now() - tRun) / 1000)

  // ---- teardown (bounded)
  const closed = yield* Scope.close(root, Exit.void).pipe(
    Effect.as(true),
    Effect.timeoutOrElse({ duration: 30_000, orElse: () => Effect.succeed(false) })
  )
  report("teardown", closed ? "ok" : "timeout")
  return closed
})

const closed = await Effect.runPromise(program).catch((error: unknown) => {
  log(`failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`)
  process.exitCode = 1
  return false
})
done()
if (process.connected) process.disconnect()
if (!closed) process.exit(process.exitCode ?? 0)
