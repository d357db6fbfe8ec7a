/**
 * Child process of bench/mesh.ts: real werift peers (the `PeerPigeonMesh` facade) in this
 * one process, with a real `PeerPigeonServer` on 127.0.0.1 port 0.
 *
 *   --mode=mesh --n=20 --maxPeers=3 --minPeers=2   formation, broadcast, direct, memory
 *   --mode=link --seconds=3                         1 KB direct messages over one link
 *
 * Mesh options are the library defaults unless given (--optimizeInterval=... etc.).
 * Every wait is bounded; the process ends by itself after disconnecting everything.
 */
import { monitorEventLoopDelay, performance } from "node:perf_hooks"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import { Layer } from "effect"
import { RTCPeerConnection } from "werift"
import { PeerPigeonMesh, type PeerPigeonMeshEvents, type PeerPigeonMeshOptions, PeerPigeonServer } from "../src/index.ts"
import type { Platform } from "../src/layers/Mesh.ts"
import { RtcPeerConnectionCtor } from "../src/layers/RtcPeerConnection.ts"
import * as WebRtcTransport from "../src/layers/WebRtcTransport.ts"
import * as WsSignaling from "../src/layers/WsSignaling.ts"
import type { PeerId } from "../src/schema/PeerId.ts"
import { Mesh } from "../src/services/Mesh.ts"
import { PeerPigeonMeshBase } from "../src/PeerPigeonMesh.ts"
import { layerKeyObjects } from "../src/platform/node.ts"
import {
  arg,
  argString,
  canGc,
  deadline,
  components,
  done,
  histogram,
  log,
  MB,
  mean,
  memory,
  percentile,
  prng,
  report,
  sleep,
  until
} from "./mesh-common.ts"

type Received = PeerPigeonMeshEvents["messageReceived"]
type EventLoopUtilization = ReturnType<typeof performance.eventLoopUtilization>

const mode = argString("mode", "mesh")
const random = prng(arg("seed", 42))
const pick = <A>(xs: ReadonlyArray<A>): A => xs[Math.floor(random() * xs.length)]!

const optionNames = ["optimizeInterval", "presenceInterval", "repairInterval", "connectionTimeout"] as const
const tuned: PeerPigeonMeshOptions = Object.fromEntries(
  optionNames.flatMap((name) => {
    const v = arg(name, NaN)
    return Number.isFinite(v) ? [[name, v]] : []
  })
)

/**
 * `--weriftFix=1`: the Node platform with one change, to show what it is worth. werift 0.25.2
 * gathers a STUN candidate from stun.l.google.com:19302 even when `iceServers` is empty; each
 * new connection then does a DNS lookup (on libuv's 4-thread pool, which WebCrypto signing
 * shares) and waits up to 5 s for it. Here an IP-literal STUN address (no DNS) and a 50 ms
 * STUN gather timeout take that out of link setup.
 */
const fixedPlatform: Platform = Layer.mergeAll(
  WebRtcTransport.layerConfig().pipe(
    Layer.provide(layerKeyObjects),
    Layer.provide(Layer.succeed(RtcPeerConnectionCtor)(RtcPeerConnectionCtor.of({
      make: (config) =>
        new RTCPeerConnection({
          iceServers: config.iceServers.length > 0
            ? config.iceServers.map((s) => ({ urls: typeof s.urls === "string" ? s.urls : [...s.urls] }))
            : [{ urls: "stun:127.0.0.1:9" }],
          iceAdditionalHostAddresses: ["127.0.0.1"],
          iceStunGatherTimeout: 0.05
        })
    })))
  ),
  WsSignaling.layer.pipe(Layer.provide(NodeSocket.layerWebSocketConstructor))
)
const weriftFix = arg("weriftFix", 0) === 1
type AnyMesh = PeerPigeonMeshBase
const newMesh = (options: PeerPigeonMeshOptions): AnyMesh =>
  weriftFix ? new PeerPigeonMeshBase(options, fixedPlatform) : new PeerPigeonMesh(options)

/** Event-loop delay of this process since the last call (p99 and max, ms). */
const loopDelay = monitorEventLoopDelay({ resolution: 10 })
loopDelay.enable()
const takeLoopDelay = (): string => {
  const text = `p99 ${(loopDelay.percentile(99) / 1e6).toFixed(0)} ms, max ${(loopDelay.max / 1e6).toFixed(0)} ms`
  loopDelay.reset()
  return text
}

const connectedIds = (mesh: AnyMesh): ReadonlyArray<string> => mesh.getConnectedPeerIds()

const linkGraph = (meshes: ReadonlyArray<AnyMesh>) => new Map(meshes.map((m) => [m.peerId, connectedIds(m)]))

const formed = (meshes: ReadonlyArray<AnyMesh>, min: number, max: number): boolean =>
  meshes.every((m) => {
    const d = connectedIds(m).length
    return d >= min && d <= max
  }) && components(linkGraph(meshes)).length === 1

const degrees = (meshes: ReadonlyArray<AnyMesh>) => histogram(meshes.map((m) => connectedIds(m).length))

/** Starts `n` meshes (init only) with an inbox each. */
const makeMeshes = async (n: number, options: PeerPigeonMeshOptions) => {
  const meshes: Array<AnyMesh> = []
  const inbox = new Map<string, Array<Received & { readonly at: number }>>()
  const linkEvents = { connected: 0, disconnected: 0, evicted: 0 }
  for (let i = 0; i < n; i++) {
    const mesh = newMesh(options)
    await mesh.init()
    const box: Array<Received & { readonly at: number }> = []
    inbox.set(mesh.peerId, box)
    mesh.addEventListener("messageReceived", (m) => box.push({ ...m, at: Date.now() }))
    mesh.addEventListener("peerConnected", () => linkEvents.connected++)
    mesh.addEventListener("peerDisconnected", () => linkEvents.disconnected++)
    mesh.addEventListener("peerEvicted", () => linkEvents.evicted++)
    meshes.push(mesh)
  }
  return { meshes, inbox, linkEvents }
}

const disconnectAll = async (meshes: ReadonlyArray<AnyMesh>, server: PeerPigeonServer) => {
  const t = Date.now()
  const stopped = await Promise.race([
    Promise.all(meshes.map((m) => m.disconnect())).then(() => true),
    deadline(20_000, false)
  ])
  await Promise.race([server.stop(), deadline(5_000, undefined)])
  report("teardown_ms", stopped ? Date.now() - t : "timeout")
}

// ------------------------------------------------------------------------------ mesh

const runMesh = async () => {
  const n = arg("n", 20)
  const maxPeers = arg("maxPeers", 3)
  const minPeers = arg("minPeers", 2)
  const broadcasts = arg("broadcasts", 500)
  const broadcastGapMs = arg("broadcastGap", 10)
  const directs = arg("directs", 200)
  const directGapMs = arg("directGap", 15)
  const formationTimeoutMs = arg("formationTimeout", 30_000)
  const options: PeerPigeonMeshOptions = { ...tuned, maxPeers, minPeers, networkName: `bench-${n}` }
  report("options", JSON.stringify({ maxPeers, minPeers, ...tuned, ...(weriftFix ? { weriftFix: true } : {}) }))
  report("gc", canGc ? "yes" : "no")

  const server = new PeerPigeonServer({ host: "127.0.0.1", port: 0 })
  await server.start()
  const url = `ws://127.0.0.1:${server.port}`

  // warm-up: load and JIT werift, the server and the mesh code once, so the memory baseline is fair
  {
    const { meshes } = await makeMeshes(2, { ...options, networkName: "warmup", maxPeers: 1, minPeers: 1 })
    await Promise.all(meshes.map((m) => m.connect(url)))
    const ok = await until(() => meshes.every((m) => connectedIds(m).length === 1), 15_000)
    if (ok) await meshes[0]!.runEffect(Mesh.use((m) => m.sendDirectMessage(meshes[1]!.peerId as PeerId, "warm")))
    await sleep(200)
    await Promise.all(meshes.map((m) => m.disconnect()))
    log(`warm-up ${ok ? "linked" : "did NOT link"}`)
  }
  const base = await memory()

  const { meshes, inbox, linkEvents } = await makeMeshes(n, options)
  takeLoopDelay()
  const t0 = Date.now()
  await Promise.all(meshes.map((m) => m.connect(url)))
  report("connect_ms", Date.now() - t0)
  // BENCH_TRACE=1: the degrees (and links still connecting) of every peer, every 500 ms
  const trace = process.env["BENCH_TRACE"] === undefined ? undefined : setInterval(() =>
    log(`degrees ${meshes.map((m) => connectedIds(m).length).join("")} connecting ${meshes.map((m) => m.getPeerDetails().length - connectedIds(m).length).join("")} components ${components(linkGraph(meshes)).length}`), 500)
  const ok = await until(() => formed(meshes, minPeers, maxPeers), formationTimeoutMs)
  if (trace !== undefined) clearInterval(trace)
  const formationMs = Date.now() - t0
  report("formation_ms", ok ? formationMs : null)
  report("formation_degrees", degrees(meshes))
  report("formation_components", components(linkGraph(meshes)).length)
  report("formation_loop_delay", takeLoopDelay())
  log(`N=${n}: ${ok ? `formed in ${formationMs} ms` : `NOT formed after ${formationTimeoutMs} ms`}; degrees ${degrees(meshes)}`)
  const linksAtFormation = { ...linkEvents }

  await sleep(1000)
  const formedMem = await memory()
  report("mem_rss_per_peer_mb", (formedMem.rss - base.rss) / n / MB)
  report("mem_heap_per_peer_mb", (formedMem.heapUsed - base.heapUsed) / n / MB)
  report("mem_external_per_peer_mb", (formedMem.external - base.external) / n / MB)

  // ---- broadcast
  const sentAt = new Map<string, { readonly at: number; readonly from: string }>()
  for (const box of inbox.values()) box.length = 0
  const tb = Date.now()
  for (let i = 0; i < broadcasts; i++) {
    const from = pick(meshes)
    const at = Date.now()
    const id = from.sendMessage({ seq: i, sentAt: at })
    sentAt.set(id, { at, from: from.peerId })
    await sleep(broadcastGapMs)
  }
  const sendSeconds = (Date.now() - tb) / 1000
  const expected = broadcasts * (n - 1)
  const deliveredBroadcasts = () => {
    let count = 0
    for (const box of inbox.values()) for (const m of box) if (!m.direct && sentAt.has(m.messageId)) count++
    return count
  }
  const allDelivered = await until(() => deliveredBroadcasts() >= expected, 15_000, 50)
  report("broadcast_drain_ms", allDelivered ? Date.now() - tb - sendSeconds * 1000 : "timeout")
  {
    const latencies: Array<number> = []
    const hops: Array<number> = []
    let unique = 0
    let duplicates = 0
    let wrongFrom = 0
    for (const box of inbox.values()) {
      const seen = new Set<string>()
      for (const m of box) {
        if (m.direct) continue
        const s = sentAt.get(m.messageId)
        if (s === undefined) continue
        if (seen.has(m.messageId)) {
          duplicates++
          continue
        }
        seen.add(m.messageId)
        unique++
        if (m.from !== s.from) wrongFrom++
        latencies.push(m.at - s.at)
        hops.push(m.hops)
      }
    }
    report("broadcast_sent", broadcasts)
    report("broadcast_rate", broadcasts / sendSeconds)
    report("broadcast_delivered", unique)
    report("broadcast_expected", expected)
    report("broadcast_ratio", unique / expected)
    report("broadcast_duplicates", duplicates + wrongFrom)
    report("broadcast_p50_ms", percentile(latencies, 50))
    report("broadcast_p99_ms", percentile(latencies, 99))
    report("broadcast_max_ms", percentile(latencies, 100))
    report("broadcast_hops_mean", mean(hops))
    report("broadcast_hops_max", percentile(hops, 100))
    log(`broadcast: ${unique}/${expected} delivered, ${duplicates} duplicates`)
    report("broadcast_loop_delay", takeLoopDelay())
  }

  // ---- direct
  const directSent = new Map<string, { readonly at: number; readonly from: string; readonly to: string }>()
  const td = Date.now()
  for (let i = 0; i < directs; i++) {
    const from = pick(meshes)
    let to = pick(meshes)
    while (to === from) to = pick(meshes)
    const at = Date.now()
    const id = from.sendDirectMessage(to.peerId, { seq: i, sentAt: at })
    directSent.set(id, { at, from: from.peerId, to: to.peerId })
    await sleep(directGapMs)
  }
  const deliveredDirects = () => {
    let count = 0
    for (const [id, box] of inbox) for (const m of box) if (m.direct && directSent.get(m.messageId)?.to === id) count++
    return count
  }
  const directsDone = await until(() => deliveredDirects() >= directs, 10_000, 50)
  report("direct_drain_ms", directsDone ? Date.now() - td - directs * directGapMs : "timeout")
  {
    const latencies: Array<number> = []
    const hops: Array<number> = []
    const got = new Set<string>()
    let misdelivered = 0
    let duplicates = 0
    for (const [peerId, box] of inbox) {
      for (const m of box) {
        if (!m.direct) continue
        const s = directSent.get(m.messageId)
        if (s === undefined) continue
        if (s.to !== peerId || s.from !== m.from) {
          misdelivered++
          continue
        }
        if (got.has(m.messageId)) {
          duplicates++
          continue
        }
        got.add(m.messageId)
        latencies.push(m.at - s.at)
        hops.push(m.hops)
      }
    }
    report("direct_sent", directs)
    report("direct_delivered", got.size)
    report("direct_ratio", got.size / directs)
    report("direct_misdelivered_or_duplicate", misdelivered + duplicates)
    report("direct_p50_ms", percentile(latencies, 50))
    report("direct_p99_ms", percentile(latencies, 99))
    report("direct_hops_mean", mean(hops))
    report("direct_hops_max", percentile(hops, 100))
    log(`direct: ${got.size}/${directs} delivered`)
    report("direct_loop_delay", takeLoopDelay())
  }

  report("link_changes_during_traffic", `+${linkEvents.connected - linksAtFormation.connected} -${linkEvents.disconnected - linksAtFormation.disconnected} evictions ${linkEvents.evicted - linksAtFormation.evicted}`)
  report("final_degrees", degrees(meshes))
  report("final_formed", formed(meshes, minPeers, maxPeers) ? "yes" : "no")
  const after = await memory()
  report("mem_rss_per_peer_after_traffic_mb", (after.rss - base.rss) / n / MB)
  report("mem_heap_per_peer_after_traffic_mb", (after.heapUsed - base.heapUsed) / n / MB)
  report("mem_external_per_peer_after_traffic_mb", (after.external - base.external) / n / MB)

  await disconnectAll(meshes, server)
}

// ------------------------------------------------------------------------------ link

/**
 * The receiving peer of `--mode=link --split=1`, in its own process (as on another machine):
 * it reports how many direct messages it has received, with its clock, every 50 ms.
 */
const runLinkReceiver = async () => {
  const url = argString("url", "")
  const mesh = newMesh({ ...tuned, networkName: "link", maxPeers: 1, minPeers: 1 })
  await mesh.init()
  let received = 0
  mesh.addEventListener("messageReceived", (m) => {
    if (m.direct) received++
  })
  await mesh.connect(url)
  process.send?.({ peerId: mesh.peerId })
  const timer = setInterval(() => process.send?.({ received, at: Date.now(), cpu: cpuMs(), elu: performance.eventLoopUtilization() }), 50)
  await new Promise<void>((resolve) => process.once("message", () => resolve()))
  clearInterval(timer)
  await mesh.disconnect()
}

/** CPU time of this process so far (user + system, all threads), ms. */
const cpuMs = (): number => {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}

const runLink = async () => {
  const seconds = arg("seconds", 3)
  const size = arg("size", 1024)
  const maxOutstanding = arg("outstanding", 2048)
  const concurrency = arg("concurrency", 64)
  const split = arg("split", 1) === 1
  const prefix = split ? "link" : "link1p"
  const server = new PeerPigeonServer({ host: "127.0.0.1", port: 0 })
  await server.start()
  const url = `ws://127.0.0.1:${server.port}`
  const options: PeerPigeonMeshOptions = { ...tuned, networkName: "link", maxPeers: 1, minPeers: 1 }
  const a = newMesh(options)
  await a.init()
  await a.connect(url)

  // the receiver: another process (split) or another mesh in this one
  let received = 0
  let receivedAt = Date.now()
  let receiverCpu = 0 // ms, the receiver process's (split only)
  let receiverElu: EventLoopUtilization | undefined
  let target = ""
  let finish: () => Promise<void>
  if (split) {
    const { fork } = await import("node:child_process")
    const child = fork(new URL(import.meta.url).pathname, ["--mode=link-receiver", `--url=${url}`, `--weriftFix=${weriftFix ? 1 : 0}`], {
      execArgv: process.execArgv,
      stdio: ["ignore", "inherit", "inherit", "ipc"]
    })
    const ready = Promise.withResolvers<string>()
    child.on("message", (m: { peerId?: string; received?: number; at?: number; cpu?: number; elu?: EventLoopUtilization }) => {
      if (m.peerId !== undefined) ready.resolve(m.peerId)
      if (m.received !== undefined && m.at !== undefined) {
        received = m.received
        receivedAt = m.at
        receiverCpu = m.cpu ?? 0
        receiverElu = m.elu
      }
    })
    child.once("exit", () => ready.reject(new Error("the receiver process exited")))
    target = await Promise.race([ready.promise, deadline(20_000, "")])
    finish = async () => {
      child.send("stop")
      const exited = await Promise.race([new Promise((r) => child.once("exit", () => r(true))), deadline(10_000, false)])
      if (!exited) child.kill("SIGKILL")
    }
  } else {
    const b = newMesh(options)
    await b.init()
    b.addEventListener("messageReceived", (m) => {
      if (!m.direct) return
      received++
      receivedAt = Date.now()
    })
    await b.connect(url)
    target = b.peerId
    finish = () => b.disconnect()
  }
  const linked = target !== "" && await until(() => connectedIds(a).length === 1, 20_000)
  if (!linked) {
    report(`${prefix}_msgs_per_s`, null)
    log("the two peers never linked")
    await finish()
    await disconnectAll([a], server)
    return
  }
  const pad = "x".repeat(size)
  let sent = 0
  let inFlight = 0
  let failed = 0
  let stop = false
  const pump = async () => {
    while (!stop) {
      if (sent - received >= maxOutstanding || inFlight >= concurrency) {
        await new Promise((resolve) => setImmediate(resolve))
        continue
      }
      inFlight++
      const seq = sent++
      // (through the Effect API, which resolves once the message is handed to a link)
      a.runEffect(Mesh.use((m) => m.sendDirectMessage(target as PeerId, { seq, pad }))).then(
        () => inFlight--,
        () => (inFlight--, failed++)
      )
    }
  }
  const pumping = pump()
  await sleep(500) // warm-up
  const r0 = received
  const at0 = receivedAt
  const s0 = sent
  const c0 = cpuMs()
  const rc0 = receiverCpu
  const elu0 = performance.eventLoopUtilization()
  const relu0 = receiverElu
  const t0 = Date.now()
  await sleep(seconds * 1000)
  const r1 = received
  const at1 = receivedAt
  const s1 = sent
  const c1 = cpuMs()
  const rc1 = receiverCpu
  const elu1 = performance.eventLoopUtilization(elu0)
  const relu1 = receiverElu
  const elapsed = (Date.now() - t0) / 1000
  stop = true
  await pumping
  const rate = (r1 - r0) / Math.max(0.001, (at1 - at0) / 1000)
  report(`${prefix}_msgs_per_s`, rate)
  report(`${prefix}_mbytes_per_s`, (rate * size) / MB)
  report(`${prefix}_sent_per_s`, (s1 - s0) / elapsed)
  report(`${prefix}_send_failures`, failed)
  // CPU per message received (user + system, all threads of the process)
  const perMessage = (ms: number) => (r1 > r0 ? (ms * 1000) / (r1 - r0) : null)
  if (split) {
    report(`${prefix}_sender_cpu_us_per_msg`, perMessage(c1 - c0))
    report(`${prefix}_receiver_cpu_us_per_msg`, perMessage(rc1 - rc0))
    // how busy each event loop was (1 = saturated: that side is the bottleneck)
    report(`${prefix}_sender_loop_utilization`, elu1.utilization)
    if (relu0 !== undefined && relu1 !== undefined) {
      report(`${prefix}_receiver_loop_utilization`, performance.eventLoopUtilization(relu1, relu0).utilization)
    }
  } else {
    report(`${prefix}_cpu_us_per_msg`, perMessage(c1 - c0))
  }
  // the rest must arrive too: nothing is lost on a link
  const all = await until(() => received >= sent - failed, 20_000, 50)
  report(`${prefix}_all_received`, all ? "yes" : `${received}/${sent}`)
  log(`${prefix}: ${rate.toFixed(0)} msg/s of ${size} B received over ${elapsed.toFixed(1)} s`)
  await finish()
  await disconnectAll([a], server)
}

try {
  if (mode === "link") await runLink()
  else if (mode === "link-receiver") await runLinkReceiver()
  else await runMesh()
} catch (error) {
  log(`failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`)
  process.exitCode = 1
}
if (mode !== "link-receiver") done()
// the parent waits for this process to exit by itself (nothing left running)
if (process.connected) process.disconnect()
