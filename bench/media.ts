/**
 * Media figures (issue 14), printed as a table:
 *
 *   npm run bench:media            (node bench/media.ts; --runs=N for the repeated figures)
 *
 * werift peers (this process) and, where /usr/bin/chromium exists, the demo app in headless
 * Chromium with fake devices; one real signaling server on 127.0.0.1 port 0. Times are wall
 * clock on this machine; CPU is /proc utime+stime of the browser's processes and
 * `process.cpuUsage()` for Node, as % of one core.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { chromium, type Page } from "playwright-core"
import { buildBrowser, root } from "../scripts/build-browser.ts"
import { startStaticServer } from "../scripts/dev-static.ts"
import { PeerPigeonMesh, PeerPigeonServer } from "../src/index.ts"
import type { MediaStreamLike } from "../src/services/Media.ts"
import { dummyTracks, probe, publish } from "../test/media/weriftMedia.ts"
import { CHROMIUM, mediaLaunchArgs } from "../test/support/chromium.ts"

const argNum = (name: string, fallback: number) => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`))
  return a === undefined ? fallback : Number(a.slice(name.length + 3))
}
const RUNS = argNum("runs", 20)

const pct = (xs: ReadonlyArray<number>, p: number) => {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!
}
const f0 = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : "-")
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "-")
const dist = (xs: ReadonlyArray<number>, unit = "ms") => `p50 ${f0(pct(xs, 50))} / p95 ${f0(pct(xs, 95))} / max ${f0(pct(xs, 100))} ${unit} (n=${xs.length})`
const until = async (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))

const rows: Array<[string, string, string]> = []
const row = (what: string, measured: string, goal: string) => {
  rows.push([what, measured, goal])
  console.error(`  ${what}: ${measured}`)
}

const server = new PeerPigeonServer({ host: "127.0.0.1", port: 0 })
await server.start()
const url = `ws://127.0.0.1:${server.port}`
const fast = { optimizeInterval: 300, presenceInterval: 500, connectionTimeout: 8000 }
let networks = 0
const sources: Array<{ stop(): void }> = []
const tracks = async () => {
  const t = await dummyTracks()
  sources.push(t)
  return { t, stream: { id: "dummy", getTracks: () => [t.audio, t.video] } as MediaStreamLike }
}
const nodeGroup = async (n: number, options: ConstructorParameters<typeof PeerPigeonMesh>[0] = {}) => {
  const networkName = `bench-media-${networks++}`
  const meshes = Array.from({ length: n }, () => new PeerPigeonMesh({ ...fast, maxPeers: 3, minPeers: 1, networkName, ...options }))
  for (const m of meshes) await m.init()
  await Promise.all(meshes.map((m) => m.connect(url)))
  return meshes
}
const linkedAll = (meshes: ReadonlyArray<PeerPigeonMesh>) => until("linked", () => meshes.every((m) => m.getConnectedPeerIds().length === meshes.length - 1))

// ---------------------------------------------------------------------------------------------
// werift

console.error("werift: glare (both start in the same tick)")
{
  const times: Array<number> = []
  let flowing = 0
  let torn = 0
  for (let run = 0; run < RUNS; run++) {
    const [a, b] = await nodeGroup(2) as [PeerPigeonMesh, PeerPigeonMesh]
    await linkedAll([a, b])
    const [pa, pb] = [await probe(a), await probe(b)]
    const [ta, tb] = [await tracks(), await tracks()]
    const t0 = performance.now()
    await Promise.all([publish(a, ta.t), publish(b, tb.t)])
    try {
      await until("flowing", () => pa.packets(b.peerId, "video") > 0 && pb.packets(a.peerId, "video") > 0, 10_000)
      times.push(performance.now() - t0)
      // still linked a moment later
      await pause(200)
      if (a.getConnectedPeerIds().includes(b.peerId)) flowing++
      else torn++
    } catch {
      // counted as not flowing
    }
    await pa.stop()
    await pb.stop()
    await Promise.all([a.disconnect(), b.disconnect()])
  }
  row("both start at once (werift): runs flowing both ways", `${flowing} of ${RUNS}, ${torn} links torn down`, `${RUNS} of ${RUNS}`)
  row("both start at once (werift): time to first RTP both ways", dist(times), "median < 500 ms")
}

console.error("werift: renegotiation, data-channel RTT, CPU")
{
  const [a, b] = await nodeGroup(2) as [PeerPigeonMesh, PeerPigeonMesh]
  await linkedAll([a, b])
  const pb = await probe(b)
  const ta = await tracks()
  const reneg: Array<number> = []
  for (let i = 1; i <= RUNS; i++) {
    const t0 = performance.now()
    await a.startMedia({ stream: ta.stream })
    await until("added", () => pb.added(a.peerId) === i)
    reneg.push(performance.now() - t0)
    await a.stopMedia()
    await until("removed", () => pb.events.filter((e) => e._tag === "RemoteStreamRemoved").length === i)
  }
  row("renegotiation (werift): startMedia -> remote stream in (offer, answer, announce)", dist(reneg), "p95 < 150 ms")

  // data-channel round trips, 1 KB direct messages, without and with media both ways
  b.addEventListener("messageReceived", (m) => {
    const c = m.content as { ping?: number; pad?: string }
    if (typeof c.ping === "number") b.sendDirectMessage(a.peerId, { pong: c.ping })
  })
  const pongs = new Map<number, () => void>()
  a.addEventListener("messageReceived", (m) => pongs.get((m.content as { pong: number }).pong)?.())
  const rtts = async (n: number) => {
    const out: Array<number> = []
    for (let i = 0; i < n; i++) {
      const seq = Math.random()
      const back = new Promise<void>((resolve) => pongs.set(seq, resolve))
      const t0 = performance.now()
      a.sendDirectMessage(b.peerId, { ping: seq, pad: "x".repeat(1000) })
      await back
      pongs.delete(seq)
      out.push(performance.now() - t0)
    }
    return out
  }
  const idle = await rtts(300)
  const tb = await tracks()
  await Promise.all([a.startMedia({ stream: ta.stream }), b.startMedia({ stream: tb.stream })])
  await until("flowing", () => pb.packets(a.peerId, "video") > 30)
  const busy = await rtts(300)
  row("data-channel RTT (werift, 1 KB direct messages) without media", `p50 ${f1(pct(idle, 50))} / p99 ${f1(pct(idle, 99))} ms`, "reference")
  row("data-channel RTT with audio+video both ways", `p50 ${f1(pct(busy, 50))} / p99 ${f1(pct(busy, 99))} ms (${f1(pct(busy, 99) / pct(idle, 99))}x)`, "p99 <= 2x")

  // Node CPU: this process sends and receives one a+v stream each way (werift, no decoding)
  await b.stopMedia()
  const c0 = process.cpuUsage()
  const w0 = performance.now()
  await pause(5000)
  const c1 = process.cpuUsage(c0)
  const cpu = ((c1.user + c1.system) / 1000 / (performance.now() - w0)) * 100
  row("CPU in Node per a+v stream (werift: one sender and its receiver, one process)", `${f1(cpu)}% of a core`, "receiving <= 10%")
  await pb.stop()
  await Promise.all([a.disconnect(), b.disconnect()])
}

console.error("werift: calls to a non-neighbour")
{
  const meshes = await nodeGroup(5, { maxPeers: 2 })
  await until("formed", () => meshes.every((m) => m.getConnectedPeerIds().length >= 1), 30_000)
  for (const m of meshes) {
    m.setAutoDiscovery(false)
    m.setEvictionStrategy(false)
  }
  await until("settled", () => meshes.every((m) => m.getPeerDetails().every((p) => p.status === "connected")))
  const pair = meshes.flatMap((a) => meshes.filter((b) => b !== a && !a.getConnectedPeerIds().includes(b.peerId)).map((b) => [a, b] as const))[0]
  if (pair !== undefined) {
    const [a, b] = pair
    const pa = await probe(a)
    const [ta, tb] = [await tracks(), await tracks()]
    let hops = 0
    b.addEventListener("incomingCall", (c) => {
      hops = c.hops
      void c.accept({ stream: tb.stream })
    })
    const ended = { n: 0 }
    b.addEventListener("callEnded", () => ended.n++)
    const times: Array<number> = []
    for (let i = 0; i < Math.min(RUNS, 10); i++) {
      const before = pa.packets(b.peerId, "video")
      const t0 = performance.now()
      await a.call(b.peerId, { stream: ta.stream })
      await until("first RTP from the callee", () => pa.packets(b.peerId, "video") > before, 15_000)
      times.push(performance.now() - t0)
      await a.hangUp(b.peerId)
      await until("ended", () => ended.n === i + 1)
    }
    row(`call() to a non-neighbour (werift, invite over ${hops} hops) -> first RTP from the callee`, dist(times), "< 1.5 s")
    await pa.stop()
  } else {
    row("call() to a non-neighbour (werift)", "no unlinked pair formed", "< 1.5 s")
  }
  await Promise.all(meshes.map((m) => m.disconnect()))
}

// ---------------------------------------------------------------------------------------------
// Chromium

if (!existsSync(CHROMIUM)) {
  row("Chromium figures", `skipped: ${CHROMIUM} not found`, "")
} else {
  await buildBrowser()
  const statics = await startStaticServer({ root, host: "127.0.0.1", port: 0 })
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      ...mediaLaunchArgs,
      // marks this browser's main process, so its CPU (and its children's) can be summed
      `--bench-media-marker=${process.pid}`
    ]
  })
  type W = {
    getPeerPigeonState(): { peerId: string; phase: string; connectedPeers: Array<string> }
    peerPigeonMesh: {
      startMedia(o: object): Promise<unknown>
      stopMedia(): Promise<void>
      switchDevice(o: object): Promise<unknown>
      getMediaState(): { peers: Array<{ offers: number }> }
      addEventListener(e: string, f: (e: { stream: unknown }) => void): void
    }
    __bench: { streamAt: number; firstFrame: number; width: number; widthAt: Record<number, number>; removed: number }
  }
  const g = globalThis as unknown as W
  const open = async (network: string) => {
    const context = await browser.newContext()
    const page = await context.newPage()
    const q = new URLSearchParams({ api: url, network, maxPeers: "3", minPeers: "1" })
    await page.goto(`${statics.origin}/examples/browser/?${q.toString()}`)
    await page.waitForFunction(() => (globalThis as unknown as Partial<W>).getPeerPigeonState?.().peerId !== "")
    await page.click("#connect")
    await page.waitForFunction(() => (globalThis as unknown as W).getPeerPigeonState().phase === "connected")
    // a video element per remote stream, noting when its first frame (and each new size) shows
    await page.evaluate(() => {
      const w = globalThis as unknown as W & { document: { createElement(t: string): Record<string, unknown> & { play(): Promise<void>; requestVideoFrameCallback(f: (n: number, m: { width: number }) => void): void } } }
      w.__bench = { streamAt: 0, firstFrame: 0, width: 0, widthAt: {}, removed: 0 }
      // the functions below run in the page and name its global `g` (as this file types it)
      Object.assign(w, { g: w })
      w.peerPigeonMesh.addEventListener("remoteStreamRemoved", () => w.__bench.removed++)
      w.peerPigeonMesh.addEventListener("remoteStream", (e) => {
        w.__bench.streamAt = Date.now()
        const v = w.document.createElement("video")
        v["muted"] = true
        v["srcObject"] = e.stream
        void v.play()
        const frame = (_: number, meta: { width: number }) => {
          if (w.__bench.firstFrame === 0) w.__bench.firstFrame = Date.now()
          if (meta.width !== w.__bench.width) w.__bench.widthAt[meta.width] ??= Date.now()
          w.__bench.width = meta.width
          v.requestVideoFrameCallback(frame)
        }
        v.requestVideoFrameCallback(frame)
      })
    })
    const peerId = await page.evaluate(() => (globalThis as unknown as W).getPeerPigeonState().peerId)
    return { page, peerId }
  }
  const bench = (page: Page) => page.evaluate(() => (globalThis as unknown as W).__bench)
  const a = await open("bench-media-tabs")
  const b = await open("bench-media-tabs")
  await until("tabs linked", async () => (await b.page.evaluate(() => g.getPeerPigeonState().connectedPeers)).includes(a.peerId))

  // CPU of the browser's processes
  const marker = `--bench-media-marker=${process.pid}`
  const mainPids = readdirSync("/proc").filter((d) => /^\d+$/.test(d)).filter((d) => {
    try {
      return readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0").includes(marker)
    } catch {
      return false
    }
  }).map(Number)
  const ticks = () => {
    if (mainPids.length === 0) return NaN
    const stats = readdirSync("/proc").filter((d) => /^\d+$/.test(d)).flatMap((d) => {
      try {
        const s = readFileSync(`/proc/${d}/stat`, "utf8")
        const f = s.slice(s.lastIndexOf(")") + 2).split(" ")
        return [{ pid: Number(d), ppid: Number(f[1]), t: Number(f[11]) + Number(f[12]) }]
      } catch {
        return []
      }
    })
    const ours = new Set(mainPids)
    for (let grew = true; grew;) {
      grew = false
      for (const s of stats) {
        if (!ours.has(s.pid) && ours.has(s.ppid)) {
          ours.add(s.pid)
          grew = true
        }
      }
    }
    return stats.filter((s) => ours.has(s.pid)).reduce((n, s) => n + s.t, 0)
  }
  const cpuOver = async (ms: number) => {
    const t0 = ticks()
    const w0 = performance.now()
    await pause(ms)
    return ((ticks() - t0) / 100 / ((performance.now() - w0) / 1000)) * 100 // 100 ticks/s
  }
  const idleCpu = await cpuOver(5000)

  const first: Array<number> = []
  const reneg: Array<number> = []
  let cold = NaN
  const audio = { echoCancellation: false, noiseSuppression: false, autoGainControl: false }
  for (let i = 0; i <= Math.min(RUNS, 10); i++) {
    await b.page.evaluate(() => Object.assign(g.__bench, { streamAt: 0, firstFrame: 0 }))
    const t0 = await a.page.evaluate(async (au) => {
      const t = Date.now()
      await g.peerPigeonMesh.startMedia({ video: true, audio: au })
      return t
    }, audio)
    // (frames may show first in the previous round's element: the receiver's track is reused)
    await until("first frame and the stream at b", async () => {
      const m = await bench(b.page)
      return m.firstFrame > 0 && m.streamAt > 0
    }, 20_000)
    const m = await bench(b.page)
    if (i === 0) cold = m.firstFrame - t0
    else {
      first.push(m.firstFrame - t0)
      reneg.push(m.streamAt - t0)
    }
    if (i < Math.min(RUNS, 10)) {
      const removed = m.removed
      await a.page.evaluate(() => g.peerPigeonMesh.stopMedia())
      await until("removed at b", async () => (await bench(b.page)).removed > removed)
    }
  }
  row("startMedia on an existing link -> first remote frame (Chromium, warm)", `${dist(first)}; cold ${f0(cold)} ms`, "p95 < 500 ms")
  row("startMedia -> remoteStream at the remote (Chromium: getUserMedia, offer/answer, announce)", dist(reneg), "p95 < 150 ms")

  // device switch: a canvas of another width, alternately
  const offers0 = await Promise.all([a, b].map((t) => t.page.evaluate(() => g.peerPigeonMesh.getMediaState().peers.reduce((n, p) => n + p.offers, 0))))
  const switches: Array<number> = []
  for (let i = 0; i < 6; i++) {
    const width = i % 2 === 0 ? 320 : 240
    await b.page.evaluate((wd) => delete g.__bench.widthAt[wd], width)
    const t0 = await a.page.evaluate(async (wd) => {
      const doc = (globalThis as unknown as { document: { createElement(t: string): { width: number; height: number; getContext(k: string): { fillStyle: string; fillRect(...n: Array<number>): void }; captureStream(f: number): { getVideoTracks(): Array<unknown> } } } }).document
      const canvas = doc.createElement("canvas")
      canvas.width = wd
      canvas.height = 180
      const c = canvas.getContext("2d")
      setInterval(() => {
        c.fillStyle = `hsl(${Date.now() % 360} 80% 50%)`
        c.fillRect(0, 0, wd, 180)
      }, 33)
      const track = canvas.captureStream(30).getVideoTracks()[0]
      const t = Date.now()
      await g.peerPigeonMesh.switchDevice({ videoTrack: track })
      return t
    }, width)
    await until("new size at b", async () => (await bench(b.page)).widthAt[width] !== undefined, 20_000)
    switches.push((await bench(b.page)).widthAt[width]! - t0)
  }
  const offers1 = await Promise.all([a, b].map((t) => t.page.evaluate(() => g.peerPigeonMesh.getMediaState().peers.reduce((n, p) => n + p.offers, 0))))
  row("device switch (replaceTrack) -> new source's first frame at the remote (Chromium)", `${dist(switches)}; ${offers1[0]! - offers0[0]! + offers1[1]! - offers0[1]!} offers`, "< 200 ms, 0 offers")

  // CPU: b sends too, so one link carries a+v both ways (2 encodes, 2 decodes in the browser)
  await b.page.evaluate((au) => g.peerPigeonMesh.startMedia({ video: true, audio: au }), audio)
  await until("a gets b's frames", async () => (await bench(a.page)).firstFrame > 0, 20_000)
  await pause(3000) // let bandwidth estimation ramp up to 640x480 before measuring
  const busyCpu = await cpuOver(5000)
  row("CPU per video link in Chromium (a+v both ways, both tabs' encode+decode, minus idle)", `${f1(busyCpu - idleCpu)}% of a core (idle ${f1(idleCpu)}%)`, "<= 15% per extra link per browser")

  await browser.close()
  await statics.close()
}

for (const s of sources) s.stop()
await server.stop()

const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")
const w = [Math.max(...rows.map((r) => r[0].length)), Math.max(...rows.map((r) => r[1].length)), 8]
console.log(`\nbench:media  (runs=${RUNS}; load average ${load}; ${(await import("node:os")).cpus().length} cores)\n`)
console.log(`${"figure".padEnd(w[0]!)} | ${"measured".padEnd(w[1]!)} | goal`)
console.log(`${"-".repeat(w[0]!)}-|-${"-".repeat(w[1]!)}-|-${"-".repeat(w[2]!)}`)
for (const [a, b, c] of rows) console.log(`${a.padEnd(w[0]!)} | ${b.padEnd(w[1]!)} | ${c}`)
process.exit(0)
