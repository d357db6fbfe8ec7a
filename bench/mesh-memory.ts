/**
 * Child process of bench/mesh.ts: a large mesh on a `MemoryNetwork` (in-process links with
 * latency and loss, the real services above them), built with `makeMeshLayer`.
 *
 *   --n=1000 --loss=0.05 --churn=0.1 --messages=100 --gap=50
 *   --n=10000 --messages=20 --gap=200
 *
 * Phases: start N nodes one after another; wait (bounded) until every node has
 * [minPeers, maxPeers] links and the link graph is connected; then a message window where
 * random nodes that stay up broadcast, while (with --churn) that fraction of the nodes is
 * stopped and as many new ones started, spread over the window. Deliveries are counted only
 * at nodes alive for the whole window (the initial nodes that are not churned).
 */
import { Context, Effect, Exit, Fiber, Layer, PubSub, Scope } from "effect"
import { MemoryNetwork } from "../src/layers/MemoryNetwork.ts"
import { makeMeshLayer } from "../src/layers/Mesh.ts"
import type { PeerId } from "../src/schema/PeerId.ts"
import { Connections } from "../src/services/Connections.ts"
import { Gossip, type GossipStats } from "../src/services/Gossip.ts"
import { Mesh } from "../src/services/Mesh.ts"
import type { MeshOptions } from "../src/services/MeshConfig.ts"
import { MeshEvents } from "../src/services/MeshEvents.ts"
import { arg, components, done, histogram, log, MB, mean, memory, percentile, prng, report } from "./mesh-common.ts"

type Services = Layer.Success<ReturnType<typeof makeMeshLayer>>

interface SimNode {
  readonly peerId: PeerId
  readonly context: Context.Context<Services>
  readonly scope: Scope.Closeable
  alive: boolean
}

interface Delivery {
  readonly peerId: PeerId
  readonly hops: number
  readonly at: number
}

const n = arg("n", 1000)
const loss = arg("loss", 0)
const churn = arg("churn", 0)
const messages = arg("messages", 100)
const gapMs = arg("gap", 50)
const latencyMs = arg("latency", 5)
const formationTimeoutMs = arg("formationTimeout", 60_000)
const drainTimeoutMs = arg("drainTimeout", 30_000)
/** Starting stops here (the run goes on with the nodes started so far, and says so). */
const startBudgetMs = arg("startBudget", 300_000)
const teardownTimeoutMs = arg("teardownTimeout", 60_000)
const random = prng(arg("seed", 7))

const options: Partial<MeshOptions> = {
  networkName: "sim",
  maxPeers: arg("maxPeers", 4),
  minPeers: arg("minPeers", 2),
  presenceInterval: arg("presenceInterval", 0),
  optimizeInterval: arg("optimizeInterval", 2000),
  repairInterval: arg("repairInterval", 1000),
  connectionTimeout: arg("connectionTimeout", 3000),
  // the mesh alone (the DHT has its own benchmark): --dht=1 turns it on
  enableWebDHT: arg("dht", 0) === 1
}

const network = new MemoryNetwork({ latencyMs, loss, random: prng(arg("seed", 7) + 1) })
const deliveries = new Map<string, Array<Delivery>>()
/** Gossip stats of nodes already stopped, read just before they stopped. */
const stoppedStats: Array<GossipStats> = []

const use = <A, E>(node: SimNode, effect: Effect.Effect<A, E, Services>) => Effect.provide(effect, node.context)

const startNode = (parent: Scope.Scope) =>
  Effect.gen(function*() {
    const scope = yield* Scope.fork(parent, "sequential")
    const context = yield* Layer.buildWithScope(makeMeshLayer(options, network.layer), scope).pipe(Effect.orDie)
    const peerId = Context.get(context, Mesh).peerId
    const subscription = yield* PubSub.subscribe(Context.get(context, MeshEvents)).pipe(Scope.provide(scope))
    yield* Effect.gen(function*() {
      while (true) {
        const event = yield* PubSub.take(subscription)
        if (event._tag !== "MessageReceived" || event.direct) continue
        let list = deliveries.get(event.messageId)
        if (list === undefined) deliveries.set(event.messageId, list = [])
        list.push({ peerId, hops: event.hops, at: Date.now() })
      }
    }).pipe(Effect.forkIn(scope))
    const node: SimNode = { peerId, context, scope, alive: true }
    yield* use(node, Mesh.use((m) => m.connect("memory://sim"))).pipe(Effect.orDie)
    return node
  })

const stopNode = (node: SimNode) =>
  Effect.gen(function*() {
    if (!node.alive) return
    stoppedStats.push(yield* use(node, Gossip.use((g) => g.stats)))
    node.alive = false
    yield* Scope.close(node.scope, Exit.void)
  })

const linkGraph = (nodes: ReadonlyArray<SimNode>) =>
  Effect.forEach(nodes, (node) => Effect.map(use(node, Connections.use((c) => c.connected)), (peers) => [node.peerId as string, peers as ReadonlyArray<string>] as const))
    .pipe(Effect.map((entries) => new Map(entries)))

const describeGraph = (graph: ReadonlyMap<string, ReadonlyArray<string>>, min: number, max: number) => {
  const degrees = [...graph.values()].map((p) => p.length)
  const parts = components(graph)
  return {
    formed: parts.length === 1 && degrees.every((d) => d >= min && d <= max),
    outOfBounds: degrees.filter((d) => d < min || d > max).length,
    degrees: histogram(degrees),
    components: parts.length === 1 ? "1" : `${parts.length} (largest ${parts[0]}, then ${parts.slice(1, 4).join(",")})`
  }
}

const program = Effect.gen(function*() {
  const root = yield* Scope.make()
  report("options", JSON.stringify({ latencyMs, loss, ...options }))
  const base = yield* Effect.promise(memory)
  const tRun = Date.now()

  // ---- start
  const nodes: Array<SimNode> = []
  const t0 = Date.now()
  for (let i = 0; i < n; i++) {
    if (Date.now() - t0 > startBudgetMs) {
      log(`start budget of ${startBudgetMs / 1000} s spent: going on with ${nodes.length} nodes`)
      break
    }
    nodes.push(yield* startNode(root))
    if ((i + 1) % Math.max(1, Math.round(n / 5)) === 0) log(`started ${i + 1}/${n} nodes (${((Date.now() - t0) / 1000).toFixed(1)} s)`)
  }
  const startMs = Date.now() - t0
  report("start_s", startMs / 1000)
  report("nodes_started", nodes.length === n ? n : `${nodes.length} of ${n} (start budget ${startBudgetMs / 1000} s)`)

  // ---- what N idle nodes cost: CPU of this process over 5 s, before anything is sent
  const cpu0 = process.cpuUsage()
  const idle0 = Date.now()
  yield* Effect.sleep(5000)
  const cpu = process.cpuUsage(cpu0)
  report("idle_cpu_percent", ((cpu.user + cpu.system) / 1000 / (Date.now() - idle0)) * 100)

  // ---- formation (bounded)
  const min = options.minPeers!
  const max = options.maxPeers!
  const pollMs = n >= 5000 ? 1000 : 250
  let state = describeGraph(yield* linkGraph(nodes), min, max)
  while (!state.formed && Date.now() - t0 < startMs + formationTimeoutMs) {
    yield* Effect.sleep(pollMs)
    state = describeGraph(yield* linkGraph(nodes), min, max)
  }
  report("formed_s", state.formed ? (Date.now() - t0) / 1000 : null)
  report("formation_degrees", state.degrees)
  report("formation_out_of_bounds", state.outOfBounds)
  report("formation_components", state.components)
  log(`formation: ${state.formed ? "formed" : "NOT formed"} at ${((Date.now() - t0) / 1000).toFixed(1)} s; degrees ${state.degrees}; components ${state.components}`)
  const formedMem = yield* Effect.promise(memory)
  report("mem_rss_per_node_kb", (formedMem.rss - base.rss) / nodes.length / 1024)
  report("mem_heap_per_node_kb", (formedMem.heapUsed - base.heapUsed) / nodes.length / 1024)

  // ---- message window, with churn
  const churned = new Set<SimNode>()
  const churnCount = Math.round(n * churn)
  while (churned.size < churnCount) churned.add(nodes[Math.floor(random() * nodes.length)]!)
  const stable = nodes.filter((node) => !churned.has(node))
  const stableIds = new Set<string>(stable.map((node) => node.peerId))
  const windowMs = messages * gapMs
  const sent = new Map<string, { readonly at: number; readonly from: PeerId }>()
  const newcomers: Array<SimNode> = []
  const tw = Date.now()
  const churnFiber = yield* Effect.gen(function*() {
    const order = [...churned]
    for (let i = 0; i < order.length; i++) {
      const due = tw + ((i + 0.5) * windowMs) / order.length
      const wait = due - Date.now()
      if (wait > 0) yield* Effect.sleep(wait)
      yield* stopNode(order[i]!)
      newcomers.push(yield* startNode(root))
    }
  }).pipe(Effect.forkIn(root))
  const netBefore = { ...network.stats }
  for (let i = 0; i < messages; i++) {
    const from = stable[Math.floor(random() * stable.length)]!
    const at = Date.now()
    const id = yield* use(from, Mesh.use((m) => m.sendMessage({ seq: i, sentAt: at }))).pipe(Effect.orDie)
    sent.set(id, { at, from: from.peerId })
    const wait = tw + (i + 1) * gapMs - Date.now()
    if (wait > 0) yield* Effect.sleep(wait)
  }
  const sendMs = Date.now() - tw
  const expected = messages * (stable.length - 1)
  const countStable = () => {
    let count = 0
    for (const id of sent.keys()) {
      const seen = new Set<string>()
      for (const d of deliveries.get(id) ?? []) if (stableIds.has(d.peerId) && !seen.has(d.peerId)) {
        seen.add(d.peerId)
        count++
      }
    }
    return count
  }
  let delivered = countStable()
  const tDrain = Date.now()
  while (delivered < expected && Date.now() - tDrain < drainTimeoutMs) {
    yield* Effect.sleep(250)
    delivered = countStable()
  }
  report("drain_s", delivered >= expected ? (Date.now() - tDrain) / 1000 : `timeout (${drainTimeoutMs / 1000} s)`)
  yield* Fiber.await(churnFiber).pipe(Effect.timeoutOrElse({ duration: 30_000, orElse: () => Fiber.interrupt(churnFiber) }))

  // ---- figures
  const hops: Array<number> = []
  const latencies: Array<number> = []
  let duplicatesAtApp = 0
  let newcomerDeliveries = 0
  const newcomerIds = new Set<string>(newcomers.map((node) => node.peerId))
  for (const [id, s] of sent) {
    const seen = new Set<string>()
    for (const d of deliveries.get(id) ?? []) {
      if (newcomerIds.has(d.peerId)) newcomerDeliveries++
      if (!stableIds.has(d.peerId)) continue
      if (seen.has(d.peerId)) {
        duplicatesAtApp++
        continue
      }
      seen.add(d.peerId)
      hops.push(d.hops)
      latencies.push(d.at - s.at)
    }
  }
  const stats = [...stoppedStats, ...(yield* Effect.forEach(nodes.concat(newcomers).filter((node) => node.alive), (node) => use(node, Gossip.use((g) => g.stats))))]
  const sum = (k: keyof GossipStats) => stats.reduce((a, s) => a + s[k], 0)
  report("messages", messages)
  report("window_s", sendMs / 1000)
  report("stable_nodes", stable.length)
  report("churned", `${churnCount} stopped, ${newcomers.length} started`)
  report("delivered", delivered)
  report("expected", expected)
  report("ratio", delivered / expected)
  report("app_duplicates", duplicatesAtApp)
  report("newcomer_deliveries", newcomerDeliveries)
  report("gossip_delivered", sum("delivered"))
  report("gossip_duplicates", sum("duplicates"))
  report("dup_per_delivery", sum("duplicates") / Math.max(1, sum("delivered")))
  report("gossip_repaired", sum("repaired"))
  report("gossip_dropped", sum("dropped"))
  report("hops_mean", mean(hops))
  report("hops_max", percentile(hops, 100))
  report("latency_p50_ms", percentile(latencies, 50))
  report("latency_p99_ms", percentile(latencies, 99))
  report("net_link_msgs", network.stats.sent - netBefore.sent)
  report("net_dropped", network.stats.dropped - netBefore.dropped)
  const after = describeGraph(yield* linkGraph(nodes.concat(newcomers).filter((node) => node.alive)), min, max)
  report("final_components", after.components)
  report("final_degrees", after.degrees)
  log(`delivered ${delivered}/${expected}; duplicates/delivery ${(sum("duplicates") / Math.max(1, sum("delivered"))).toFixed(2)}`)
  report("run_s", (Date.now() - tRun) / 1000)
  const peak = yield* Effect.promise(memory)
  report("rss_mb", peak.rss / MB)

  // ---- teardown (bounded)
  const tStop = Date.now()
  const closed = yield* Scope.close(root, Exit.void).pipe(
    Effect.as(true),
    Effect.timeoutOrElse({ duration: teardownTimeoutMs, orElse: () => Effect.succeed(false) })
  )
  report("teardown_s", closed ? (Date.now() - tStop) / 1000 : "timeout")
  return closed
})

const closed = await Effect.runPromise(program).catch((error: unknown) => {
  log(`failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`)
  process.exitCode = 1
  return true
})
done()
if (process.connected) process.disconnect()
// a simulation that could not close within its bound is ended here, and says so above
if (!closed) process.exit(0)
