/**
 * The signaling server as an Effect HTTP program: WebSocket upgrades on any path
 * (`?peerId=`), `GET /health`, `GET /stats`, `GET /metrics` (Prometheus text from Effect
 * metrics), CORS, WebSocket-level keepalive, and a clean shutdown that closes every socket
 * with 1001.
 *
 * @since 2.0.0
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Clock, Context, Effect, Layer, Metric, Schedule } from "effect"
import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "effect/http"
import { PrometheusMetrics } from "effect/observability"
import { Socket } from "effect/socket"
import { createServer, type IncomingMessage } from "node:http"
import { WebSocket } from "ws"
import { type LiveConnection, runConnection } from "./Connection.ts"
import { Registry } from "./Registry.ts"
import { ServerConfig, type ServerOptions } from "./ServerConfig.ts"
import { ServerStats } from "./ServerEvents.ts"

// platform-node hides the `ws` object behind `request.upgrade`; we need it for protocol-level
// ping/pong and close codes. `ws` builds server sockets from this class, and `setSocket` is
// where it meets the HTTP request's socket, so we remember the pair.
const webSocketOf = new WeakMap<object, WebSocket>()
class TrackedWebSocket extends WebSocket {
  setSocket(socket: object, ...rest: Array<unknown>): void {
    webSocketOf.set(socket, this)
    ;(WebSocket.prototype as unknown as { setSocket: (...args: Array<unknown>) => void }).setSocket.call(this, socket, ...rest)
  }
}

/** The server's set of live sockets, for the keepalive sweep and shutdown. */
export class LiveSockets extends Context.Service<LiveSockets, Set<LiveConnection>>()("peerpigeon/server/LiveSockets") {
  static readonly layer = Layer.effect(
    LiveSockets,
    Effect.gen(function*() {
      const config = yield* ServerConfig
      const live = new Set<LiveConnection>()
      // keepalive: ping every socket; one silent for peerTimeout is terminated (its handler then
      // leaves the network and frees the slot)
      const sweep = Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        for (const conn of live) {
          if (now - conn.lastSeen > config.peerTimeout) {
            conn.closing = "timeout"
            conn.ws.terminate()
          } else if (conn.ws.readyState === 1) {
            conn.ws.ping()
          }
        }
      })
      const period = Math.min(config.pingInterval, config.cleanupInterval, Math.max(1, Math.floor(config.peerTimeout / 2)))
      yield* sweep.pipe(Effect.repeat(Schedule.spaced(period)), Effect.forkScoped)
      return live
    })
  )
}

const isWebSocketUpgrade = (request: HttpServerRequest.HttpServerRequest) =>
  (request.headers["upgrade"] ?? "").toLowerCase() === "websocket"

const peerIdParam = (url: string): string | null => {
  const q = url.indexOf("?")
  return q === -1 ? null : new URLSearchParams(url.slice(q + 1)).get("peerId")
}

/** Any path: a WebSocket upgrade joins the signaling protocol; a plain GET gets a short notice. */
const socketRoute = HttpRouter.add(
  "GET",
  "*",
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    if (!isWebSocketUpgrade(request)) {
      return HttpServerResponse.text("PeerPigeon signaling server: connect with a WebSocket and ?peerId=<40 hex>", {
        status: 426,
        headers: { upgrade: "websocket" }
      })
    }
    const live = yield* LiveSockets
    const socket = yield* request.upgrade
    const pull = yield* Socket.readerString(socket) // completes the handshake
    const ws = webSocketOf.get((request.source as IncomingMessage).socket)
    if (ws === undefined) return yield* Effect.die(new Error("upgraded WebSocket not found"))
    yield* runConnection(ws, pull, peerIdParam(request.url), live)
    return HttpServerResponse.empty()
  }).pipe(
    // every close surfaces as SocketError: the normal end of a connection
    Effect.catchTag("SocketError", () => Effect.succeed(HttpServerResponse.empty()))
  )
)

const memoryUsage = () => {
  const m = process.memoryUsage()
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external }
}

const healthRoute = HttpRouter.add(
  "GET",
  "/health",
  Effect.gen(function*() {
    const counts = yield* Registry.use((r) => r.counts)
    const stats = yield* ServerStats
    return HttpServerResponse.jsonUnsafe({
      status: "healthy",
      uptime: Date.now() - stats.startedAt,
      connections: counts.connections,
      peers: counts.peers,
      networks: Object.keys(counts.networks).length,
      memory: memoryUsage(),
      timestamp: Date.now()
    })
  })
)

/** The `/stats` body (also `PeerPigeonServer.getStats()`). */
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
    memory: memoryUsage()
  }
})

const statsRoute = HttpRouter.add("GET", "/stats", Effect.map(statsSnapshot, (s) => HttpServerResponse.jsonUnsafe(s)))

const gauge = (name: string, description: string) => Metric.gauge(name, { description })
const counterGauges = {
  connections: gauge("peerpigeon_connections", "Open WebSocket connections"),
  peers: gauge("peerpigeon_peers", "Announced peers"),
  networks: gauge("peerpigeon_networks", "Networks with at least one peer"),
  connectionsAccepted: gauge("peerpigeon_connections_accepted_total", "Connections accepted since start"),
  connectionsRejected: gauge("peerpigeon_connections_rejected_total", "Connections refused since start"),
  messagesReceived: gauge("peerpigeon_messages_received_total", "Frames received since start"),
  messagesRelayed: gauge("peerpigeon_messages_relayed_total", "Offers, answers and candidates relayed since start"),
  discoveriesSent: gauge("peerpigeon_discoveries_sent_total", "peer-discovered frames sent since start"),
  errorsSent: gauge("peerpigeon_errors_sent_total", "error replies sent since start"),
  rateLimited: gauge("peerpigeon_rate_limited_total", "Frames refused by the rate limit since start")
}

// Effect metrics are set from the counters at scrape time: nothing is added to the hot path
const metricsRoute = HttpRouter.add(
  "GET",
  "/metrics",
  Effect.gen(function*() {
    const s = yield* statsSnapshot
    yield* Metric.update(counterGauges.connections, s.connections)
    yield* Metric.update(counterGauges.peers, s.peers)
    yield* Metric.update(counterGauges.networks, Object.keys(s.networks).length)
    yield* Metric.update(counterGauges.connectionsAccepted, s.connectionsAccepted)
    yield* Metric.update(counterGauges.connectionsRejected, s.connectionsRejected)
    yield* Metric.update(counterGauges.messagesReceived, s.messagesReceived)
    yield* Metric.update(counterGauges.messagesRelayed, s.messagesRelayed)
    yield* Metric.update(counterGauges.discoveriesSent, s.discoveriesSent)
    yield* Metric.update(counterGauges.errorsSent, s.errorsSent)
    yield* Metric.update(counterGauges.rateLimited, s.rateLimited)
    const text = yield* PrometheusMetrics.format()
    return HttpServerResponse.text(text, { contentType: "text/plain; version=0.0.4" })
  })
)

const routes = Layer.mergeAll(socketRoute, healthRoute, statsRoute, metricsRoute)

/** Closes every socket with 1001 before the HTTP server stops (built after it, so released first). */
const closeOnShutdown = Layer.effectDiscard(
  Effect.gen(function*() {
    const live = yield* LiveSockets
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const conn of live) {
          conn.closing = "server-shutdown"
          conn.ws.close(1001, "Server shutting down")
        }
      })
    )
  })
)

/**
 * The signaling application over an `HttpServer`, needing a `Registry`, `ServerConfig` and
 * `ServerStats`. Use `layer` for a Node server bound to `ServerConfig.host:port`.
 */
export const SignalingApp = Layer.unwrap(
  Effect.gen(function*() {
    const config = yield* ServerConfig
    const cors = HttpRouter.cors({
      allowedOrigins: config.corsOrigin === "*" ? [] : [config.corsOrigin],
      allowedMethods: ["GET", "OPTIONS"],
      allowedHeaders: ["content-type"]
    })
    return closeOnShutdown.pipe(
      Layer.provideMerge(HttpRouter.serve(Layer.mergeAll(routes, cors), { disableLogger: true, disableListenLog: true })),
      Layer.provideMerge(LiveSockets.layer)
    )
  })
)

/** A Node HTTP server on `ServerConfig.host:port` running the signaling app. */
export const layer = (options: Partial<ServerOptions> = {}) =>
  Layer.unwrap(
    Effect.gen(function*() {
      const config = yield* ServerConfig
      return SignalingApp.pipe(
        Layer.provideMerge(
          NodeHttpServer.layer(() => createServer(), {
            port: config.port,
            host: config.host,
            gracefulShutdownTimeout: "2 seconds",
            websocket: { maxPayload: config.maxMessageSize, WebSocket: TrackedWebSocket }
          })
        )
      )
    })
  ).pipe(
    Layer.provideMerge(Layer.mergeAll(Registry.layerMemory, ServerStats.layer)),
    Layer.provideMerge(ServerConfig.layer(options))
  )

/** The bound port of the running server. */
export const boundPort = Effect.gen(function*() {
  const server = yield* HttpServer.HttpServer
  return server.address._tag === "UnixPathAddress" ? 0 : server.address.port
})
