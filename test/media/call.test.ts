/**
 * Calls to a peer that is not a neighbour: set up over signed direct messages routed through
 * the mesh (2+ hops), on a connection of their own, over werift.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { PeerPigeonServer } from "../../src/server/index.ts"
import type { MediaStreamLike } from "../../src/services/Media.ts"
import { connectedIds, fastMesh, meshIsConnected, PeerPigeonMesh, record, until } from "../support/facade.ts"
import { dummyTracks, probe } from "./weriftMedia.ts"

const streamOf = (t: Awaited<ReturnType<typeof dummyTracks>>): MediaStreamLike => ({ id: "dummy", getTracks: () => [t.audio, t.video] })

describe("calls over the mesh (werift)", () => {
  let server: PeerPigeonServer
  const meshes: Array<PeerPigeonMesh> = []
  const sources: Array<{ stop(): void }> = []

  beforeAll(async () => {
    server = new PeerPigeonServer({ host: "127.0.0.1", port: 0 })
    await server.start()
    for (let i = 0; i < 5; i++) {
      const m = new PeerPigeonMesh({ ...fastMesh, maxPeers: 2, minPeers: 1, networkName: "calls" })
      await m.init()
      meshes.push(m)
    }
    await Promise.all(meshes.map((m) => m.connect(`ws://127.0.0.1:${server.port}`)))
    await until("mesh formed", () => meshes.every((m) => connectedIds(m).length >= 1) && meshIsConnected(meshes), 30_000)
    // freeze the topology, so the strangers below stay strangers
    for (const m of meshes) {
      m.setAutoDiscovery(false)
      m.setEvictionStrategy(false)
    }
    await until("no link being set up", () => meshes.every((m) => m.getPeerDetails().every((p) => p.status === "connected")), 20_000)
  }, 40_000)
  afterAll(async () => {
    await Promise.all(meshes.map((m) => m.disconnect()))
    for (const s of sources) s.stop()
    await server.stop()
  })

  const strangers = (): [PeerPigeonMesh, PeerPigeonMesh] => {
    for (const a of meshes) {
      const b = meshes.find((x) => x !== a && !connectedIds(a).includes(x.peerId))
      if (b !== undefined) return [a, b]
    }
    throw new Error("every peer is linked to every other")
  }
  const tracks = async () => {
    const t = await dummyTracks()
    sources.push(t)
    return t
  }

  it("a call to a non-neighbour: invite over 2+ hops, media both ways on its own connection, hang-up ends both sides", async () => {
    const [a, b] = strangers()
    const incoming = record(b, "incomingCall")
    const [ra, rb] = [record(a, "remoteStream"), record(b, "remoteStream")]
    const [ea, eb] = [record(a, "callEnded"), record(b, "callEnded")]
    const removed = record(b, "remoteStreamRemoved")
    const [pa, pb] = [await probe(a), await probe(b)]
    const [ta, tb] = [await tracks(), await tracks()]
    const calling = a.call(b.peerId, { stream: streamOf(ta) })
    await until("ringing", () => incoming.length === 1)
    expect(incoming[0]).toMatchObject({ peerId: a.peerId })
    expect(incoming[0]!.hops).toBeGreaterThanOrEqual(2)
    await incoming[0]!.accept({ stream: streamOf(tb) })
    await calling
    await until("media both ways", () => pa.packets(b.peerId, "video") > 10 && pb.packets(a.peerId, "video") > 10 &&
      pa.packets(b.peerId, "audio") > 10 && pb.packets(a.peerId, "audio") > 10, 15_000)
    expect(ra.filter((s) => s.peerId === b.peerId)).toHaveLength(1)
    expect(rb.filter((s) => s.peerId === a.peerId)).toHaveLength(1)
    // the call is not a mesh link (the mesh's own links may change meanwhile: the optimizer runs)
    expect(connectedIds(a)).not.toContain(b.peerId)
    expect(a.getPeerDetails().some((l) => l.peerId === b.peerId)).toBe(false)
    expect(a.getMediaState().peers.find((p) => p.peerId === b.peerId)).toMatchObject({ call: true, sending: ["camera"] })
    const stats = await a.getMediaStats(b.peerId)
    expect(stats.find((s) => s.call)?.packetsReceived).toBeGreaterThan(0)

    await a.hangUp(b.peerId)
    await until("ended on both sides", () => ea.length === 1 && eb.length === 1, 15_000)
    expect(eb[0]).toMatchObject({ peerId: a.peerId, reason: "hung up" })
    await until("stream removed", () => removed.some((r) => r.peerId === a.peerId))
    expect(a.getMediaState().peers.some((p) => p.peerId === b.peerId)).toBe(false)
    await pa.stop()
    await pb.stop()
  }, 60_000)

  it("startMedia({to}) with a peer that is not a link calls it", async () => {
    const [a, b] = strangers()
    const incoming = record(b, "incomingCall")
    const ended = record(b, "callEnded")
    const pb = await probe(b)
    await a.startMedia({ stream: streamOf(await tracks()), to: [b.peerId] })
    await until("ringing", () => incoming.length === 1)
    await incoming[0]!.accept({ stream: streamOf(await tracks()) })
    await until("b receives a over the call", () => pb.packets(a.peerId, "video") > 10, 15_000)
    // the links got nothing: `to` named only b
    expect(a.getMediaState().peers.filter((p) => p.call !== true && p.sending.length > 0)).toEqual([])
    await a.stopMedia()
    await a.hangUp(b.peerId)
    await until("ended", () => ended.length === 1)
    await pb.stop()
  }, 40_000)

  it("a rejected call rejects the caller with call-rejected and the reason", async () => {
    const [a, b] = strangers()
    const incoming = record(b, "incomingCall")
    const calling = a.call(b.peerId, { stream: streamOf(await tracks()) })
    await until("ringing", () => incoming.length === 1)
    await incoming[0]!.reject("busy right now")
    await expect(calling).rejects.toMatchObject({ _tag: "MediaError", reason: "call-rejected", message: "busy right now" })
  }, 30_000)

  it("calling self, or twice at once, is refused with a typed error", async () => {
    const [a, b] = strangers()
    await expect(a.call(a.peerId, { stream: streamOf(await tracks()) })).rejects.toMatchObject({ reason: "peer-unreachable" })
    const incoming = record(b, "incomingCall")
    const first = a.call(b.peerId, { stream: streamOf(await tracks()) })
    await expect(a.call(b.peerId, { stream: streamOf(await tracks()) })).rejects.toMatchObject({ reason: "call-rejected" })
    await until("ringing", () => incoming.length === 1)
    await incoming[0]!.reject("no")
    await expect(first).rejects.toMatchObject({ reason: "call-rejected" })
  }, 30_000)
})

describe("calls through the signaling server (no mesh route)", () => {
  it("two peers with no link at all: the call is set up through the signaling server", async () => {
    const server = new PeerPigeonServer({ host: "127.0.0.1", port: 0 })
    await server.start()
    const [a, b] = [0, 1].map(() => new PeerPigeonMesh({ ...fastMesh, networkName: "calls-fallback", autoDiscovery: false })) as [PeerPigeonMesh, PeerPigeonMesh]
    const sources: Array<{ stop(): void }> = []
    try {
      for (const m of [a, b]) await m.init()
      await a.connect(`ws://127.0.0.1:${server.port}`)
      await b.connect(`ws://127.0.0.1:${server.port}`)
      await until("discovered", () => a.getDiscoveredPeers().some((p) => p.peerId === b.peerId))
      expect(connectedIds(a)).toEqual([])
      const incoming = record(b, "incomingCall")
      const pa = await probe(a)
      const [ta, tb] = [await dummyTracks(), await dummyTracks()]
      sources.push(ta, tb)
      const calling = a.call(b.peerId, { stream: streamOf(ta) })
      await until("ringing through the server", () => incoming.length === 1, 30_000)
      expect(incoming[0]!.hops).toBe(0)
      await incoming[0]!.accept({ stream: streamOf(tb) })
      await calling
      await until("media from the callee", () => pa.packets(b.peerId, "video") > 10, 15_000)
      expect(connectedIds(a)).toEqual([])
      await pa.stop()
    } finally {
      await Promise.all([a.disconnect(), b.disconnect()])
      for (const s of sources) s.stop()
      await server.stop()
    }
  }, 60_000)
})
