/**
 * `npm run dev`: builds the browser bundle and the demo app, starts the signaling server and
 * a static server for the repository, and rebuilds when src/ or examples/browser/ change.
 *
 *   PORT=8080          the app's port   (http://localhost:8080/examples/browser/)
 *   SIGNAL_PORT=3000   the signaling server's port
 *   HOST=localhost     the interface both bind
 *
 * Ctrl-C stops both servers and the watcher; the process then exits by itself.
 */
import { type FSWatcher, watch } from "node:fs"
import { PeerPigeonServer } from "../src/server/index.ts"
import { buildBrowser, root } from "./build-browser.ts"
import { startStaticServer } from "./dev-static.ts"

const intEnv = (name: string, fallback: number): number => {
  const raw = process.env[name]
  if (raw === undefined || raw === "") return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new RangeError(`${name} must be a port number, got ${raw}`)
  return n
}

const host = process.env["HOST"] || "localhost"
const port = intEnv("PORT", 8080)
const signalPort = intEnv("SIGNAL_PORT", 3000)

const build = async (why: string) => {
  const started = performance.now()
  try {
    await buildBrowser()
    console.log(`[dev] ${why}: built dist/browser/ in ${Math.round(performance.now() - started)} ms`)
  } catch (error) {
    console.error(`[dev] ${why}: build failed:`, error instanceof Error ? error.message : error)
    return false
  }
  return true
}

if (!(await build("start"))) process.exit(1)

const server = new PeerPigeonServer({ host, port: signalPort })
server.on("peerConnected", ({ peerId, totalConnections }) => console.log(`[signal] + ${peerId.slice(0, 8)} (${totalConnections} connected)`))
server.on("peerDisconnected", ({ peerId, totalConnections }) => console.log(`[signal] - ${peerId.slice(0, 8)} (${totalConnections} connected)`))
await server.start()
const statics = await startStaticServer({ root, host, port, signalingPort: server.port })

const shown = host.includes(":") ? `[${host}]` : host
console.log(`signaling server  ws://${shown}:${server.port}`)
console.log(`demo app          ${statics.origin}/examples/browser/`)
console.log(`(?api=ws://... picks another signaling server; Ctrl-C stops)`)

// Rebuild on source changes, coalescing bursts of events (editors write several times).
let timer: ReturnType<typeof setTimeout> | undefined
let building: Promise<unknown> = Promise.resolve()
const schedule = (file: string | null) => {
  clearTimeout(timer)
  timer = setTimeout(() => {
    building = building.then(() => build(`changed ${file ?? "a file"}`))
  }, 100)
}
const watchers: Array<FSWatcher> = [
  watch(`${root}src`, { recursive: true }, (_event, file) => schedule(file)),
  watch(`${root}examples/browser`, { recursive: true }, (_event, file) => schedule(file))
]

let stopping = false
const stop = async (signal: string) => {
  if (stopping) return
  stopping = true
  console.log(`\n[dev] ${signal}: stopping`)
  clearTimeout(timer)
  for (const w of watchers) w.close()
  await building
  await Promise.all([statics.close(), server.stop()])
  console.log("[dev] stopped")
}
process.once("SIGINT", () => void stop("SIGINT"))
process.once("SIGTERM", () => void stop("SIGTERM"))
