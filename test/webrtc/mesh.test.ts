import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { PeerPigeonMeshEvents } from "../../src/index.ts"
import { PeerPigeonServer } from "../../src/server/index.ts"
import { connectedIds, fastMesh, meshIsConnected, PeerPigeonMesh, until } from "../support/facade.ts"

describe("real WebRTC (werift) with the real signaling server", () => {
  let server: PeerPigeonServer
  let port: number
  const meshes: Array<PeerPigeonMesh> = []
  const inbox = new Map<string, Array<PeerPigeonMeshEvents["messageReceived"]>>()

  beforeAll(async () => {
    server = new PeerPigeonServer({ host: "127.0.0.1", port: 0 })
    await server.start()
    port = server.port
    for (let i = 0; i < 5; i++) {
      const mesh = new PeerPigeonMesh({ ...fastMesh, maxPeers: 3, minPeers: 2, networkName: "e2e" })
      await mesh.init()
      const box: Array<PeerPigeonMeshEvents["messageReceived"]> = []
      inbox.set(mesh.peerId, box)
      mesh.addEventListener("messageReceived", (m) => box.push(m))
      meshes.push(mesh)
    }
    await Promise.all(meshes.map((m) => m.connect(`ws://127.0.0.1:${port}`)))
  }, 30_000)

  afterAll(async () => {
    await Promise.all(meshes.map((m) => m.disconnect()))
    await server.stop()
  })

  it("5 peers form a connected mesh within [minPeers, maxPeers]", async () => {
    await until("mesh formed", () =>
      meshes.every((m) => {
        const n = connectedIds(m).length
        return n >= 2 && n <= 3
      }) && meshIsConnected(meshes), 30_000)
    for (const m of meshes) {
      expect(m.getStatus()).toMatchObject({ connected: true, networkName: "e2e", verified: true, transport: "webrtc" })
      expect(m.getPeerDetails().every((p) => p.verified || p.status === "connecting")).toBe(true)
      expect(m.getPeers()).toEqual(connectedIds(m))
    }
  }, 40_000)

  it("a broadcast reaches every peer once", async () => {
    const id = meshes[0]!.sendMessage({ hello: "everyone" })
    expect(typeof id).toBe("string")
    const isIt = (x: PeerPigeonMeshEvents["messageReceived"]) => JSON.stringify(x.content) === JSON.stringify({ hello: "everyone" })
    await until("broadcast everywhere", () => meshes.slice(1).every((m) => inbox.get(m.peerId)!.some(isIt)))
    for (const m of meshes.slice(1)) {
      const got = inbox.get(m.peerId)!.filter(isIt)
      expect(got).toHaveLength(1)
      expect(got[0]).toMatchObject({ from: meshes[0]!.peerId, content: { hello: "everyone" }, direct: false })
    }
  })

  it("a direct message crosses at least two hops", async () => {
    let pair: [PeerPigeonMesh, PeerPigeonMesh] | undefined
    for (const a of meshes) {
      const b = meshes.find((x) => x !== a && !connectedIds(a).includes(x.peerId))
      if (b !== undefined) {
        pair = [a, b]
        break
      }
    }
    expect(pair).toBeDefined()
    const [from, to] = pair!
    from.sendDirectMessage(to.peerId, "psst")
    await until("direct delivered", () => inbox.get(to.peerId)!.some((x) => x.content === "psst"))
    const got = inbox.get(to.peerId)!.find((x) => x.content === "psst")!
    const id = got.messageId
    expect(got).toMatchObject({ from: from.peerId, content: "psst", direct: true, verified: true })
    expect(got.hops).toBeGreaterThanOrEqual(2)
    for (const m of meshes) if (m !== to) expect(inbox.get(m.peerId)!.some((x) => x.messageId === id)).toBe(false)
  })

  it("DHT: put, get from every peer, update by the owner, refusal for others, and a subscriber sees the change", async () => {
    const [owner, other, watcher] = [meshes[0]!, meshes[1]!, meshes[3]!]
    expect(await owner.dhtPut("room/topic", { title: "hello" })).toBe(1)
    for (const m of meshes) expect(await m.dhtGet("room/topic")).toEqual({ title: "hello" })
    const changes: Array<PeerPigeonMeshEvents["dhtValueChanged"]> = []
    watcher.addEventListener("dhtValueChanged", (c) => changes.push(c))
    expect(await watcher.dhtSubscribe("room/topic")).toEqual({ title: "hello" })
    expect(await owner.dhtUpdate("room/topic", { title: "updated" })).toBe(2)
    await until("change seen", () => changes.length === 1, 20_000)
    expect(changes[0]).toMatchObject({
      key: "room/topic",
      newValue: { title: "updated" },
      oldValue: { title: "hello" },
      publisher: owner.peerId,
      version: 2
    })
    await expect(other.dhtUpdate("room/topic", "hijacked")).rejects.toMatchObject({ _tag: "Unauthorized" })
    expect(await meshes[4]!.dhtGet("room/topic")).toEqual({ title: "updated" })
    expect(await other.dhtGet("no/such/key")).toBeNull()
  }, 60_000)

  it("a server restart keeps the links up, and every peer re-announces", async () => {
    const before = meshes.map((m) => connectedIds(m).sort())
    await server.stop()
    await until("signaling lost", () => meshes.every((m) => !m.getStatus().connected))
    expect(meshes.map((m) => connectedIds(m).sort())).toEqual(before)
    server = new PeerPigeonServer({ host: "127.0.0.1", port })
    await server.start()
    await until("all re-announced", () => meshes.every((m) => m.getStatus().connected), 20_000)
    const peers = server.getPeers()
    expect(peers.filter((p) => p.announced && p.networkName === "e2e")).toHaveLength(5)
    // the mesh still works end to end
    meshes[4]!.sendMessage("after restart")
    await until("broadcast after restart", () => meshes.slice(0, 4).every((m) => inbox.get(m.peerId)!.some((x) => x.content === "after restart")))
  }, 40_000)
})

describe("process lifetime", () => {
  it("after disconnect() nothing keeps the Node process alive", async () => {
    const script = fileURLToPath(new URL("../fixtures/mesh-exit.ts", import.meta.url))
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, [script], { timeout: 30_000 }, (error, out, err) =>
        error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out))
    )
    expect(JSON.parse(stdout.trim().split("\n").pop()!)).toMatchObject({ linked: true })
  }, 40_000)
})
