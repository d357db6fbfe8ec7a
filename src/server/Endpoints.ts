/**
 * The server's HTTP endpoints beside the WebSocket: `GET /health` (503 while a shared store
 * is unreachable), `GET /stats` (this server's figures, plus the deployment's under
 * `cluster` when several servers share a store) and `GET /metrics` (Prometheus text:
 * counters as `counter`, current figures as `gauge`).
 *
 * @since 2.0.0
 */
import { Effect, Metric } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { PrometheusMetrics } from "effect/observability"
import { Registry } from "./Registry.ts"
import { ServerConfig } from "./ServerConfig.ts"
import { ServerStats, type StatsCounters } from "./ServerEvents.ts"

const memoryUsage = () => {
  const m = process.memoryUsage()
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external }
}

/** This server's figures (synchronous: `PeerPigeonServer.getStats()`). */
export const statsSnapshot = Effect.gen(function*() {
  const counts = yield* Registry.use((r) => r.counts)
  const stats = yield* ServerStats
  const config = yield* ServerConfig
  return {
    ...stats,
    uptime: Date.now() - stats.startedAt,
    connections: counts.connections,
    peers: counts.peers,
    networks: counts.networks,
    maxConnections: config.maxConnections,
    maxConnectionsPerIp: config.maxConnectionsPerIp,
    memory: memoryUsage()
  }
})

/** The deployment's figures, `undefined` without a shared store; fails while it is unreachable. */
export const clusterSnapshot = Registry.use((r) => r.cluster)

export const healthRoute = HttpRouter.add(
  "GET",
  "/health",
  Effect.gen(function*() {
    const registry = yield* Registry
    const counts = yield* registry.counts
    const healthy = yield* registry.healthy
    const stats = yield* ServerStats
    return HttpServerResponse.jsonUnsafe({
      status: healthy ? "healthy" : "unavailable",
      uptime: Date.now() - stats.startedAt,
      connections: counts.connections,
      peers: counts.peers,
      networks: Object.keys(counts.networks).length,
      memory: memoryUsage(),
      timestamp: Date.now()
    }, { status: healthy ? 200 : 503 })
  })
)

export const statsRoute = HttpRouter.add(
  "GET",
  "/stats",
  Effect.gen(function*() {
    const local = yield* statsSnapshot
    const cluster = yield* Effect.orElseSucceed(clusterSnapshot, () => "unavailable" as const)
    return HttpServerResponse.jsonUnsafe(cluster === undefined ? local : { ...local, cluster })
  })
)

/** Every counter of `StatsCounters` (but `startedAt`), as `peerpigeon_<snake_case>_total`. */
const counterHelp: { readonly [K in Exclude<keyof StatsCounters, "startedAt">]: string } = {
  connectionsAccepted: "Connections accepted since start",
  connectionsRejected: "Connections refused since start (capacity, per-address cap, duplicate or invalid peer id)",
  messagesReceived: "Frames received since start",
  messagesRelayed: "Offers, answers and candidates relayed since start",
  discoveriesSent: "peer-discovered frames sent since start",
  disconnectsSent: "peer-disconnected frames sent since start",
  errorsSent: "error replies sent since start",
  rateLimited: "Frames and announces refused by the rate limits since start",
  timeouts: "Connections dropped after peerTimeout of silence since start",
  announceTimeouts: "Connections closed for not announcing within announceTimeout since start",
  takeovers: "Unverified holders of a peer id closed by a verified announce since start",
  identityVerified: "Announces with a valid identity proof since start",
  identityRejected: "Announces refused for a missing or invalid identity proof since start",
  relayFailures: "Relays answered with relay-failed since start",
  unavailableClosed: "Connections closed with 1013 while the shared store was unreachable since start"
}
const snake = (name: string) => name.replace(/[A-Z]/g, (ch) => "_" + ch.toLowerCase())

/**
 * Rendered from a registry of its own per scrape: the counters are set from this server's
 * totals (a counter updated once from zero holds the total), so several servers in one
 * process never mix, and nothing is added to the hot path.
 */
const render = Effect.gen(function*() {
  const s = yield* statsSnapshot
  const cluster = yield* Effect.orElseSucceed(clusterSnapshot, () => undefined)
  yield* Metric.update(Metric.gauge("peerpigeon_connections", { description: "Open WebSocket connections" }), s.connections)
  yield* Metric.update(Metric.gauge("peerpigeon_peers", { description: "Announced peers" }), s.peers)
  yield* Metric.update(
    Metric.gauge("peerpigeon_networks", { description: "Networks with at least one peer" }),
    Object.keys(s.networks).length
  )
  if (cluster !== undefined) {
    yield* Metric.update(Metric.gauge("peerpigeon_cluster_servers", { description: "Servers alive in the deployment" }), cluster.servers)
    yield* Metric.update(Metric.gauge("peerpigeon_cluster_peers", { description: "Announced peers in the deployment" }), cluster.peers)
    yield* Metric.update(
      Metric.gauge("peerpigeon_cluster_connections", { description: "Connections in the deployment" }),
      cluster.connections
    )
  }
  for (const [key, help] of Object.entries(counterHelp)) {
    const counter = Metric.counter(`peerpigeon_${snake(key)}_total`, { description: help, incremental: true })
    yield* Metric.update(counter, s[key as keyof typeof counterHelp])
  }
  return yield* PrometheusMetrics.format()
})

export const metricsRoute = HttpRouter.add(
  "GET",
  "/metrics",
  Effect.map(
    Effect.suspend(() => Effect.provideService(render, Metric.MetricRegistry, new Map())),
    (text) => HttpServerResponse.text(text, { contentType: "text/plain; version=0.0.4" })
  )
)
