/**
 * `npm run bench:budget [-- --n=300 --idle=20 --pairs=100 ...]`: a peer's idle control traffic
 * and the length of direct-message routes, on a MemoryNetwork with 5 ms links (issue 15).
 *
 * 1. Start N nodes (default options unless given: `--maxPeers`, `--presenceInterval`,
 *    `--dht=0|1`, `--dhtRefresh=S` and `--dhtRepublish=S` for the DHT's refresh and republish intervals), wait until the link graph is connected and every node has its links.
 * 2. Settle: with the DHT and crypto on, wait (at most `--settleTimeout` s) until every node's
 *    key record (`pp/keys/<peerId>`) is published, then `--settle` seconds (default 25: two
 *    maintenance passes) more, so the window is idle traffic, not the tail of startup.
 *    Idle: for `--idle` seconds nobody sends anything; link messages sent per node per second
 *    (MemoryNetwork counts every message put on a link: presence, repair, DHT maintenance,
 *    forwarding), the mean and the busiest node.
 * 3. Routes: `--pairs` direct messages between random pairs, one at a time; delivery, hops at
 *    arrival against the shortest path in the link graph (BFS), mean and p95 of the stretch.
 *
 * 4. With `--partition=S`: the nodes split in two halves for S seconds (MemoryNetwork.partition),
 *    then healed; the time until the link graph is one component again.
 *
 * Prints one markdown table row per run. CPU time of the process is printed too: a simulation
 * whose CPU is saturated sends less than it would (the issue's N = 300 figure was held down so).
 */
import { Context, Effect, Exit, Layer, PubSub, Scope } from "effect"
import { KeyDirectory } from "../src/crypto/KeyDirectory.ts"
import { MemoryNetwork } from "../src/layers/MemoryNetwork.ts"
import { makeMeshLayer } from "../src/layers/Mesh.ts"
import type { PeerId } from "../src/schema/PeerId.ts"
import { Connections } from "../src/services/Connections.ts"
import { Dht } from "../src/services/Dht.ts"
import { Discovery } from "../src/services/Discovery.ts"
import { beaconInterval, estimateNetworkSize, landmarkShare, rankOf } from "../src/internal/landmarks.ts"
import { Mesh } from "../src/services/Mesh.ts"
import { Router } from "../src/services/Router.ts"
import type { MeshOptions } from "../src/services/MeshConfig.ts"
import { MeshEvents } from "../src/services/MeshEvents.ts"
import { arg, components, mean, percentile, prng } from "./mesh-common.ts"

type Services = Layer.Success<ReturnType<typeof makeMeshLayer>>

const n = arg("n", 100)
const idleSeconds = arg("idle", 20)
const pairs = arg("pairs", 50)
const formationTimeoutMs = arg("formationTimeout", 120_000)
const random = prng(arg("seed", 11))
const options: Partial<MeshOptions> = {
  networkName: "budget",
  ...(process.argv.some((a) => a.startsWith("--maxPeers=")) ? { maxPeers: arg("maxPeers", 3) } : {}),
  ...(process.argv.some((a) => a.startsWith("--minPeers=")) ? { minPeers: arg("minPeers", 2) } : {}),
  ...(process.argv.some((a) => a.startsWith("--presenceInterval=")) ? { presenceInterval: arg("presenceInterval", 5000) } : {}),
  enableWebDHT: arg("dht", 1) === 1,
  // shorter maintenance intervals (seconds), to see the periodic terms of the README's formula in a short window
  ...(process.argv.some((a) => a.startsWith("--dhtRefresh=") || a.startsWith("--dhtRepublish="))
    ? {
      dht: {
        ...(process.argv.some((a) => a.startsWith("--dhtRefresh=")) ? { refreshInterval: arg("dhtRefresh", 600) * 1000 } : {}),
        ...(process.argv.some((a) => a.startsWith("--dhtRepublish=")) ? { republishInterval: arg("dhtRepublish", 1800) * 1000 } : {})
      }
    }
    : {})
}

const log = (s: string) => console.log(`[${(performance.now() / 1000).toFixed(1)}s] ${s}`)
const cpuSeconds = (from: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(from)
  return (u.user + u.system) / 1e6
}

/** Hop counts from `from` to every node of `graph` (BFS). */
const bfs = (graph: ReadonlyMap<string, ReadonlyArray<string>>, from: string): Map<string, number> => {
  const dist = new Map([[from, 0]])
  let frontier = [from]
  while (frontier.length > 0) {
    const next: Array<string> = []
    for (const id of frontier) {
      for (const m of graph.get(id) ?? []) {
        if (dist.has(m)) continue
        dist.set(m, dist.get(id)! + 1)
        next.push(m)
      }
    }
    frontier = next
  }
  return dist
}

const program = Effect.gen(function*() {
  const network = new MemoryNetwork({ latencyMs: 5, countKinds: true })
  const scope = yield* Scope.make()
  const nodes: Array<{ peerId: PeerId; context: Context.Context<Services> }> = []
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  for (let i = 0; i < n; i++) {
    const context = yield* Layer.buildWithScope(makeMeshLayer(options, network.layer), scope).pipe(Effect.orDie)
    yield* Effect.provide(Mesh.use((m) => m.connect("memory://budget")), context).pipe(Effect.orDie)
    nodes.push({ peerId: Context.get(context, Mesh).peerId as PeerId, context })
    if (i % 100 === 99) yield* Effect.sleep(5)
  }
  log(`${n} nodes started in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  const graphNow = Effect.gen(function*() {
    const graph = new Map<string, ReadonlyArray<string>>()
    for (const node of nodes) graph.set(node.peerId, yield* Effect.provide(Connections.use((c) => c.connected), node.context))
    return graph
  })
  const formedBy = performance.now() + formationTimeoutMs
  let graph = yield* graphNow
  while (performance.now() < formedBy) {
    graph = yield* graphNow
    const degrees = [...graph.values()].map((l) => l.length)
    if (components(graph).length === 1 && Math.min(...degrees) >= 1) break
    yield* Effect.sleep(500)
  }
  const parts = components(graph)
  const dump = process.argv.find((a) => a.startsWith("--dump="))?.slice("--dump=".length)
  if (dump !== undefined) (yield* Effect.promise(() => import("node:fs"))).writeFileSync(dump, JSON.stringify(Object.fromEntries(graph)))
  log(`formed: ${parts.length} component(s) after ${((performance.now() - t0) / 1000).toFixed(1)} s`)

  // settle: the key records published (each node's first put), then a few passes more
  const settleFrom = performance.now()
  const settleBy = settleFrom + arg("settleTimeout", 120) * 1000
  let unpublished = 0
  while (options.enableWebDHT && performance.now() < settleBy) {
    const published = yield* Effect.forEach(nodes, (node) => Effect.provide(KeyDirectory.use((k) => k.published), node.context))
    unpublished = published.filter((p) => !p).length
    if (unpublished === 0) break
    yield* Effect.sleep(1000)
  }
  yield* Effect.sleep(arg("settle", 25) * 1000)
  log(`settled ${((performance.now() - settleFrom) / 1000).toFixed(1)} s after formation (${unpublished} key records not published)`)

  // idle window
  const routerStats = Effect.map(
    Effect.forEach(nodes, (node) => Effect.provide(Router.use((r) => r.stats), node.context)),
    (all) => ({
      sent: all.reduce((a, x) => a + x.sent, 0),
      forwarded: all.reduce((a, x) => a + x.forwarded, 0),
      flooded: all.reduce((a, x) => a + x.flooded, 0),
      dropped: all.reduce((a, x) => a + x.dropped, 0)
    })
  )
  const routed0 = yield* routerStats
  const sent0 = network.stats.sent
  const kinds0 = new Map(network.stats.byKind)
  const dhtStats = Effect.map(
    Effect.forEach(nodes, (node) => Effect.provide(Dht.use((d) => d.stats), node.context)),
    (all) => ({
      lookups: all.reduce((a, x) => a + x.lookups, 0),
      rpcs: all.reduce((a, x) => a + x.rpcsSent, 0),
      timeouts: all.reduce((a, x) => a + x.rpcTimeouts, 0),
      replications: all.reduce((a, x) => a + x.replications, 0),
      skipped: all.reduce((a, x) => a + (x.replicationsSkipped ?? 0), 0),
      records: all.reduce((a, x) => a + x.records, 0)
    })
  )
  const dht0 = options.enableWebDHT ? yield* dhtStats : undefined
  const idleCpu = process.cpuUsage()
  yield* Effect.sleep(idleSeconds * 1000)
  if (dht0 !== undefined) {
    const dht1 = yield* dhtStats
    const per = (k: keyof typeof dht1) => ((dht1[k] - dht0[k]) / n / idleSeconds).toFixed(3)
    log(`DHT per node per second while idle: lookups ${per("lookups")}, RPCs sent ${per("rpcs")} (timeouts ${per("timeouts")}), replications ${per("replications")} (skipped ${per("skipped")}); records held ${dht1.records}`)
  }
  const routed1 = yield* routerStats
  const routedSent = routed1.sent - routed0.sent
  log(
    `routed messages while idle: ${(routedSent / n / idleSeconds).toFixed(3)} per node per second, ${
      ((routedSent + routed1.forwarded - routed0.forwarded) / Math.max(1, routedSent)).toFixed(1)
    } link messages (hops) each; flooded ${routed1.flooded - routed0.flooded}, dropped ${routed1.dropped - routed0.dropped}`
  )
  const idleRate = (network.stats.sent - sent0) / n / idleSeconds
  const idleCpuShare = cpuSeconds(idleCpu) / idleSeconds
  const byKind = [...network.stats.byKind].map(([k, v]) => [k, (v - (kinds0.get(k) ?? 0)) / n / idleSeconds] as const).filter(([, r]) => r > 0)
  log(`idle: ${idleRate.toFixed(2)} link messages per node per second (process CPU ${(100 * idleCpuShare).toFixed(0)}% of a core): ${byKind.sort((a, b) => b[1] - a[1]).map(([k, r]) => `${k} ${r.toFixed(2)}`).join(", ")}`)

  // landmarks as the nodes see them (the estimate each makes from the ids it discovered)
  const estimates: Array<number> = []
  let landmarks = 0
  for (const node of nodes) {
    const known = (yield* Effect.provide(Discovery.use((d) => d.discovered), node.context)).map((d) => d.peerId)
    const estimate = estimateNetworkSize(node.peerId, known)
    estimates.push(estimate)
    if (rankOf(node.peerId) < landmarkShare(estimate)) landmarks++
  }
  const meanEstimate = mean(estimates) ?? 0
  log(`network size as estimated: mean ${meanEstimate.toFixed(0)} (p5 ${percentile(estimates, 5)?.toFixed(0)}, p95 ${percentile(estimates, 95)?.toFixed(0)}); about ${landmarks} landmarks; beacon interval at the mean ${beaconInterval(5000, meanEstimate)} ms`)

  // routes
  graph = yield* graphNow
  const hops: Array<number> = []
  const stretch: Array<number> = []
  let delivered = 0
  const sendOne = (i: number) =>
    Effect.gen(function*() {
      const a = nodes[Math.floor(random() * n)]!
      let b = nodes[Math.floor(random() * n)]!
      while (b === a) b = nodes[Math.floor(random() * n)]!
      const shortest = bfs(graph, a.peerId).get(b.peerId)
      const inbox = yield* PubSub.subscribe(Context.get(b.context, MeshEvents))
      const sentAt = performance.now()
      yield* Effect.provide(Mesh.use((m) => m.sendDirectMessage(b.peerId, { pair: i })), a.context).pipe(Effect.ignore)
      const got = yield* Effect.gen(function*() {
        while (true) {
          const event = yield* PubSub.take(inbox)
          if (event._tag === "MessageReceived" && event.direct && event.from === a.peerId) return event.hops
        }
      }).pipe(Effect.timeoutOrElse({ duration: "20 seconds", orElse: () => Effect.succeed(undefined) }))
      if (got === undefined) return log(`pair ${i}: not delivered within 20 s (shortest path ${shortest})`)
      delivered++
      hops.push(got)
      if (shortest !== undefined && shortest > 0) stretch.push(got / shortest)
      if (process.env["BENCH_VERBOSE"]) log(`pair ${i}: ${got} hops (shortest ${shortest}) in ${(performance.now() - sentAt).toFixed(0)} ms`)
    }).pipe(Effect.scoped)
  // a few at a time: the figure is the route length, not the throughput
  yield* Effect.forEach(Array.from({ length: pairs }, (_, i) => i), sendOne, { concurrency: 8, discard: true })
  const f2 = (x: number | null) => (x === null ? "n/a" : x.toFixed(2))
  log(`routes: ${delivered}/${pairs} delivered, hops mean ${f2(mean(hops))}, stretch mean ${f2(mean(stretch))} p95 ${f2(percentile(stretch, 95))}`)
  // partition: the network split in two halves (links across close, none can form) for
  // `--partition` seconds, then healed; the time until the link graph is one component again
  const partitionSeconds = arg("partition", 0)
  let healedIn = "n/a"
  if (partitionSeconds > 0) {
    const ids = nodes.map((node) => node.peerId)
    yield* network.partition([ids.slice(0, n / 2), ids.slice(n / 2)])
    yield* Effect.sleep(partitionSeconds * 1000)
    const split = components(yield* graphNow).length
    network.heal()
    const healedAt = performance.now()
    let joined = false
    while (performance.now() - healedAt < 300_000) {
      if (components(yield* graphNow).length === 1) {
        joined = true
        break
      }
      yield* Effect.sleep(250)
    }
    healedIn = joined ? `${((performance.now() - healedAt) / 1000).toFixed(1)} s` : "not within 300 s"
    log(`partition: ${split} component(s) after ${partitionSeconds} s apart; one again ${healedIn} after healing`)
  }
  console.log(
    `| ${n} | ${JSON.stringify(options)} | ${parts.length} | ${idleRate.toFixed(2)} | ${delivered}/${pairs} | ${f2(mean(hops))} | ${f2(mean(stretch))} | ${f2(percentile(stretch, 95))} | ${healedIn} | ${cpuSeconds(cpu0).toFixed(0)} s |`
  )
  yield* Scope.close(scope, Exit.void)
})

await Effect.runPromise(program)
process.exit(0)
