/**
 * The signaling server as an Effect HTTP program: WebSocket upgrades on any path
 * (`?peerId=`), `GET /health`, `GET /stats`, `GET /metrics` (Prometheus text from Effect
 * metrics), CORS, WebSocket-level keepalive, and a clean shutdown that closes every socket
 * with 1001.
 *
 * @since 2.0.0
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Clock, Context, Effect, Layer, Schedule, Scope } from "effect"
import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "effect/http"
import { createServer, type IncomingMessage } from "node:http"
import type { Socket as NetSocket } from "node:net"
import { supervised } from "../internal/supervise.ts"
import type { LiveConnection } from "./Connection.ts"
import { type Hub, keepalive, makeHub } from "./Hub.ts"
import { Registry } from "./Registry.ts"
import { ServerConfig, type ServerOptions } from "./ServerConfig.ts"
import { healthRoute, metricsRoute, statsRoute } from "./Endpoints.ts"
import { ServerStats } from "./ServerEvents.ts"
import { SignalingWebSocket, takeWebSocket } from "./SignalingSocket.ts"

/** The server's set of live sockets, for the keepalive sweep and shutdown. */
export class LiveSockets extends Context.Service<LiveSockets, Set<LiveConnection>>()("peerpigeon/server/LiveSockets") {
  static readonly layer = Layer.effect(
    LiveSockets,
    Effect.gen(function*() {
      const config = yield* ServerConfig
      const stats = yield* ServerStats
      const live = new Set<LiveConnection>()
      // a defect in a sweep (a throwing socket, a bug) restarts it instead of ending keepalive for good
      const period = Math.min(config.pingInterval, config.cleanupInterval, Math.max(1, Math.floor(config.peerTimeout / 2)))
      const sweep = Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => keepalive(live, config, stats, now)))
      yield* supervised("signaling-server.keepalive", Effect.repeat(sweep, Schedule.spaced(period))).pipe(Effect.forkScoped)
      return live
    })
  )
}

/** What the server's connections share (config, registry, counters, hooks, the server's context). */
export class SignalingHub extends Context.Service<SignalingHub, Hub>()("peerpigeon/server/SignalingHub") {
  static readonly layer = Layer.effect(
    SignalingHub,
    Effect.gen(function*() {
      const config = yield* ServerConfig
      const hub = yield* makeHub(yield* LiveSockets)
      // the announce deadline, checked a few times per announceTimeout
      const period = Math.max(5, Math.min(1000, Math.floor(config.announceTimeout / 4)))
      const expire = Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => hub.expireUnannounced(now)))
      yield* supervised("signaling-server.announce-deadline", Effect.repeat(expire, Schedule.spaced(period))).pipe(Effect.forkScoped)
      return hub
    })
  )
}

const isWebSocketUpgrade = (request: HttpServerRequest.HttpServerRequest) =>
  (request.headers["upgrade"] ?? "").toLowerCase() === "websocket"

const peerIdParam = (url: string): string | null => {
  const q = url.indexOf("?")
  return q === -1 ? null : new URLSearchParams(url.slice(q + 1)).get("peerId")
}

/**
 * platform-node's upgrade handler puts a `close` and an `error` listener on the request's
 * socket right after running the route (the first interrupts the route's fiber if the socket
 * closes early). They live as long as the socket and hold the whole upgrade request: the
 * IncomingMessage with its headers, its first bytes, the ended fiber (about 2 KB per idle
 * connection). Once the route has ended they have nothing left to do, so they are removed on
 * the next tick: only listeners added after this call, and only on `close` and `error` (ws's
 * own listeners, added during the handshake, stay). If the route did not run within the
 * handler's tick, the platform's listeners are already there and are kept.
 */
const releaseUpgradeRequest = (socket: NetSocket): void => {
  process.nextTick(dropListenersSince, socket, socket.listeners("close"), socket.listeners("error"))
}

const dropListenersSince = (socket: NetSocket, close: ReadonlyArray<unknown>, error: ReadonlyArray<unknown>): void => {
  for (const listener of socket.listeners("close")) {
    if (!close.includes(listener)) socket.removeListener("close", listener as () => void)
  }
  for (const listener of socket.listeners("error")) {
    if (!error.includes(listener)) socket.removeListener("error", listener as () => void)
  }
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
    const hub = yield* SignalingHub
    const requestedPeerId = peerIdParam(request.url)
    const requestSocket = (request.source as IncomingMessage).socket
    const socket = yield* request.upgrade
    // Acquiring the reader completes the handshake. From then on the connection lives in the
    // hub's ws listeners, not in this fiber: the route ends, and the request, its fiber and
    // its context can be collected. The reader's scope only holds a close of the socket that
    // the hub does itself, so it is left to the garbage collector.
    yield* Scope.provide(socket.reader, Scope.makeUnsafe())
    const ws = takeWebSocket(requestSocket)
    if (ws === undefined) return yield* Effect.die(new Error("upgraded WebSocket not found"))
    hub.accept(ws, requestedPeerId, requestSocket.remoteAddress)
    releaseUpgradeRequest(requestSocket)
    return HttpServerResponse.empty()
  }).pipe(
    // every close surfaces as SocketError: the normal end of a connection
    Effect.catchTag("SocketError", () => Effect.succeed(HttpServerResponse.empty()))
  )
)

const routes = Layer.mergeAll(socketRoute, healthRoute, statsRoute, metricsRoute)

/** Closes every socket with 1001 before the HTTP server stops (built after it, so released first). */
const closeOnShutdown = Layer.effectDiscard(
  Effect.gen(function*() {
    const hub = yield* SignalingHub
    yield* Effect.addFinalizer(() => hub.shutdown)
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
      Layer.provideMerge(SignalingHub.layer),
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
            websocket: { maxPayload: config.maxMessageSize, WebSocket: SignalingWebSocket }
          })
        )
      )
    })
  ).pipe(
    Layer.provideMerge(Layer.mergeAll(registryLayer, ServerStats.layer)),
    Layer.provideMerge(ServerConfig.layer(options))
  )

/** In memory, unless `redis` (or `redisSocket`) names a shared Redis. */
const registryLayer = Layer.unwrap(Effect.map(ServerConfig, (config) =>
  config.redis === undefined && config.redisSocket === undefined
    ? Registry.layerMemory
    : Registry.layerRedis({ url: config.redis, socketPath: config.redisSocket, commandTimeout: config.redisCommandTimeout })))

/** The bound port of the running server. */
export const boundPort = Effect.gen(function*() {
  const server = yield* HttpServer.HttpServer
  return server.address._tag === "UnixPathAddress" ? 0 : server.address.port
})
