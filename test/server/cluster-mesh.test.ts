/**
 * Real WebRTC across three servers over one Redis: a PeerPigeon 1.x client (driven frame by
 * frame as legacy-client.test.ts does, with a werift RTCPeerConnection of its own) on server
 * A and our client on server C meet, and their link opens with every signal relayed across
 * servers; then 12 werift peers spread over the three servers form one mesh and exchange a
 * broadcast and a direct message.
 */
import { RTCPeerConnection } from "werift"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { PeerPigeonMeshEvents } from "../../src/index.ts"
import { PeerPigeonServer } from "../../src/server/index.ts"
import { connectedIds, fastMesh, meshIsConnected, PeerPigeonMesh, until } from "../support/facade.ts"
import { type RedisServer, startRedis } from "../support/redis.ts"
import { connect, type Frame, ofType, type TestClient } from "../support/wsClient.ts"

let redis: RedisServer
const servers: Array<PeerPigeonServer> = []
beforeAll(async () => {
  redis = await startRedis()
  for (let i = 0; i < 3; i++) servers.push(new PeerPigeonServer({ host: "127.0.0.1", port: 0, redisSocket: redis.socket }))
  await Promise.all(servers.map((s) => s.start()))
})
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()))
  await redis?.stop()
})

const url = (i: number) => `ws://127.0.0.1:${servers[i]!.port}`

/** What a 1.x SignalingClient puts on every frame: maxPeers and a self-declared fromPeerId. */
const legacySend = (client: TestClient, self: string, message: { type: string; data: unknown; targetPeerId?: string }) =>
  client.send({ ...message, maxPeers: 3, fromPeerId: self })

describe("a PeerPigeon 1.x client on server A and our client on server C", () => {
  it("discover each other and open a WebRTC link, every signal relayed across servers", async () => {
    // the smaller id: by the shared initiation rule ours makes the offer
    const legacyId = "00000000" + "7".repeat(32)
    const legacy = await connect(servers[0]!.port, legacyId)
    await legacy.next(ofType("connected"))
    legacySend(legacy, legacyId, { type: "announce", data: { peerId: legacyId } })
    const ours = new PeerPigeonMesh({ ...fastMesh, maxPeers: 3, minPeers: 1 })
    const pc = new RTCPeerConnection({})
    try {
      await ours.init()
      const discovered: Array<string> = []
      ours.addEventListener("peerDiscovered", (e) => discovered.push(e.peerId))
      await ours.connect(url(2))
      expect(await legacy.next(ofType("peer-discovered"), 20_000)).toMatchObject({ data: { peerId: ours.peerId, verified: true } })
      await until("ours discovered the 1.x peer", () => discovered.includes(legacyId))

      // the 1.x side answers with a real RTCPeerConnection, trickling candidates as 1.x does
      // our link frames (PeerFrames.ts) may come as `#<length>:<json>` pieces: the hello is one
      const hello = new Promise<Record<string, unknown>>((resolve) =>
        pc.onDataChannel.subscribe((channel) =>
          channel.onMessage.subscribe((m) => {
            const text = String(m)
            const json = text.startsWith("#") ? text.slice(text.indexOf(":") + 1) : text
            if (json.includes('"t":"hello"')) resolve(JSON.parse(json) as Record<string, unknown>)
          })
        )
      )
      pc.onIceCandidate.subscribe((candidate) => {
        if (candidate !== undefined) legacySend(legacy, legacyId, { type: "ice-candidate", data: candidate.toJSON(), targetPeerId: ours.peerId })
      })
      const offer = await legacy.next(ofType("offer"), 20_000)
      expect(offer).toMatchObject({ fromPeerId: ours.peerId, targetPeerId: legacyId, data: { type: "offer" } })
      await pc.setRemoteDescription(offer["data"] as { type: "offer"; sdp: string })
      await pc.setLocalDescription(await pc.createAnswer())
      legacySend(legacy, legacyId, { type: "answer", data: { type: "answer", sdp: pc.localDescription!.sdp }, targetPeerId: ours.peerId })
      legacy.ws.on("message", () => {
        for (const f of legacy.received.splice(0).filter((x: Frame) => x.type === "ice-candidate")) {
          if (f["data"] !== null) void pc.addIceCandidate(f["data"] as { candidate: string })
        }
      })
      // our client's first frame on the open channel: its hello
      expect(await hello).toMatchObject({ t: "hello", peerId: ours.peerId, networkName: "global" })
      expect(pc.connectionState).toBe("connected")
      expect(legacy.all("error")).toEqual([])
    } finally {
      await pc.close()
      await ours.disconnect()
      await legacy.close()
    }
  }, 40_000)
})

describe("12 werift peers over three servers", () => {
  const meshes: Array<PeerPigeonMesh> = []
  const inbox = new Map<string, Array<PeerPigeonMeshEvents["messageReceived"]>>()
  const home = new Map<string, number>()
  afterAll(async () => {
    await Promise.all(meshes.map((m) => m.disconnect()))
  })

  it("form one mesh, and a broadcast and a direct message reach their peers once", async () => {
    for (let i = 0; i < 12; i++) {
      const mesh = new PeerPigeonMesh({ ...fastMesh, maxPeers: 3, minPeers: 2, networkName: "cluster" })
      await mesh.init()
      const box: Array<PeerPigeonMeshEvents["messageReceived"]> = []
      inbox.set(mesh.peerId, box)
      mesh.addEventListener("messageReceived", (m) => box.push(m))
      meshes.push(mesh)
      home.set(mesh.peerId, i % 3)
    }
    await Promise.all(meshes.map((m, i) => m.connect(url(i % 3))))
    await until("one mesh", () => meshes.every((m) => connectedIds(m).length >= 2) && meshIsConnected(meshes), 90_000)
    // links between peers of different servers: their signals went through Redis
    const crossing = meshes.flatMap((m) => connectedIds(m).filter((p) => home.get(p) !== home.get(m.peerId)))
    expect(crossing.length).toBeGreaterThan(0)
    expect(await servers[0]!.getClusterStats()).toMatchObject({ servers: 3, networks: { cluster: 12 } })

    meshes[0]!.sendMessage({ hello: "cluster" })
    const isIt = (x: PeerPigeonMeshEvents["messageReceived"]) => JSON.stringify(x.content) === JSON.stringify({ hello: "cluster" })
    await until("broadcast everywhere", () => meshes.slice(1).every((m) => inbox.get(m.peerId)!.some(isIt)), 30_000)
    for (const m of meshes.slice(1)) expect(inbox.get(m.peerId)!.filter(isIt)).toHaveLength(1)

    // a direct message between peers of different servers with no link between them
    const from = meshes.find((m) => home.get(m.peerId) === 0)!
    const to = meshes.find((m) => home.get(m.peerId) === 2 && !connectedIds(from).includes(m.peerId))!
    from.sendDirectMessage(to.peerId, "across")
    await until("direct delivered", () => inbox.get(to.peerId)!.some((x) => x.content === "across"), 30_000)
    expect(inbox.get(to.peerId)!.find((x) => x.content === "across")).toMatchObject({ from: from.peerId, direct: true, verified: true })
    for (const m of meshes) if (m !== to) expect(inbox.get(m.peerId)!.some((x) => x.content === "across")).toBe(false)
  }, 120_000)
})
