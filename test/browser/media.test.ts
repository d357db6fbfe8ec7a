/**
 * Media end to end in Chromium (fake camera and microphone): the demo app's media panel in
 * tabs of separate browser contexts, through the real signaling server, and a tab with a
 * Node (werift) peer. Skipped where /usr/bin/chromium is missing. Every wait is for a state.
 */
import { type Browser, chromium, type Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { buildBrowser, root } from "../../scripts/build-browser.ts"
import { startStaticServer, type StaticServer } from "../../scripts/dev-static.ts"
import { PeerPigeonMesh } from "../../src/index.ts"
import { PeerPigeonServer } from "../../src/server/index.ts"
import type { MediaStreamLike } from "../../src/services/Media.ts"
import { connectedIds, until } from "../support/facade.ts"
import { dummyTracks, probe } from "../media/weriftMedia.ts"
import { CHROMIUM, hasChromium, mediaLaunchArgs, WAIT } from "../support/chromium.ts"



interface MediaTileState {
  readonly peerId: string
  readonly source: string
  readonly audio: boolean
  readonly video: boolean
  readonly videoWidth: number
  readonly tracks: ReadonlyArray<string>
}
interface AppMedia {
  readonly remoteStreamEvents: number
  readonly error: string | undefined
  readonly tiles: ReadonlyArray<MediaTileState>
}
interface PeerMediaState {
  readonly peerId: string
  readonly offers: number
  readonly transceivers: number
  readonly sending: ReadonlyArray<string>
}
interface MeshInPage {
  getMediaStats(peerId?: string): Promise<ReadonlyArray<{ readonly peerId: string; readonly framesDecoded: number; readonly packetsReceived: number }>>
  getMediaState(): { readonly peers: ReadonlyArray<PeerMediaState> }
  switchDevice(options: { videoTrack: unknown }): Promise<unknown>
}
type AppWindow = { getPeerPigeonState(): { peerId: string; phase: string; connectedPeers: ReadonlyArray<string>; media: AppMedia }; peerPigeonMesh: MeshInPage }

interface Tab {
  readonly page: Page
  readonly peerId: string
  readonly errors: Array<string>
}

const media = (page: Page): Promise<AppMedia> => page.evaluate(() => (globalThis as unknown as AppWindow).getPeerPigeonState().media)
const framesFrom = (page: Page, peerId: string): Promise<number> =>
  page.evaluate(async (id) => {
    const stats = await (globalThis as unknown as AppWindow).peerPigeonMesh.getMediaStats(id)
    return stats.reduce((n, s) => n + s.framesDecoded, 0)
  }, peerId)
const linkState = (page: Page): Promise<ReadonlyArray<PeerMediaState>> =>
  page.evaluate(() => (globalThis as unknown as AppWindow).peerPigeonMesh.getMediaState().peers)

/** Polls `get` until `ok` (every 100 ms, bounded). */
const eventually = async <A>(what: string, get: () => Promise<A>, ok: (a: A) => boolean, timeoutMs = 30_000): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const a = await get()
    if (ok(a)) return a
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}; last ${JSON.stringify(a)}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

describe.skipIf(!hasChromium)("media in Chromium", () => {
  let browser: Browser
  let server: PeerPigeonServer
  let statics: StaticServer
  const nodes: Array<PeerPigeonMesh> = []
  const sources: Array<{ stop(): void }> = []

  const openTab = async (network: string, extra: Record<string, string> = {}): Promise<Tab> => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const page = await context.newPage()
    const errors: Array<string> = []
    page.on("pageerror", (error) => errors.push(`pageerror: ${error.message}`))
    const query = new URLSearchParams({ api: `ws://127.0.0.1:${server.port}`, network, maxPeers: "3", minPeers: "1", ...extra })
    await page.goto(`${statics.origin}/examples/browser/?${query.toString()}`)
    await page.waitForFunction(() => (globalThis as unknown as Partial<AppWindow>).getPeerPigeonState?.().peerId !== "", undefined, WAIT)
    await page.click("#connect")
    await page.waitForFunction(() => (globalThis as unknown as AppWindow).getPeerPigeonState().phase === "connected", undefined, WAIT)
    const peerId = await page.evaluate(() => (globalThis as unknown as AppWindow).getPeerPigeonState().peerId)
    return { page, peerId, errors }
  }
  const linked = (tab: Tab, peerId: string) =>
    tab.page.waitForFunction((id) => (globalThis as unknown as AppWindow).getPeerPigeonState().connectedPeers.includes(id), peerId, WAIT)

  beforeAll(async () => {
    await buildBrowser()
    server = new PeerPigeonServer({ host: "127.0.0.1", port: 0 })
    await server.start()
    statics = await startStaticServer({ root, host: "127.0.0.1", port: 0 })
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...mediaLaunchArgs] })
  }, 60_000)

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.disconnect()))
    for (const s of sources) s.stop()
    await browser?.close()
    await statics?.close()
    await server?.stop()
  }, 30_000)

  it("two tabs starting at once see each other's video; toggleVideo is seen and stops frames; a device switch does not renegotiate", async () => {
    const [a, b] = await Promise.all([openTab("media-tabs"), openTab("media-tabs")]) as [Tab, Tab]
    await Promise.all([linked(a, b.peerId), linked(b, a.peerId)])
    // Chromium's fake devices: one camera, three microphones
    const devices = await a.page.evaluate(() =>
      (globalThis as unknown as { peerPigeonMesh: { enumerateMediaDevices(): Promise<{ cameras: Array<unknown>; microphones: Array<unknown> }> } })
        .peerPigeonMesh.enumerateMediaDevices()
    )
    expect(devices.cameras).toHaveLength(1)
    expect(devices.microphones).toHaveLength(3)
    // both click "start" in the same moment: glare, settled by perfect negotiation
    await Promise.all([a.page.click("#media-start"), b.page.click("#media-start")])
    for (const [tab, other] of [[a, b], [b, a]] as const) {
      const m = await eventually("remote video playing", () => media(tab.page), (m) => m.tiles.some((t) => t.peerId === other.peerId && t.videoWidth > 0))
      expect(m.remoteStreamEvents).toBe(1)
      expect(m.tiles).toHaveLength(1)
      expect([...m.tiles[0]!.tracks].sort()).toEqual(["audio", "video"])
      const f0 = await framesFrom(tab.page, other.peerId)
      await eventually("frames rising", () => framesFrom(tab.page, other.peerId), (f) => f >= f0 + 10)
    }
    expect((await linkState(a.page))[0]!.transceivers).toBeGreaterThanOrEqual(2)

    // camera off on a: b hears of it, and b decodes no more frames from a
    await a.page.click("#media-video")
    await eventually("remoteMediaState at b", () => media(b.page), (m) => m.tiles[0]?.video === false && m.tiles[0].audio === true)
    const settled = Date.now() + 300
    await until("frames in flight decoded", () => Date.now() > settled)
    const stopped = await framesFrom(b.page, a.peerId)
    const window = Date.now() + 1000
    await until("a second without frames", () => Date.now() > window)
    expect(await framesFrom(b.page, a.peerId)).toBeLessThanOrEqual(stopped + 1)
    await a.page.click("#media-video")
    await eventually("video back at b", () => media(b.page), (m) => m.tiles[0]?.video === true)
    await eventually("frames again", () => framesFrom(b.page, a.peerId), (f) => f >= stopped + 10)

    // a switches to another camera (a canvas): no offer on either side, and b gets the new size
    const offersBefore = [(await linkState(a.page))[0]!.offers, (await linkState(b.page))[0]!.offers]
    await a.page.evaluate(async () => {
      // (no DOM lib in this project: the page's objects are typed structurally)
      interface Canvas {
        width: number
        height: number
        getContext(kind: "2d"): { fillStyle: string; fillRect(x: number, y: number, w: number, h: number): void }
        captureStream(fps: number): { getVideoTracks(): Array<unknown> }
      }
      const doc = (globalThis as unknown as { document: { createElement(tag: "canvas"): Canvas } }).document
      const canvas = Object.assign(doc.createElement("canvas"), { width: 320, height: 180 })
      const g = canvas.getContext("2d")
      setInterval(() => {
        g.fillStyle = `hsl(${Date.now() % 360} 80% 50%)`
        g.fillRect(0, 0, 320, 180)
      }, 50)
      const track = canvas.captureStream(20).getVideoTracks()[0]!
      await (globalThis as unknown as AppWindow).peerPigeonMesh.switchDevice({ videoTrack: track })
    })
    await eventually("new source at b", () => media(b.page), (m) => m.tiles[0]?.videoWidth === 320, 20_000)
    expect([(await linkState(a.page))[0]!.offers, (await linkState(b.page))[0]!.offers]).toEqual(offersBefore)
    expect((await media(b.page)).remoteStreamEvents).toBe(1)
    expect([...a.errors, ...b.errors]).toEqual([])
  }, 120_000)

  it("a call from the demo's discovered list to a tab that is not linked: accepted in the panel, video both ways", async () => {
    // no links at all (autoDiscovery off): the call is set up through the signaling server
    const [a, b] = await Promise.all([openTab("media-call", { autoDiscovery: "0" }), openTab("media-call", { autoDiscovery: "0" })]) as [Tab, Tab]
    const callButton = a.page.locator(`#discovered li[title="${b.peerId}"] button`, { hasText: "call" })
    await callButton.waitFor({ timeout: WAIT.timeout })
    await callButton.click()
    const accept = b.page.locator("#media-calls button", { hasText: "accept" })
    await accept.waitFor({ timeout: WAIT.timeout })
    await accept.click()
    for (const [tab, other] of [[a, b], [b, a]] as const) {
      await eventually("call video playing", () => media(tab.page), (m) => m.tiles.some((t) => t.peerId === other.peerId && t.videoWidth > 0))
    }
    const state = await a.page.evaluate(() => (globalThis as unknown as AppWindow).getPeerPigeonState())
    expect(state.connectedPeers).toEqual([])
    expect((await linkState(a.page)).find((p) => p.peerId === b.peerId)).toMatchObject({ sending: ["camera"] })
    expect([...a.errors, ...b.errors]).toEqual([])
  }, 90_000)

  it("a browser and a werift peer exchange media both ways", async () => {
    const tab = await openTab("media-mixed")
    const node = new PeerPigeonMesh({ networkName: "media-mixed", maxPeers: 3, minPeers: 1 })
    nodes.push(node)
    await node.init()
    const pn = await probe(node)
    await node.connect(`ws://127.0.0.1:${server.port}`)
    await until("node linked to the tab", () => connectedIds(node).includes(tab.peerId), 30_000)
    const t = await dummyTracks()
    sources.push(t)
    const stream: MediaStreamLike = { id: "dummy", getTracks: () => [t.audio, t.video] }
    await Promise.all([node.startMedia({ stream }), tab.page.click("#media-start")])
    await until("node receives the tab's camera and mic", () => pn.packets(tab.peerId, "video") > 20 && pn.packets(tab.peerId, "audio") > 20, 30_000)
    const m = await eventually("tab plays the node's video", () => media(tab.page), (m) => m.tiles.some((x) => x.peerId === node.peerId && x.videoWidth > 0))
    expect(m.tiles.find((x) => x.peerId === node.peerId)!.videoWidth).toBe(16)
    await eventually("tab decodes the node's frames", () => framesFrom(tab.page, node.peerId), (f) => f > 10)
    expect(pn.added(tab.peerId)).toBe(1)
    expect(m.remoteStreamEvents).toBe(1)
    await pn.stop()
  }, 90_000)
})
