/**
 * Child process of bench/mesh.ts: binary data over real werift links (the `PeerPigeonMesh`
 * facade, a real `PeerPigeonServer` on 127.0.0.1 port 0, every peer in this process).
 *
 *   --mode=binary --size=16384 --seconds=3   sendBinaryData to the neighbour: MB/s received
 *   --mode=stream --mib=100 --warmup=30      streams a -> c over two hops (a - b - c), a
 *                                            warm-up one first: time, MB/s, memory growth
 *
 * Every wait is bounded; the process ends by itself after disconnecting everything.
 */
import { createHash } from "node:crypto"
import { PeerPigeonMesh, PeerPigeonServer } from "../src/index.ts"
import { arg, argString, done, log, MB, memory, report, until } from "./mesh-common.ts"

const mode = argString("mode", "binary")

const startLine = async (n: number, extra: ConstructorParameters<typeof PeerPigeonMesh>[0] = {}) => {
  const server = new PeerPigeonServer({ host: "127.0.0.1", port: 0 })
  await server.start()
  const meshes: Array<PeerPigeonMesh> = []
  for (let i = 0; i < n; i++) {
    const mesh = new PeerPigeonMesh({ autoDiscovery: false, maxPeers: 2, minPeers: 0, enableWebDHT: false, networkName: "binary", ...extra })
    await mesh.init()
    meshes.push(mesh)
  }
  await Promise.all(meshes.map((m) => m.connect(`ws://127.0.0.1:${server.port}`)))
  await until(() => server.getPeers().length === n, 10_000)
  for (let i = 0; i + 1 < n; i++) await meshes[i]!.connectToPeer(meshes[i + 1]!.peerId)
  const linked = await until(() => meshes.every((m, i) => i + 1 >= n || m.getConnectedPeerIds().includes(meshes[i + 1]!.peerId)), 30_000)
  const stop = async () => {
    await Promise.all(meshes.map((m) => m.disconnect()))
    await server.stop()
  }
  return { meshes, linked, stop }
}

/** `sendBinaryData` of `size` bytes to the neighbour for `seconds`, with at most `inFlight` not yet received. */
const runBinary = async () => {
  const size = arg("size", 16 * 1024)
  const seconds = arg("seconds", 3)
  const prefix = `bin${size >= MB ? `${size / MB}m` : `${size / 1024}k`}`
  // a 1 MiB message needs a larger maxMessageSize than the default 256 KiB
  const { linked, meshes, stop } = await startLine(2, { maxMessageSize: Math.max(256 * 1024, size + 1024) })
  if (!linked) {
    report(`${prefix}_mb_per_s`, null)
    log("the two peers never linked")
    return stop()
  }
  const [a, b] = meshes as [PeerPigeonMesh, PeerPigeonMesh]
  let received = 0
  let receivedBytes = 0
  b.addEventListener("binaryMessageReceived", (m) => {
    received++
    receivedBytes += m.size
  })
  const inFlight = Math.max(2, Math.floor((4 * MB) / size))
  const payload = new Uint8Array(size).fill(7)
  let sent = 0
  const run = async (untilMs: number) => {
    while (Date.now() < untilMs) {
      if (sent - received >= inFlight) {
        await new Promise((r) => setTimeout(r, 1))
        continue
      }
      sent++
      await a.sendBinaryData(b.peerId, payload)
    }
  }
  await run(Date.now() + 500) // warm-up
  await until(() => received === sent, 10_000)
  const [r0, t0] = [receivedBytes, performance.now()]
  await run(Date.now() + seconds * 1000)
  const arrived = await until(() => received === sent, 20_000)
  const elapsed = (performance.now() - t0) / 1000
  report(`${prefix}_mb_per_s`, (receivedBytes - r0) / MB / elapsed)
  report(`${prefix}_all_arrived`, arrived ? "yes" : `${received} of ${sent}`)
  await stop()
}

/** One stream of `total` bytes from a to c over b; RSS sampled every 50 ms. */
const streamOnce = async (a: PeerPigeonMesh, c: PeerPigeonMesh, total: number) => {
  const sentHash = createHash("sha256")
  const receivedHash = createHash("sha256")
  const received = new Promise<number>((resolve, reject) => {
    const listener = (e: { stream: ReadableStream<Uint8Array> }) => {
      c.removeEventListener("streamReceived", listener)
      void (async () => {
        let bytes = 0
        const reader = e.stream.getReader()
        for (let r = await reader.read(); !r.done; r = await reader.read()) {
          receivedHash.update(r.value)
          bytes += r.value.byteLength
        }
        return bytes
      })().then(resolve, reject)
    }
    c.addEventListener("streamReceived", listener)
  })
  let made = 0
  const source = new ReadableStream<Uint8Array>({
    pull: (controller) => {
      if (made >= total) return controller.close()
      const block = new Uint8Array(Math.min(64 * 1024, total - made)).fill(made / (64 * 1024) & 0xff)
      made += block.byteLength
      sentHash.update(block)
      controller.enqueue(block)
    }
  }, { highWaterMark: 0 })
  let peakRss = process.memoryUsage().rss
  let peakBuffers = 0
  const sampler = setInterval(() => {
    const m = process.memoryUsage()
    peakRss = Math.max(peakRss, m.rss)
    peakBuffers = Math.max(peakBuffers, m.arrayBuffers)
  }, 50)
  const t0 = performance.now()
  await a.sendStream(c.peerId, source, { name: "bench.bin", size: total })
  const bytes = await received
  const seconds = (performance.now() - t0) / 1000
  clearInterval(sampler)
  const intact = bytes === total && sentHash.digest("hex") === receivedHash.digest("hex")
  return { seconds, bytes, intact, peakRss, peakBuffers }
}

/**
 * `--warmup=30` MiB, then `--mib=100` MiB, a -> c over b. Memory that does not grow with
 * the stream's size: the second stream's peak RSS beyond the first's shows it (the process
 * keeps what its allocator got during the first).
 */
const runStream = async () => {
  const mib = arg("mib", 100)
  const warmup = arg("warmup", 30)
  const { linked, meshes, stop } = await startLine(3)
  if (!linked) {
    report("stream_seconds", null)
    log("the line never linked")
    return stop()
  }
  const [a, , c] = meshes as [PeerPigeonMesh, PeerPigeonMesh, PeerPigeonMesh]
  const before = await memory()
  const first = warmup > 0 ? await streamOnce(a, c, warmup * MB) : undefined
  const second = await streamOnce(a, c, mib * MB)
  const after = await memory()
  report("stream_seconds", second.seconds)
  report("stream_mb_per_s", second.bytes / MB / second.seconds)
  report("stream_intact", second.intact && (first?.intact ?? true) ? "yes" : "NO")
  report("stream_peak_rss_growth_mb", (second.peakRss - before.rss) / MB)
  if (first !== undefined) report("stream_peak_rss_beyond_warmup_mb", (second.peakRss - first.peakRss) / MB)
  report("stream_peak_array_buffers_mb", second.peakBuffers / MB)
  report("stream_heap_growth_after_gc_mb", (after.heapUsed - before.heapUsed) / MB)
  report("stream_buffers_growth_after_gc_mb", (after.external - before.external) / MB)
  await stop()
}

if (mode === "binary") await runBinary()
else if (mode === "stream") await runStream()
done()
