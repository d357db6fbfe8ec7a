/**
 * Peer child of bench/compare.ts: one mesh peer in this process, as a user runs several
 * peers, either ours (`--system=ours`: `PeerPigeonMesh` of src/index.ts, werift) or
 * PeerPigeon 1.1.3's (`--system=theirs --dir=<bench folder>`: its `PeerPigeonMesh` with
 * `@koush/wrtc`, set up as 1.1.3's examples/node/test-node.js does).
 *
 * The process is reused across runs: `start` builds a fresh mesh, `stop` disconnects it.
 * Both systems run with their default options except `networkName`, `maxPeers`, `minPeers`.
 * Exceptions thrown inside 1.1.3 (uncaught or unhandled) are counted, not fatal, so the
 * bench measures its failures instead of losing the process. Exits when the parent goes away.
 */
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { serveRequests } from "./server-ipc.ts"
import {
  nowMs,
  parsePayload,
  payload,
  type Delivery,
  type MemoryReading,
  type PeerRequest,
  type PeerState,
  type Started,
  type System
} from "./compare-ipc.ts"

const argString = (name: string, fallback: string): string => {
  const found = process.argv.find((a) => a.startsWith(`--${name}=`))
  return found === undefined ? fallback : found.slice(name.length + 3)
}
const system = argString("system", "ours") as System

/** What the bench uses of either mesh. */
interface AnyMesh {
  readonly peerId: string
  connect(url: string): Promise<void>
  disconnect(): Promise<void>
  broadcast(content: string): Promise<void>
  direct(to: string, content: string): Promise<void>
  connectedIds(): ReadonlyArray<string>
  onMessage(f: (from: string, content: unknown) => void): void
}

/** The surface of 1.1.3's PeerPigeonMesh (src/PeerPigeonMesh.js) the bench calls. */
interface TheirMesh {
  readonly peerId: string | null
  init(): Promise<void>
  connect(url: string): Promise<void>
  disconnect(): void
  sendMessage(content: string): Promise<string | null | undefined>
  sendDirectMessage(to: string, content: string): Promise<string | null | undefined>
  getConnectedPeerIds(): Array<string>
  addEventListener(name: string, f: (e: { from?: unknown; content?: unknown }) => void): void
}
type TheirMeshCtor = new (options: Record<string, unknown>) => TheirMesh

let errors = 0
let lastError = ""
const countError = (e: unknown): void => {
  errors++
  lastError = String(e instanceof Error ? e.message : e).slice(0, 200)
}
process.on("uncaughtException", countError)
process.on("unhandledRejection", countError)

const makeTheirs = async (): Promise<(o: MeshOptions) => Promise<AnyMesh>> => {
  const dir = argString("dir", "")
  const mod = (p: string) => pathToFileURL(join(dir, "node_modules", p)).href
  // 1.1.3's Node example: wrtc and ws as globals before the mesh is created
  const wrtc = ((await import(mod("@koush/wrtc/lib/index.js"))) as { default: Record<string, unknown> }).default
  const ws = ((await import(mod("ws/wrapper.mjs"))) as { default: unknown }).default
  const g = globalThis as Record<string, unknown>
  g["RTCPeerConnection"] = wrtc["RTCPeerConnection"]
  g["RTCSessionDescription"] = wrtc["RTCSessionDescription"]
  g["RTCIceCandidate"] = wrtc["RTCIceCandidate"]
  g["WebSocket"] = ws
  const { PeerPigeonMesh } = (await import(mod("peerpigeon/index.js"))) as { PeerPigeonMesh: TheirMeshCtor }
  return async (o) => {
    const mesh = new PeerPigeonMesh({ networkName: o.networkName, maxPeers: o.maxPeers, minPeers: o.minPeers, ignoreEnvironmentErrors: true })
    await mesh.init()
    return {
      get peerId() {
        return mesh.peerId ?? ""
      },
      connect: (url) => mesh.connect(url),
      disconnect: () => Promise.resolve(mesh.disconnect()),
      broadcast: async (content) => {
        if ((await mesh.sendMessage(content)) == null) throw new Error("sendMessage returned no id")
      },
      direct: async (to, content) => {
        if ((await mesh.sendDirectMessage(to, content)) == null) throw new Error("sendDirectMessage returned no id")
      },
      connectedIds: () => mesh.getConnectedPeerIds(),
      onMessage: (f) => mesh.addEventListener("messageReceived", (e) => f(typeof e.from === "string" ? e.from : "", e.content))
    }
  }
}

const makeOurs = async (): Promise<(o: MeshOptions) => Promise<AnyMesh>> => {
  const { PeerPigeonMesh } = await import("../src/index.ts")
  return async (o) => {
    const mesh = new PeerPigeonMesh({ networkName: o.networkName, maxPeers: o.maxPeers, minPeers: o.minPeers })
    await mesh.init()
    return {
      get peerId() {
        return mesh.peerId
      },
      connect: (url) => mesh.connect(url),
      disconnect: () => mesh.disconnect(),
      broadcast: (content) => Promise.resolve(void mesh.sendMessage(content)),
      direct: (to, content) => Promise.resolve(void mesh.sendDirectMessage(to, content)),
      connectedIds: () => mesh.getConnectedPeerIds(),
      onMessage: (f) => mesh.addEventListener("messageReceived", (e) => f(e.from, e.content))
    }
  }
}

interface MeshOptions {
  readonly networkName: string
  readonly maxPeers: number
  readonly minPeers: number
}

const create = system === "theirs" ? await makeTheirs() : await makeOurs()

let mesh: AnyMesh | undefined
let inbox: Array<Delivery> = []

const gc = (globalThis as { gc?: () => void }).gc
const memory = async (): Promise<MemoryReading> => {
  if (gc !== undefined) {
    gc()
    await new Promise((r) => setTimeout(r, 50))
    gc()
  }
  const m = process.memoryUsage()
  return { rss: m.rss, heapUsed: m.heapUsed }
}

const withTimeout = <A>(p: Promise<A>, ms: number, what: string): Promise<A> =>
  Promise.race([
    p,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms).unref())
  ])

const stop = async (): Promise<void> => {
  const m = mesh
  mesh = undefined
  inbox = []
  if (m !== undefined) await withTimeout(m.disconnect(), 10_000, "disconnect").catch(countError)
}

serveRequests<PeerRequest>(async (req) => {
  switch (req.cmd) {
    case "start": {
      await stop()
      const rssBefore = (await memory()).rss
      const t0 = nowMs()
      const creating = create(req)
      const m = await withTimeout(creating, 20_000, "init").catch((e: unknown) => {
        // a mesh whose init outlived the timeout is disconnected when it does come up
        creating.then((late) => late.disconnect().catch(countError), () => undefined)
        throw e
      })
      mesh = m
      const self = m.peerId
      m.onMessage((from, content) => {
        const p = parsePayload(content)
        if (p === undefined || from === self || mesh !== m || inbox.length >= 100_000) return
        inbox.push({ kind: p.kind, seq: p.seq, sentAt: p.sentAt, from, at: nowMs() })
      })
      await withTimeout(m.connect(req.url), 20_000, "connect")
      const started: Started = { peerId: m.peerId, rssBefore, startMs: nowMs() - t0 }
      return started
    }
    case "state": {
      const state: PeerState & { readonly errors: number; readonly lastError: string } = {
        peerId: mesh?.peerId ?? "",
        connected: mesh === undefined ? [] : [...mesh.connectedIds()],
        errors,
        lastError
      }
      return state
    }
    case "broadcast":
      if (mesh === undefined) throw new Error("no mesh")
      await withTimeout(mesh.broadcast(payload("b", req.seq)), 5_000, "broadcast")
      return true
    case "direct":
      if (mesh === undefined) throw new Error("no mesh")
      await withTimeout(mesh.direct(req.to, payload("d", req.seq)), 5_000, "direct")
      return true
    case "take":
      return inbox.slice(req.since)
    case "memory":
      return memory()
    case "stop":
      await stop()
      return true
  }
})

process.on("disconnect", () => {
  void stop().finally(() => process.exit(0))
  setTimeout(() => process.exit(0), 3_000).unref()
})
process.send?.({ type: "ready", pid: process.pid })
