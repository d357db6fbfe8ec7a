/**
 * Streams between werift peers over two hops (a - b - c, real signaling server): 100 MiB
 * arrive intact with memory that does not grow with the stream (measured in a child process
 * of its own, with --expose-gc), and a peer leaving mid-transfer aborts the stream cleanly
 * at the other end.
 */
import { fork } from "node:child_process"
import { createHash } from "node:crypto"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { PeerPigeonMeshEvents } from "../../src/index.ts"
import { PeerPigeonServer } from "../../src/server/index.ts"
import { Streams } from "../../src/services/Streams.ts"
import { fastMesh, PeerPigeonMesh, until } from "../support/facade.ts"

const MiB = 1024 * 1024

/** `total` bytes of a cheap deterministic pattern, in blocks of 64 KiB, hashed as they are made. */
const patterned = (total: number) => {
  const hash = createHash("sha256")
  let made = 0
  const stream = new ReadableStream<Uint8Array>({
    pull: (controller) => {
      if (made >= total) {
        controller.close()
        return
      }
      const block = new Uint8Array(Math.min(64 * 1024, total - made))
      const view = new DataView(block.buffer)
      for (let i = 0; i + 4 <= block.byteLength; i += 4) view.setUint32(i, (made + i) * 2654435761 >>> 0)
      made += block.byteLength
      hash.update(block)
      controller.enqueue(block)
    }
  }, { highWaterMark: 0 })
  return { stream, digest: () => hash.digest("hex") }
}

describe("streams over real WebRTC (werift), two hops", () => {
  let server: PeerPigeonServer
  const meshes: Array<PeerPigeonMesh> = []

  beforeAll(async () => {
    server = new PeerPigeonServer({ host: "127.0.0.1", port: 0 })
    await server.start()
    for (let i = 0; i < 3; i++) {
      const mesh = new PeerPigeonMesh({ ...fastMesh, autoDiscovery: false, maxPeers: 2, minPeers: 0, networkName: "streams", enableWebDHT: false })
      await mesh.init()
      meshes.push(mesh)
    }
    await Promise.all(meshes.map((m) => m.connect(`ws://127.0.0.1:${server.port}`)))
    const [a, b, c] = meshes as [PeerPigeonMesh, PeerPigeonMesh, PeerPigeonMesh]
    await until("b and c known to the server", () => server.getPeers().length === 3, 10_000)
    await a.connectToPeer(b.peerId)
    await b.connectToPeer(c.peerId)
    await until("a - b - c linked", () =>
      a.getConnectedPeerIds().includes(b.peerId) && b.getConnectedPeerIds().includes(c.peerId), 30_000)
    expect(a.getConnectedPeerIds()).not.toContain(c.peerId)
  }, 60_000)

  afterAll(async () => {
    await Promise.all(meshes.map((m) => m.disconnect()))
    await server.stop()
  })

  it("100 MiB arrive intact, and memory does not grow with the stream (its own process, --expose-gc)", async () => {
    // bench/mesh-binary.ts: a 30 MiB stream, then 100 MiB, a -> c over b, RSS sampled every 50 ms
    const figures = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const got: Record<string, unknown> = {}
      const child = fork(fileURLToPath(new URL("../../bench/mesh-binary.ts", import.meta.url)), ["--mode=stream", "--mib=100", "--warmup=30"], {
        execArgv: ["--expose-gc"],
        stdio: ["ignore", "inherit", "inherit", "ipc"]
      })
      child.on("message", (m: { kind: string; key?: string; value?: unknown }) => {
        if (m.kind === "figure") got[m.key!] = m.value
      })
      child.on("error", reject)
      child.on("exit", (code) => (code === 0 ? resolve(got) : reject(new Error(`the stream bench exited with ${code}`))))
    })
    const mb = (key: string) => figures[key] as number
    console.log(
      `100 MiB over two werift hops: ${mb("stream_seconds").toFixed(1)} s (${mb("stream_mb_per_s").toFixed(1)} MiB/s); ` +
        `peak RSS growth ${mb("stream_peak_rss_growth_mb").toFixed(0)} MiB, ${mb("stream_peak_rss_beyond_warmup_mb").toFixed(0)} MiB beyond the 30 MiB warm-up's peak; ` +
        `after GC heap +${mb("stream_heap_growth_after_gc_mb").toFixed(1)} MiB, buffers +${mb("stream_buffers_growth_after_gc_mb").toFixed(1)} MiB`
    )
    expect(figures["stream_intact"]).toBe("yes")
    // nothing of the streams is kept once they are over
    expect(mb("stream_heap_growth_after_gc_mb")).toBeLessThan(16)
    expect(mb("stream_buffers_growth_after_gc_mb")).toBeLessThan(8)
    // 70 MiB more than the warm-up streamed, yet the peak moves less: what is held is a window,
    // not the stream (measured here: 26 and 39 MiB beyond, garbage the collector had not taken
    // yet; the exact window is asserted on the memory network, test/mesh/streams.test.ts)
    expect(mb("stream_peak_rss_beyond_warmup_mb")).toBeLessThan(80)
  }, 240_000)

  it("the receiver leaving mid-transfer aborts the stream cleanly at the sender", async () => {
    const [a, , c] = meshes as [PeerPigeonMesh, PeerPigeonMesh, PeerPigeonMesh]
    const aborted: Array<PeerPigeonMeshEvents["streamAborted"]> = []
    a.addEventListener("streamAborted", (e) => aborted.push(e))
    let got = 0
    c.addEventListener("streamReceived", (e) => {
      const reader = e.stream.getReader()
      void (async () => {
        for (let r = await reader.read(); !r.done; r = await reader.read()) got += r.value.byteLength
      })().catch(() => undefined)
    })
    // (its rejection is taken at once: it comes while the test waits on other things)
    const sending = a.sendStream(c.peerId, patterned(1000 * MiB).stream, { name: "endless" }).then(
      () => new Error("the stream ended"),
      (error: unknown) => error as Error
    )
    await until("some bytes across", () => got > 2 * MiB, 60_000)
    await c.disconnect()
    expect((await sending).message).toMatch(/the peer left/)
    await until("streamAborted at the sender", () => aborted.length === 1, 10_000)
    expect(aborted[0]).toMatchObject({ by: "remote", direction: "out" })
    expect(await a.runEffect(Streams.use((s) => s.stats))).toMatchObject({ active: 0 })
  }, 120_000)
})

