/**
 * End to end in Chromium: the demo app (examples/browser) over the browser bundle, in tabs
 * of separate browser contexts, through the real signaling server; and a mixed mesh of tabs
 * and Node (werift) peers. Skipped where /usr/bin/chromium is missing (.ci/run installs it).
 *
 * Every wait is for a state (the app's `getPeerPigeonState()`), bounded; nothing sleeps.
 */
import { mkdir } from "node:fs/promises"
import { type Browser, chromium, type Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { buildBrowser, root } from "../../scripts/build-browser.ts"
import { startStaticServer, type StaticServer } from "../../scripts/dev-static.ts"
import { PeerPigeonMesh, type PeerPigeonMeshEvents } from "../../src/index.ts"
import { PeerPigeonServer } from "../../src/server/index.ts"
import { connectedIds, until } from "../support/facade.ts"
import { CHROMIUM, hasChromium, launchArgs, WAIT } from "../support/chromium.ts"

if (!hasChromium) {
  console.warn(`test/browser: ${CHROMIUM} not found, so the browser end-to-end tests are skipped (apt-get install -y chromium)`)
}

/** The slice of the app's `getPeerPigeonState()` the tests read. */
interface AppState {
  readonly phase: string
  readonly peerId: string
  readonly connectedPeers: ReadonlyArray<string>
  readonly status: {
    readonly connected: boolean
    readonly connectedCount: number
    readonly transport: string
    readonly maxPeers: number
    readonly minPeers: number
  }
  readonly messages: ReadonlyArray<{ readonly from: string; readonly text: string; readonly direct: boolean; readonly mine: boolean }>
  readonly topology: { readonly nodes: ReadonlyArray<unknown>; readonly edges: ReadonlyArray<{ readonly kind: string }> }
}
type AppWindow = { getPeerPigeonState(): AppState }

interface Tab {
  readonly page: Page
  readonly peerId: string
  readonly errors: Array<string>
  close(): Promise<void>
}

const MAX_PEERS = 3
const MIN_PEERS = 2

const appState = (page: Page): Promise<AppState> =>
  page.evaluate(() => (globalThis as unknown as AppWindow).getPeerPigeonState())

/** True when the union of the links the peers report is one connected graph over `ids`. */
const isConnectedGraph = (ids: ReadonlyArray<string>, links: ReadonlyMap<string, ReadonlyArray<string>>): boolean => {
  const adjacency = new Map(ids.map((id) => [id, new Set<string>()]))
  for (const [a, peers] of links) {
    for (const b of peers) {
      adjacency.get(a)?.add(b)
      adjacency.get(b)?.add(a)
    }
  }
  const seen = new Set([ids[0]!])
  const stack = [ids[0]!]
  while (stack.length > 0) {
    for (const n of adjacency.get(stack.pop()!) ?? []) if (!seen.has(n)) {
      seen.add(n)
      stack.push(n)
    }
  }
  return ids.every((id) => seen.has(id))
}

/** Resolves once `check` resolves true (re-checked every 100 ms); rejects after `timeoutMs` with `detail()`. */
const poll = async (what: string, check: () => Promise<boolean>, detail: () => string, timeoutMs = 45_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}; ${detail()}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** Waits until every peer has links within bounds, to live members only, and together they form one mesh. */
const waitForMesh = async (
  tabs: ReadonlyArray<Tab>,
  nodes: ReadonlyArray<PeerPigeonMesh> = [],
  bounds = { min: MIN_PEERS, max: MAX_PEERS }
): Promise<void> => {
  const ids = [...tabs.map((t) => t.peerId), ...nodes.map((n) => n.peerId)]
  const lower = Math.min(bounds.min, ids.length - 1)
  let links = new Map<string, ReadonlyArray<string>>()
  await poll(
    `one mesh of ${ids.length} within bounds`,
    async () => {
      const states = await Promise.all(tabs.map((t) => appState(t.page)))
      links = new Map(states.map((s, i) => [tabs[i]!.peerId, s.connectedPeers]))
      for (const n of nodes) links.set(n.peerId, connectedIds(n))
      return [...links.values()].every((peers) =>
        peers.length >= lower && peers.length <= bounds.max && peers.every((p) => ids.includes(p))
      ) && isConnectedGraph(ids, links)
    },
    () => `links: ${JSON.stringify([...links].map(([id, peers]) => [id.slice(0, 6), peers.map((p) => p.slice(0, 6))]))}`
  )
}

describe.skipIf(!hasChromium)("the demo app in Chromium", () => {
  let browser: Browser
  let server: PeerPigeonServer
  let statics: StaticServer
  const tabs: Array<Tab> = []
  const nodes: Array<PeerPigeonMesh> = []

  const openTab = async (network: string): Promise<Tab> => {
    const context = await browser.newContext({ viewport: { width: 1440, height: 960 } })
    const page = await context.newPage()
    const errors: Array<string> = []
    page.on("pageerror", (error) => errors.push(`pageerror: ${error.message}`))
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(`console.error: ${message.text()}`)
    })
    const query = new URLSearchParams({
      api: `ws://127.0.0.1:${server.port}`,
      network,
      maxPeers: String(MAX_PEERS),
      minPeers: String(MIN_PEERS)
    })
    await page.goto(`${statics.origin}/examples/browser/?${query.toString()}`)
    await page.waitForFunction(() => {
      const app = (globalThis as unknown as Partial<AppWindow>).getPeerPigeonState
      return app !== undefined && app().peerId !== ""
    }, undefined, WAIT)
    await page.click("#connect")
    await page.waitForFunction(() => (globalThis as unknown as AppWindow).getPeerPigeonState().phase === "connected", undefined, WAIT)
    const { peerId } = await appState(page)
    // The page first, as a user closes a tab: it tears its connections down and the others
    // see the links close at once. Closing only the context was seen (under load) to leave
    // links up until ICE failed, 15-45 s later: the mesh has no link-level liveness check.
    return {
      page,
      peerId,
      errors,
      close: async () => {
        await page.close()
        await context.close()
      }
    }
  }

  /** Sends a chat message through the app's form (target "" = broadcast). */
  const chat = async (tab: Tab, text: string, target = ""): Promise<void> => {
    if (target !== "") {
      await tab.page.locator(`#chat-target option[value="${target}"]`).waitFor({ state: "attached", timeout: WAIT.timeout })
    }
    await tab.page.selectOption("#chat-target", target)
    await tab.page.fill("#chat-input", text)
    await tab.page.click("#chat-send")
  }

  const received = (tab: Tab, text: string) =>
    tab.page.waitForFunction(
      (t) => (globalThis as unknown as AppWindow).getPeerPigeonState().messages.some((m) => !m.mine && m.text === t),
      text,
      WAIT
    )

  const receivedCount = async (tab: Tab, text: string): Promise<number> =>
    (await appState(tab.page)).messages.filter((m) => !m.mine && m.text === text).length

  beforeAll(async () => {
    await buildBrowser()
    server = new PeerPigeonServer({ host: "127.0.0.1", port: 0 })
    await server.start()
    statics = await startStaticServer({ root, host: "127.0.0.1", port: 0 })
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...launchArgs] })
  }, 60_000)

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.disconnect()))
    await browser?.close()
    await statics?.close()
    await server?.stop()
  }, 30_000)

  it("four tabs in separate browser contexts join one mesh through the real server", async () => {
    tabs.push(...await Promise.all([0, 1, 2, 3].map(() => openTab("browser-e2e"))))
    expect(new Set(tabs.map((t) => t.peerId)).size).toBe(4)
    await waitForMesh(tabs)
    for (const tab of tabs) {
      const s = await appState(tab.page)
      expect(s.status).toMatchObject({ connected: true, transport: "webrtc" })
    }
  }, 90_000)

  it("a chat broadcast from one tab appears in all the others, once", async () => {
    await chat(tabs[0]!, "hello from tab 0")
    await Promise.all(tabs.slice(1).map((tab) => received(tab, "hello from tab 0")))
    for (const tab of tabs.slice(1)) {
      expect(await receivedCount(tab, "hello from tab 0")).toBe(1)
      const m = (await appState(tab.page)).messages.find((x) => x.text === "hello from tab 0")!
      expect(m).toMatchObject({ from: tabs[0]!.peerId, direct: false })
    }
  }, 60_000)

  it("a direct message reaches its target only", async () => {
    const [from, , to] = tabs as [Tab, Tab, Tab, Tab]
    await chat(from, "psst, tab 2", to.peerId)
    await received(to, "psst, tab 2")
    const m = (await appState(to.page)).messages.find((x) => x.text === "psst, tab 2")!
    expect(m).toMatchObject({ from: from.peerId, direct: true })
    // the others saw the broadcast above, so they are live; and none got this one
    for (const tab of [tabs[1]!, tabs[3]!]) expect(await receivedCount(tab, "psst, tab 2")).toBe(0)

    // the picture for the README: four peers, their links, and some chat
    const pairs = new Set<string>()
    for (const tab of tabs) {
      for (const p of (await appState(tab.page)).connectedPeers) pairs.add([tab.peerId, p].sort().join("-"))
    }
    await from.page.waitForFunction(
      (links) => {
        const { topology } = (globalThis as unknown as AppWindow).getPeerPigeonState()
        return topology.nodes.length === 4 && topology.edges.filter((e) => e.kind !== "connecting").length >= links
      },
      pairs.size,
      WAIT
    )
    await mkdir(`${root}test-artifacts`, { recursive: true })
    await from.page.screenshot({ path: `${root}test-artifacts/browser-four-peers.png`, fullPage: true })
  }, 60_000)

  it("an encrypted direct message between tabs (X25519 over WebCrypto in Chromium), as 1.x code calls it", async () => {
    const [from, , , to] = tabs as [Tab, Tab, Tab, Tab]
    type CryptoWindow = {
      peerPigeonMesh: {
        addEventListener(e: string, f: (m: { content: unknown; encrypted: boolean; from: string }) => void): void
        sendEncryptedMessage(peerId: string, content: unknown): Promise<string>
        cryptoManager: { getPublicKey(): string | null }
      }
      sealed?: Array<{ content: unknown; encrypted: boolean; from: string }>
    }
    await to.page.evaluate(() => {
      const w = globalThis as unknown as CryptoWindow
      w.sealed = []
      w.peerPigeonMesh.addEventListener("messageReceived", (m) => {
        if (m.encrypted) w.sealed!.push({ content: m.content, encrypted: m.encrypted, from: m.from })
      })
    })
    expect(await from.page.evaluate(() => (globalThis as unknown as CryptoWindow).peerPigeonMesh.cryptoManager.getPublicKey())).toMatch(/^[\w-]{43}$/)
    await from.page.evaluate((target) => (globalThis as unknown as CryptoWindow).peerPigeonMesh.sendEncryptedMessage(target, { text: "sealed in chromium" }), to.peerId)
    await to.page.waitForFunction(() => ((globalThis as unknown as CryptoWindow).sealed ?? []).length > 0, undefined, WAIT)
    const got = await to.page.evaluate(() => (globalThis as unknown as CryptoWindow).sealed)
    expect(got).toEqual([{ content: { text: "sealed in chromium" }, encrypted: true, from: from.peerId }])
    await received(to, "sealed in chromium")
  }, 60_000)

  it("the DHT panel: a value put in one tab is read in another, and a subscriber sees the update", async () => {
    const [writer, reader, watcher] = tabs as [Tab, Tab, Tab, Tab]
    const dht = async (tab: Tab, op: string, key: string, value = "") => {
      await tab.page.fill("#dht-key", key)
      await tab.page.fill("#dht-value", value)
      await tab.page.click(`#dht-form button[data-op="${op}"]`)
    }
    const logged = (tab: Tab, text: string) =>
      tab.page.waitForFunction((t) => ((globalThis as unknown as { document: { getElementById(id: string): { textContent: string | null } | null } }).document.getElementById("dht-log")?.textContent ?? "").includes(t), text, WAIT)
    await dht(writer, "put", "e2e/topic", '{"title":"hello"}')
    await logged(writer, "put e2e/topic -> v1")
    await dht(reader, "get", "e2e/topic")
    await logged(reader, 'get e2e/topic = {"title":"hello"}')
    await dht(watcher, "subscribe", "e2e/topic")
    await logged(watcher, "subscribed to e2e/topic")
    await dht(writer, "update", "e2e/topic", '{"title":"updated"}')
    await logged(watcher, 'changed e2e/topic v2')
    await logged(watcher, '{"title":"updated"}')
    // another tab may not change it
    await dht(reader, "update", "e2e/topic", '"hijack"')
    await logged(reader, "update e2e/topic failed")
  }, 60_000)

  it("the Documents panel: two tabs edit one shared document and converge; a tab without a grant sees nothing", async () => {
    const [owner, editor, outsider] = tabs as [Tab, Tab, Tab, Tab]
    type DocState = { readonly key: string | null; readonly text: string | null; readonly log: ReadonlyArray<string> }
    const docs = async (tab: Tab, op: string, key: string, peer = "") => {
      await tab.page.fill("#doc-key", key)
      await tab.page.fill("#doc-peer", peer)
      await tab.page.click(`#doc-form button[data-op="${op}"]`)
    }
    const docState = (tab: Tab) => tab.page.evaluate(() => (globalThis as unknown as { getDocumentsState(): DocState }).getDocumentsState())
    const logged = (tab: Tab, text: string) =>
      tab.page.waitForFunction((t) => (globalThis as unknown as { getDocumentsState(): DocState }).getDocumentsState().log.some((l) => l.includes(t)), text, WAIT)
    const hasText = (tab: Tab, text: string) =>
      tab.page.waitForFunction((t) => (globalThis as unknown as { getDocumentsState(): DocState }).getDocumentsState().text === t, text, WAIT)
    await docs(owner, "create", "doc/e2e")
    await logged(owner, "created doc/e2e v1")
    await docs(owner, "grant", "doc/e2e", editor.peerId)
    await logged(owner, "granted")
    await docs(owner, "open", "doc/e2e")
    await logged(owner, "opened doc/e2e")
    await docs(editor, "open", "doc/e2e")
    await logged(editor, "opened doc/e2e")
    await owner.page.fill("#doc-text", "hello")
    await hasText(editor, "hello")
    // both type at once: the edits merge the same way in both tabs
    await Promise.all([owner.page.fill("#doc-text", "hello from owner"), editor.page.fill("#doc-text", "editor says hello")])
    await hasText(owner, "editor says hello from owner")
    await hasText(editor, "editor says hello from owner")
    expect(await editor.page.inputValue("#doc-text")).toBe("editor says hello from owner")
    // a tab without a grant cannot open it
    await docs(outsider, "open", "doc/e2e")
    await logged(outsider, "open doc/e2e failed")
    expect((await docState(outsider)).text).toBeNull()
  }, 60_000)

  it("settings changed at run time in the panel take effect: maxPeers 2 trims every tab's links", async () => {
    const setting = async (tab: Tab, id: string, value: string) => {
      await tab.page.fill(id, value)
      await tab.page.locator(id).dispatchEvent("change")
    }
    await Promise.all(tabs.map(async (tab) => {
      await setting(tab, "#min-peers", "1")
      await setting(tab, "#max-peers", "2")
    }))
    for (const tab of tabs) expect((await appState(tab.page)).status).toMatchObject({ maxPeers: 2, minPeers: 1 })
    await waitForMesh(tabs, [], { min: 1, max: 2 })
  }, 90_000)

  it("after one tab closes, the others heal: still one mesh, within bounds", async () => {
    // with at most two links each, the four tabs form a line or a ring: losing a tab can
    // strand or split the others, who must then link up anew
    const gone = tabs.pop()!
    await gone.close()
    await waitForMesh(tabs, [], { min: 1, max: 2 })
    for (const tab of tabs) expect((await appState(tab.page)).connectedPeers).not.toContain(gone.peerId)
    await chat(tabs[1]!, "after the heal")
    await Promise.all([tabs[0]!, tabs[2]!].map((tab) => received(tab, "after the heal")))
  }, 90_000)

  it("a mixed mesh of tabs and Node (werift) peers exchanges broadcasts both ways", async () => {
    const mixedTabs = await Promise.all([0, 1].map(() => openTab("mixed")))
    tabs.push(...mixedTabs)
    const inbox = new Map<string, Array<PeerPigeonMeshEvents["messageReceived"]>>()
    for (let i = 0; i < 2; i++) {
      const node = new PeerPigeonMesh({ networkName: "mixed", maxPeers: MAX_PEERS, minPeers: MIN_PEERS })
      await node.init()
      const box: Array<PeerPigeonMeshEvents["messageReceived"]> = []
      inbox.set(node.peerId, box)
      node.addEventListener("messageReceived", (m) => box.push(m))
      nodes.push(node)
    }
    await Promise.all(nodes.map((n) => n.connect(`ws://127.0.0.1:${server.port}`)))
    await waitForMesh(mixedTabs, nodes)
    // at least one browser-werift link, or this would not test the mix
    const tabIds = new Set(mixedTabs.map((t) => t.peerId))
    expect(nodes.some((n) => connectedIds(n).some((id) => tabIds.has(id)))).toBe(true)

    nodes[0]!.sendMessage({ type: "chat", text: "hello from node" })
    await Promise.all(mixedTabs.map((tab) => received(tab, "hello from node")))

    await chat(mixedTabs[0]!, "hello from the browser")
    const gotIt = (n: PeerPigeonMesh) =>
      inbox.get(n.peerId)!.some((m) => (m.content as { text?: string } | null)?.text === "hello from the browser")
    await until("the Node peers got the browser's broadcast", () => nodes.every(gotIt), 30_000)
    for (const n of nodes) {
      const m = inbox.get(n.peerId)!.find((x) => (x.content as { text?: string } | null)?.text === "hello from the browser")!
      expect(m).toMatchObject({ from: mixedTabs[0]!.peerId, direct: false, verified: true })
    }
    // the other tab gets it too (it may come after the Node peers did): wait for it, then
    // check it came once
    await received(mixedTabs[1]!, "hello from the browser")
    expect(await receivedCount(mixedTabs[1]!, "hello from the browser")).toBe(1)
  }, 90_000)

  it("no tab threw or logged an error", () => {
    expect(tabs.flatMap((t) => t.errors)).toEqual([])
  })
})
