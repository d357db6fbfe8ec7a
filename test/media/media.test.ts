/**
 * Media over real werift connections and the real signaling server: both sides starting at
 * once (perfect negotiation), stop/start with reused transceivers, and links made later.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { PeerPigeonServer } from "../../src/server/index.ts"
import { connectedIds, fastMesh, PeerPigeonMesh, until } from "../support/facade.ts"
import { dummyTracks, mediaPeers, probe, publish, unpublish } from "./weriftMedia.ts"

describe("media over werift", () => {
  let server: PeerPigeonServer
  let url: string
  let network = 0
  const started: Array<PeerPigeonMesh> = []

  beforeAll(async () => {
    server = new PeerPigeonServer({ host: "127.0.0.1", port: 0 })
    await server.start()
    url = `ws://127.0.0.1:${server.port}`
  })
  afterAll(async () => {
    await Promise.all(started.map((m) => m.disconnect()))
    await server.stop()
  })

  /** `n` peers of a fresh network, all linked to each other. */
  const group = async (n: number) => {
    const networkName = `media-${network++}`
    const meshes = Array.from({ length: n }, () => new PeerPigeonMesh({ ...fastMesh, maxPeers: 3, minPeers: 1, networkName }))
    started.push(...meshes)
    for (const m of meshes) await m.init()
    await Promise.all(meshes.map((m) => m.connect(url)))
    await until("all linked", () => meshes.every((m) => connectedIds(m).length === n - 1), 20_000)
    return meshes
  }
  const close = async (meshes: ReadonlyArray<PeerPigeonMesh>) => {
    await Promise.all(meshes.map((m) => m.disconnect()))
    for (const m of meshes) started.splice(started.indexOf(m), 1)
  }

  it("two peers starting media in the same tick: 20 of 20 runs flow both ways, no link torn down", async () => {
    let flowing = 0
    for (let run = 0; run < 20; run++) {
      const [a, b] = await group(2) as [PeerPigeonMesh, PeerPigeonMesh]
      const drops: Array<string> = []
      for (const m of [a, b]) m.addEventListener("peerDisconnected", (e) => drops.push(e.peerId))
      const [pa, pb] = [await probe(a), await probe(b)]
      const [ta, tb] = [await dummyTracks(), await dummyTracks()]
      await Promise.all([publish(a, ta), publish(b, tb)])
      await until(`run ${run}: flowing both ways`, () =>
        pa.packets(b.peerId, "video") > 10 && pb.packets(a.peerId, "video") > 10 &&
        pa.packets(b.peerId, "audio") > 10 && pb.packets(a.peerId, "audio") > 10, 10_000)
      expect(drops).toEqual([])
      expect(pa.added(b.peerId)).toBe(1)
      expect(pb.added(a.peerId)).toBe(1)
      flowing++
      for (const p of [pa, pb]) await p.stop()
      ta.stop()
      tb.stop()
      await close([a, b])
    }
    expect(flowing).toBe(20)
  }, 240_000)

  it("three peers starting at once: each receives both others, once each", async () => {
    const meshes = await group(3)
    const probes = await Promise.all(meshes.map(probe))
    const tracks = await Promise.all(meshes.map(() => dummyTracks()))
    await Promise.all(meshes.map((m, i) => publish(m, tracks[i]!)))
    await until("everyone receives everyone", () =>
      meshes.every((m, i) => meshes.every((o) => o === m || probes[i]!.packets(o.peerId, "video") > 10)), 15_000)
    meshes.forEach((m, i) => {
      for (const o of meshes) if (o !== m) expect(probes[i]!.added(o.peerId)).toBe(1)
      expect(connectedIds(m)).toHaveLength(2)
    })
    for (const p of probes) await p.stop()
    for (const t of tracks) t.stop()
    await close(meshes)
  }, 60_000)

  it("stop/start 5 times: constant transceivers, no packets while stopped, one stream per start", async () => {
    const [a, b] = await group(2) as [PeerPigeonMesh, PeerPigeonMesh]
    const pb = await probe(b)
    const tracks = await dummyTracks()
    const transceivers: Array<number> = []
    for (let cycle = 1; cycle <= 5; cycle++) {
      await publish(a, tracks)
      const before = pb.packets(a.peerId, "video")
      await until(`cycle ${cycle}: flowing`, () => pb.added(a.peerId) === cycle && pb.packets(a.peerId, "video") > before + 10, 10_000)
      await unpublish(a)
      await until(`cycle ${cycle}: removed`, () =>
        pb.events.filter((e) => e._tag === "RemoteStreamRemoved" && e.peerId === a.peerId).length === cycle, 10_000)
      // packets on the wire at the stop may still land; after that, none for half a second
      const settled = Date.now() + 100
      await until("in-flight packets landed", () => Date.now() > settled)
      const stopped = pb.packets(a.peerId, "video") + pb.packets(a.peerId, "audio")
      const window = Date.now() + 500
      await until("window over", () => Date.now() > window)
      expect(pb.packets(a.peerId, "video") + pb.packets(a.peerId, "audio")).toBe(stopped)
      const [link] = await mediaPeers(a)
      transceivers.push(link!.transceivers)
    }
    expect(new Set(transceivers).size).toBe(1)
    expect(transceivers[0]).toBe(2)
    const [bSide] = await mediaPeers(b)
    expect(bSide!.transceivers).toBe(2)
    await pb.stop()
    tracks.stop()
    await close([a, b])
  }, 90_000)

  it("a peer linked after startMedia receives the stream", async () => {
    const [a, b] = await group(2) as [PeerPigeonMesh, PeerPigeonMesh]
    const tracks = await dummyTracks()
    await publish(a, tracks)
    const c = new PeerPigeonMesh({ ...fastMesh, maxPeers: 3, minPeers: 1, networkName: a.networkName })
    started.push(c)
    await c.init()
    const pc = await probe(c)
    await c.connect(url)
    await until("c linked to a", () => connectedIds(c).includes(a.peerId), 20_000)
    await until("c receives a", () => pc.packets(a.peerId, "video") > 10 && pc.packets(a.peerId, "audio") > 10, 10_000)
    expect(pc.added(a.peerId)).toBe(1)
    expect(connectedIds(b)).toContain(a.peerId)
    await pc.stop()
    tracks.stop()
    await close([a, b, c])
  }, 60_000)
})
