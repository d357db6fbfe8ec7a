/**
 * Binary data and streams through the Promise facade (memory network): `sendBinaryData`,
 * `broadcastBinaryData` and `binaryMessageReceived`; `createStreamToPeer`, `sendStream`,
 * `sendFile` (a Blob, a web stream, a path in Node) and `streamReceived` with a web
 * ReadableStream; `streamProgress`, `streamCompleted`, `streamAborted`.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join as joinPath } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { MemoryNetwork } from "../../src/layers/MemoryNetwork.ts"
import { openFilePath } from "../../src/platform/nodeFile.ts"
import { joiner, type PeerPigeonMeshBase, record, until } from "./support.ts"

const { join, release } = joiner("memory://facade-streams")
afterEach(release)

const linked = (a: PeerPigeonMeshBase, b: PeerPigeonMeshBase) => a.getConnectedPeerIds().includes(b.peerId)
const random = (n: number) => {
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i += 65_536) crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65_536)))
  return out
}
const readAll = async (stream: ReadableStream<Uint8Array>) => new Uint8Array(await new Response(stream).arrayBuffer())

describe("PeerPigeonMesh binary data and streams (memory network)", () => {
  it("sendBinaryData and broadcastBinaryData take Uint8Array, ArrayBuffer, views and Blobs", async () => {
    const [a, b] = await join(new MemoryNetwork(), 2, { maxPeers: 1, minPeers: 1 })
    await until("linked", () => linked(a!, b!))
    const got = record(b!, "binaryMessageReceived")
    const bytes = random(5000)
    const id = await a!.sendBinaryData(b!.peerId, bytes)
    await a!.sendBinaryData(b!.peerId, bytes.buffer.slice(0, 10))
    await a!.sendBinaryData(b!.peerId, new DataView(bytes.buffer, 100, 20))
    await a!.sendBinaryData(b!.peerId, new Blob([bytes.subarray(0, 7)]))
    const broadcastId = await a!.broadcastBinaryData(bytes.subarray(0, 3))
    await until("five delivered", () => got.length === 5)
    const byId = got.find((m) => m.messageId === id)!
    expect(byId).toMatchObject({ from: a!.peerId, size: 5000, direct: true, verified: true })
    expect(Buffer.from(byId.data).equals(Buffer.from(bytes))).toBe(true)
    expect(got.map((m) => m.size).sort((x, y) => x - y)).toStrictEqual([3, 7, 10, 20, 5000])
    expect(got.find((m) => m.messageId === broadcastId)?.direct).toBe(false)
    await expect(a!.sendBinaryData(b!.peerId, "text" as never)).rejects.toThrow(TypeError)
    await expect(a!.sendBinaryData("nope", bytes)).rejects.toThrow(/invalid peer id/)
  })

  it("a stream, a Blob file and a file by path arrive intact through streamReceived, with progress and completion", async () => {
    const [a, bm] = (await join(new MemoryNetwork(), 2, { maxPeers: 1, minPeers: 1 })) as [PeerPigeonMeshBase, PeerPigeonMeshBase]
    await until("linked", () => linked(a, bm))
    const received: Array<{ name: string; size: number | undefined; type: string | undefined; data: Uint8Array }> = []
    bm.addEventListener("streamReceived", (e) => {
      void readAll(e.stream).then((data) => received.push({ name: e.name, size: e.size, type: e.type, data }))
    })
    const progress = record(a, "streamProgress")
    const completed = record(bm, "streamCompleted")
    // a WritableStream
    const payload = random(1_000_000)
    const writable = await a.createStreamToPeer(bm.peerId, { name: "raw", size: payload.byteLength })
    const writer = writable.getWriter()
    for (let at = 0; at < payload.byteLength; at += 70_000) await writer.write(payload.subarray(at, at + 70_000))
    await writer.close()
    // a Blob with a type
    const blob = new Blob([payload.subarray(0, 40_000)], { type: "image/png" })
    await a.sendFile(bm.peerId, blob)
    // a web stream with a name
    await a.sendStream(bm.peerId, new Blob(["hello ", "stream"]).stream(), { name: "greeting.txt", type: "text/plain" })
    await until("three streams read", () => received.length === 3)
    const byName = new Map(received.map((r) => [r.name, r]))
    expect(Buffer.from(byName.get("raw")!.data).equals(Buffer.from(payload))).toBe(true)
    expect(byName.get("raw")!.size).toBe(1_000_000)
    expect(byName.get("blob")).toMatchObject({ size: 40_000, type: "image/png" })
    expect(new TextDecoder().decode(byName.get("greeting.txt")!.data)).toBe("hello stream")
    expect(progress.filter((p) => p.direction === "out").length).toBeGreaterThan(3)
    await until("completed", () => completed.length === 3)
  })

  it("sendFile by path (Node), and a stream nobody listens for is refused", async () => {
    const dir = await mkdtemp(joinPath(tmpdir(), "pp-file-"))
    try {
      const path = joinPath(dir, "notes.txt")
      await writeFile(path, "a file sent by path\n".repeat(5000))
      const network = new MemoryNetwork()
      const [a, b] = await join(network, 2, { maxPeers: 1, minPeers: 1 })
      // the Node entry point's openFile, on a memory-network mesh
      Object.defineProperty(a!, "openFile", { value: openFilePath })
      await until("linked", () => linked(a!, b!))
      // nobody listens: refused
      await expect(a!.sendFile(b!.peerId, path)).rejects.toThrow(/refused/)
      const got: Array<{ name: string; size: number | undefined; text: string }> = []
      b!.addEventListener("streamReceived", (e) => {
        void readAll(e.stream).then((data) => got.push({ name: e.name, size: e.size, text: new TextDecoder().decode(data) }))
      })
      await a!.sendFile(b!.peerId, path)
      await until("file read", () => got.length === 1)
      expect(got[0]).toMatchObject({ name: "notes.txt", size: 100_000, text: "a file sent by path\n".repeat(5000) })
      await expect(a!.sendFile(b!.peerId, dir)).rejects.toThrow(/not a file/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it("a reader that cancels aborts the stream: the writer's promise rejects and both ends see streamAborted", async () => {
    const [a, b] = await join(new MemoryNetwork(), 2, { maxPeers: 1, minPeers: 1 })
    await until("linked", () => linked(a!, b!))
    const abortedA = record(a!, "streamAborted")
    const abortedB = record(b!, "streamAborted")
    b!.addEventListener("streamReceived", (e) => {
      const reader = e.stream.getReader()
      void reader.read().then(() => reader.cancel("not interested"))
    })
    const endless = new ReadableStream<Uint8Array>({ pull: (c) => c.enqueue(random(16_384)) })
    await expect(a!.sendStream(b!.peerId, endless, { name: "endless" })).rejects.toThrow(/not interested/)
    await until("aborts at both ends", () => abortedA.length === 1 && abortedB.length === 1)
    expect(abortedA[0]).toMatchObject({ by: "remote", direction: "out" })
    expect(abortedB[0]).toMatchObject({ by: "local", direction: "in" })
  })
})
