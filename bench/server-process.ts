/**
 * Server child of bench/server.ts: runs one PeerPigeonServer on 127.0.0.1, port 0,
 * reports `{type:"ready", port}` over IPC, then answers `sample`, `gc` and `stop`.
 * bench/cluster.ts also uses it, passing a Redis in `BENCH_SERVER_OPTIONS` (JSON options).
 * With `BENCH_BARE_WS=1` it runs a bare `ws` WebSocketServer instead (the reference for the
 * idle-RSS figure). Exits by itself when the parent goes away.
 */
import { join } from "node:path"
import { monitorEventLoopDelay, performance } from "node:perf_hooks"
import { getHeapSpaceStatistics, writeHeapSnapshot } from "node:v8"
import { WebSocketServer } from "ws"
import type { PeerPigeonServerOptions } from "../src/server/index.ts"
import { serveRequests, type ServerRequest, type ServerSample, type ServerReady } from "./server-ipc.ts"

const discoveryK = Number(process.env["BENCH_DISCOVERY_K"] ?? "8")
// bench/cluster.ts: extra options as JSON (its Redis, among them); bench/server.ts sets none
const extraOptions = JSON.parse(process.env["BENCH_SERVER_OPTIONS"] ?? "{}") as PeerPigeonServerOptions

const bare = process.env["BENCH_BARE_WS"] === "1"

/** What the bench drives: our server, or a bare ws server that accepts and ignores. */
interface Target {
  start(): Promise<number>
  stop(): Promise<void>
  getStats(): unknown
}

// loaded only when it runs: the bare ws reference must not carry our modules
const ours = async (): Promise<Target> => {
  const { PeerPigeonServer } = await import("../src/server/index.ts")
  const server = new PeerPigeonServer({
    port: 0,
    host: "127.0.0.1",
    maxConnections: 20000,
    // every load socket comes from 127.0.0.1, and scenario 4 connects 10k peers before they announce
    maxConnectionsPerIp: 20000,
    announceTimeout: 600_000,
    discoveryK,
    rateLimit: { perSecond: 1_000_000, burst: 1_000_000 },
    ...extraOptions
  })
  return {
    start: async () => {
      await server.start()
      return server.port
    },
    stop: () => server.stop(),
    getStats: () => server.getStats()
  }
}

const bareWs = (): Target => {
  let wss: WebSocketServer | undefined
  return {
    start: () =>
      new Promise<number>((resolve, reject) => {
        const s = new WebSocketServer({ port: 0, host: "127.0.0.1" })
        wss = s
        s.once("listening", () => resolve((s.address() as { port: number }).port))
        s.once("error", reject)
      }),
    stop: () => new Promise<void>((resolve) => (wss === undefined ? resolve() : wss.close(() => resolve()))),
    getStats: () => ({ clients: wss?.clients.size ?? 0 })
  }
}

const server = bare ? bareWs() : await ours()

let stopping: Promise<void> | undefined
const stop = (): Promise<void> => {
  stopping ??= (async () => {
    const guard = setTimeout(() => process.exit(3), 10_000)
    try {
      await server.stop()
    } finally {
      clearTimeout(guard)
    }
  })()
  return stopping
}

const runGc = (): boolean => {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) return false
  for (let i = 0; i < 4; i++) gc()
  return true
}

const lag = monitorEventLoopDelay({ resolution: 5 })
lag.enable()

serveRequests<ServerRequest>(async (req) => {
  switch (req.cmd) {
    case "sample": {
      const sample: ServerSample = {
        memory: process.memoryUsage(),
        spaces: Object.fromEntries(getHeapSpaceStatistics().map((sp) => [sp.space_name, [sp.space_size, sp.space_used_size] as const])),
        cpu: process.cpuUsage(),
        at: performance.now(),
        loopLag: { max: lag.max / 1e6, p99: lag.percentile(99) / 1e6 },
        stats: await Promise.resolve()
          .then(() => server.getStats())
          .catch((e: unknown) => ({ error: String(e) }))
      }
      lag.reset()
      return sample
    }
    case "gc": {
      const ok = runGc()
      // let finalizers / native frees run, then collect again
      await new Promise((r) => setTimeout(r, 100))
      runGc()
      return ok
    }
    case "heapSnapshot":
      return writeHeapSnapshot(join(req.dir, `server-${process.pid}-${Date.now()}.heapsnapshot`))
    case "stop": {
      await stop()
      // exit once the reply has been flushed
      setImmediate(() => process.disconnect())
      return true
    }
  }
})

process.on("disconnect", () => {
  void stop().finally(() => process.exit(0))
})

try {
  const port = await server.start()
  const ready: ServerReady = { type: "ready", port }
  process.send?.(ready)
} catch (err) {
  console.error("[server-process] start failed:", err)
  process.exit(2)
}
