/**
 * Server child of bench/compare.ts for PeerPigeon 1.1.3: its own `PeerPigeonServer`
 * (server/index.js, what its `server/start.js` runs) on 127.0.0.1, answering the same IPC
 * as bench/server-process.ts (`{type:"ready", port}`, then `sample`, `gc`, `stop`), so the
 * orchestrator drives either server the same way.
 *
 * 1.1.3 reads `port: 0` as its default 3000 (`options.port || 3000`), so the OS picks a free
 * port here first (listen on 0, close), and 1.1.3's own retry on EADDRINUSE covers the race.
 * `maxConnections` is raised from its default 1,000 so 1,000 load clients plus the seed fit.
 * Args: `--dir=<bench folder>`. Exits by itself when the parent goes away.
 */
import { createServer } from "node:net"
import { join } from "node:path"
import { monitorEventLoopDelay, performance } from "node:perf_hooks"
import { pathToFileURL } from "node:url"
import { serveRequests, type ServerReady, type ServerRequest, type ServerSample } from "./server-ipc.ts"

interface TheirServer {
  port: number
  start(): Promise<unknown>
  stop(): Promise<void>
  getStats?: () => unknown
  on(event: string, f: (e: unknown) => void): void
}
type TheirServerCtor = new (options: Record<string, unknown>) => TheirServer

const dirArg = process.argv.find((a) => a.startsWith("--dir="))?.slice(6) ?? ""
const { PeerPigeonServer } = (await import(pathToFileURL(join(dirArg, "node_modules", "peerpigeon", "server", "index.js")).href)) as {
  PeerPigeonServer: TheirServerCtor
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once("error", reject)
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      probe.close(() => resolve(port))
    })
  })

const server = new PeerPigeonServer({ port: await freePort(), host: "127.0.0.1", maxConnections: 20_000 })
let serverErrors = 0
server.on("error", () => serverErrors++)

let stopping: Promise<void> | undefined
const stop = (): Promise<void> => {
  stopping ??= Promise.race([server.stop(), new Promise<void>((r) => setTimeout(r, 10_000).unref())])
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
        spaces: {},
        cpu: process.cpuUsage(),
        at: performance.now(),
        loopLag: { max: lag.max / 1e6, p99: lag.percentile(99) / 1e6 },
        stats: { serverErrors, ...(typeof server.getStats === "function" ? { stats: server.getStats() } : {}) }
      }
      lag.reset()
      return sample
    }
    case "gc": {
      const ok = runGc()
      await new Promise((r) => setTimeout(r, 100))
      runGc()
      return ok
    }
    case "heapSnapshot":
      throw new Error("not supported for 1.1.3's server")
    case "stop":
      await stop()
      setImmediate(() => process.disconnect())
      return true
  }
})

process.on("disconnect", () => {
  void stop().finally(() => process.exit(0))
})

try {
  await server.start()
  const ready: ServerReady = { type: "ready", port: server.port }
  process.send?.(ready)
} catch (err) {
  console.error("[compare-server] 1.1.3 server start failed:", err)
  process.exit(2)
}
