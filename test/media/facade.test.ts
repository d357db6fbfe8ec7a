/**
 * The 1.x media API of `PeerPigeonMesh` over werift: events once per stream, toggles seen
 * remotely, policy and limits, stats, and eviction protection of links carrying media.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { PeerPigeonServer } from "../../src/server/index.ts"
import type { MediaStreamLike } from "../../src/services/Media.ts"
import { connectedIds, fastMesh, PeerPigeonMesh, record, until } from "../support/facade.ts"
import { dummyTracks, probe } from "./weriftMedia.ts"

/** Polls `get` until `ok` holds on its result (every 100 ms, at most `timeoutMs`). */
const eventually = async <A>(get: () => Promise<A>, ok: (a: A) => boolean, timeoutMs = 10_000): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const a = await get()
    if (ok(a)) return a
    if (Date.now() > deadline) throw new Error("timed out polling")
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

const streamOf = (t: Awaited<ReturnType<typeof dummyTracks>>): MediaStreamLike => ({ id: "dummy", getTracks: () => [t.audio, t.video] })

describe("media facade over werift", () => {
  let server: PeerPigeonServer
  let url: string
  let network = 0
  const started: Array<PeerPigeonMesh> = []
  const sources: Array<{ stop(): void }> = []

  beforeAll(async () => {
    server = new PeerPigeonServer({ host: "127.0.0.1", port: 0 })
    await server.start()
    url = `ws://127.0.0.1:${server.port}`
  })
  afterAll(async () => {
    await Promise.all(started.map((m) => m.disconnect()))
    for (const s of sources) s.stop()
    await server.stop()
  })

  const group = async (n: number, options: ConstructorParameters<typeof PeerPigeonMesh>[0] = {}) => {
    const networkName = `media-facade-${network++}`
    const meshes = Array.from({ length: n }, () => new PeerPigeonMesh({ ...fastMesh, maxPeers: 3, minPeers: 1, networkName, ...options }))
    started.push(...meshes)
    for (const m of meshes) await m.init()
    await Promise.all(meshes.map((m) => m.connect(url)))
    await until("all linked", () => meshes.every((m) => connectedIds(m).length === n - 1), 20_000)
    return meshes
  }
  const tracks = async () => {
    const t = await dummyTracks()
    sources.push(t)
    return t
  }

  it("links of a mesh that uses no media hold no media engine; the first startMedia gives every link one, and the peer its own on the first media frame", async () => {
    const [a, b, c] = await group(3) as [PeerPigeonMesh, PeerPigeonMesh, PeerPigeonMesh]
    for (const m of [a, b, c]) expect(await m.getMediaStats()).toEqual([])
    const streams = record(b, "remoteStream")
    const t = await tracks()
    await a.startMedia({ stream: streamOf(t) })
    await until("remote stream", () => streams.length === 1)
    expect((await a.getMediaStats()).map((x) => x.peerId).sort()).toEqual([b.peerId, c.peerId].sort())
    expect((await b.getMediaStats()).map((x) => x.peerId)).toContain(a.peerId)
    // b and c publish nothing and were sent nothing by each other: no engine for their link
    expect((await b.getMediaStats()).map((x) => x.peerId)).not.toContain(c.peerId)
    await a.stopMedia()
  })

  it("startMedia: remoteStream exactly once, toggleVideo seen as remoteMediaState with no video packets, stopMedia removes", async () => {
    const [a, b] = await group(2) as [PeerPigeonMesh, PeerPigeonMesh]
    const streams = record(b, "remoteStream")
    const states = record(b, "remoteMediaState")
    const removed = record(b, "remoteStreamRemoved")
    const started = record(a, "localStreamStarted")
    const pb = await probe(b)
    const t = await tracks()
    const local = await a.startMedia({ stream: streamOf(t) })
    expect(a.getLocalStream()).toBe(local)
    expect(started).toHaveLength(1)
    await until("remote stream", () => streams.length === 1 && pb.packets(a.peerId, "video") > 10)
    expect(streams[0]).toMatchObject({ peerId: a.peerId, source: "camera", audio: true, video: true })
    expect(b.getRemoteStreams().get(a.peerId)).toBe(streams[0]!.stream)
    expect(streams[0]!.stream.getTracks().map((x) => x.kind).sort()).toEqual(["audio", "video"])
    expect(a.getMediaState()).toMatchObject({ hasLocalStream: true, videoEnabled: true, audioEnabled: true })

    expect(a.toggleVideo()).toBe(false)
    await until("mute seen", () => states.length === 1)
    expect(states[0]).toMatchObject({ peerId: a.peerId, source: "camera", audio: true, video: false })
    expect(b.getRemoteMediaState(a.peerId)).toEqual([{ source: "camera", audio: true, video: false }])
    const settled = Date.now() + 100
    await until("in-flight packets landed", () => Date.now() > settled)
    const video = pb.packets(a.peerId, "video")
    const audio = pb.packets(a.peerId, "audio")
    await until("audio keeps flowing", () => pb.packets(a.peerId, "audio") > audio + 10)
    expect(pb.packets(a.peerId, "video")).toBe(video)
    expect(a.getMediaState().videoEnabled).toBe(false)
    expect(a.toggleVideo()).toBe(true)
    await until("unmute seen and video again", () => states.length === 2 && pb.packets(a.peerId, "video") > video + 10)
    expect(streams).toHaveLength(1)

    await a.stopMedia()
    await until("removed", () => removed.length === 1)
    expect(removed[0]).toMatchObject({ peerId: a.peerId, source: "camera" })
    expect(b.getRemoteStreams().size).toBe(0)
    expect(a.getLocalStream()).toBeNull()
    expect(streams).toHaveLength(1)
  }, 60_000)

  it("a closed link removes the remote stream; getMediaStats counts bytes; setMediaQuality validates", async () => {
    const [a, b] = await group(2) as [PeerPigeonMesh, PeerPigeonMesh]
    const removed = record(b, "remoteStreamRemoved")
    const streams = record(b, "remoteStream")
    await a.startMedia({ stream: streamOf(await tracks()) })
    await until("remote stream", () => streams.length === 1)
    await a.setMediaQuality({ maxBitrate: 200_000 })
    expect(() => a.setMediaQuality({ maxBitrate: -1 })).toThrow(RangeError)
    // bitrates are since the previous call: poll until both figures have moved
    const stats = await eventually(() => b.getMediaStats(a.peerId), (s) => s[0] !== undefined && s[0].bytesReceived > 0 && s[0].bitrateIn > 0)
    const sent = await eventually(() => a.getMediaStats(b.peerId), (s) => s[0] !== undefined && s[0].bytesSent > 0 && s[0].bitrateOut > 0)
    expect(sent[0]!.packetsSent).toBeGreaterThan(0)
    expect(stats[0]).toMatchObject({ peerId: a.peerId })
    expect(stats[0]!.bytesReceived).toBeGreaterThan(0)
    expect(stats[0]!.packetsReceived).toBeGreaterThan(0)
    expect(stats[0]!.bitrateIn).toBeGreaterThan(0)
    await b.disconnectPeer(a.peerId)
    await until("removed on close", () => removed.length === 1)
    expect(removed[0]).toMatchObject({ peerId: a.peerId, reason: "link closed" })
  }, 60_000)

  it("maxMediaPeers: the camera goes to that many links only", async () => {
    const meshes = await group(3, { maxMediaPeers: 1 })
    const [a, b, c] = meshes as [PeerPigeonMesh, PeerPigeonMesh, PeerPigeonMesh]
    const [sb, sc] = [record(b, "remoteStream"), record(c, "remoteStream")]
    await a.startMedia({ stream: streamOf(await tracks()) })
    await until("one receiver", () => sb.length + sc.length === 1)
    const settled = Date.now() + 500
    await until("no second receiver for a while", () => Date.now() > settled)
    expect(sb.length + sc.length).toBe(1)
    expect(a.getMediaState().peers.filter((p) => p.sending.includes("camera"))).toHaveLength(1)
  }, 60_000)

  it("mediaPolicy deny raises no remoteStream; ask raises incomingMedia and accept() shows the stream", async () => {
    const [a, b] = await group(2, { mediaPolicy: "ask" }) as [PeerPigeonMesh, PeerPigeonMesh]
    const asked = record(b, "incomingMedia")
    const streams = record(b, "remoteStream")
    await a.startMedia({ stream: streamOf(await tracks()) })
    await until("asked", () => asked.length === 1)
    expect(streams).toHaveLength(0)
    asked[0]!.accept()
    await until("accepted stream", () => streams.length === 1)
    expect(streams[0]!.peerId).toBe(a.peerId)

    const [c, d] = await group(2, { mediaPolicy: "deny" }) as [PeerPigeonMesh, PeerPigeonMesh]
    const denied = record(d, "remoteStream")
    const pd = await probe(d)
    await c.startMedia({ stream: streamOf(await tracks()) })
    await until("media negotiated", () => (c.getMediaState().peers[0]?.sending.length ?? 0) === 1)
    // a message sent after the announce, on the same ordered link, arrives after it
    const inbox = record(d, "messageReceived")
    c.sendDirectMessage(d.peerId, "after the announce")
    await until("message after the announce", () => inbox.some((m) => m.content === "after the announce"))
    expect(denied).toHaveLength(0)
    expect(pd.events.filter((e) => e._tag === "RemoteStreamAdded")).toHaveLength(0)
  }, 60_000)

  it("screen share: a second stream (source screen) on the same link, removed on stopScreenShare; the camera stays", async () => {
    const [a, b] = await group(2) as [PeerPigeonMesh, PeerPigeonMesh]
    const streams = record(b, "remoteStream")
    const removed = record(b, "remoteStreamRemoved")
    const pb = await probe(b)
    await a.startMedia({ stream: streamOf(await tracks()) })
    await until("camera", () => streams.length === 1)
    const screen = await tracks()
    await a.startScreenShare({ track: screen.video })
    expect(a.getMediaState().isScreenSharing).toBe(true)
    await until("screen", () => streams.length === 2)
    expect(streams[1]).toMatchObject({ peerId: a.peerId, source: "screen", audio: false, video: true })
    expect(streams[1]!.stream.getTracks().map((t) => t.kind)).toEqual(["video"])
    expect(b.getRemoteScreens().get(a.peerId)).toBe(streams[1]!.stream)
    const [link] = a.getMediaState().peers
    expect(link!.transceivers).toBe(3)
    await a.stopScreenShare()
    await until("screen removed", () => removed.length === 1)
    expect(removed[0]).toMatchObject({ peerId: a.peerId, source: "screen" })
    expect(b.getRemoteStreams().has(a.peerId)).toBe(true)
    const before = pb.packets(a.peerId, "video")
    await until("camera still flows", () => pb.packets(a.peerId, "video") > before + 10)
    await a.startScreenShare({ track: screen.video })
    await until("screen again", () => streams.length === 3)
    expect(a.getMediaState().peers[0]!.transceivers).toBe(3)
    await pb.stop()
  }, 60_000)

  it("startMedia without devices (Node) rejects with a typed MediaError and emits mediaError", async () => {
    const [a] = await group(1)
    const errors = record(a!, "mediaError")
    await expect(a!.startMedia({ video: true })).rejects.toMatchObject({ _tag: "MediaError", reason: "not-supported" })
    expect(errors[0]).toMatchObject({ type: "not-supported" })
    await expect(a!.enumerateMediaDevices()).rejects.toMatchObject({ _tag: "MediaError", reason: "not-supported" })
  })

  it("a link carrying media is kept when capacity shrinks: the other link is evicted", async () => {
    const meshes = await group(3)
    const [a, b, c] = meshes as [PeerPigeonMesh, PeerPigeonMesh, PeerPigeonMesh]
    // a sends to the link the optimizer would drop first (the farthest): only it is protected
    await a.startMedia({ stream: streamOf(await tracks()) })
    await until("media to both", () => a.getMediaState().peers.filter((p) => p.sending.length > 0).length === 2)
    await a.stopMedia()
    await until("stopped", () => a.getMediaState().peers.every((p) => p.sending.length === 0))
    const xor = (x: string) => BigInt(`0x${x}`) ^ BigInt(`0x${a.peerId}`)
    const farthest = xor(b.peerId) > xor(c.peerId) ? b : c
    const nearest = farthest === b ? c : b
    await a.startMedia({ stream: streamOf(await tracks()), to: [farthest.peerId] })
    await until("media to the farthest", () => a.getMediaState().peers.some((p) => p.peerId === farthest.peerId && p.sending.length === 1))
    a.setMaxPeers(1)
    await until("down to one link", () => connectedIds(a).length === 1, 20_000)
    expect(connectedIds(a)).toEqual([farthest.peerId])
    expect(nearest.getConnectedPeerIds()).not.toContain(a.peerId)
  }, 60_000)
})
