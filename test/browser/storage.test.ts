/**
 * IndexedDB persistence in Chromium, through the demo app (examples/browser, the browser
 * bundle) and the real signaling server: a document edited while the tab has no link
 * survives a reload of the tab (same identity, same IndexedDB), and reaches the other tab,
 * itself reopened from its IndexedDB, once they link again; and the IndexedDB store module
 * on its own in a page. Skipped where /usr/bin/chromium is missing.
 *
 * Every wait is for a state (the app's `getPeerPigeonState()` / `getDocumentsState()`, the
 * tab's IndexedDB), bounded; nothing sleeps.
 */
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as esbuild from "esbuild"
import { browserOnly, buildBrowser, root } from "../../scripts/build-browser.ts"
import { startStaticServer, type StaticServer } from "../../scripts/dev-static.ts"
import { PeerPigeonServer } from "../../src/server/index.ts"
import type { IdbDatabase, IdbGlobals } from "../../src/storage/indexedDbStore.ts"
import { CHROMIUM, hasChromium, launchArgs, WAIT } from "../support/chromium.ts"

interface AppState {
  readonly phase: string
  readonly peerId: string
  readonly connectedPeers: ReadonlyArray<string>
}
interface DocState {
  readonly key: string | null
  readonly text: string | null
  readonly log: ReadonlyArray<string>
}
type AppWindow = { getPeerPigeonState(): AppState; getDocumentsState(): DocState }

const appState = (page: Page) => page.evaluate(() => (globalThis as unknown as AppWindow).getPeerPigeonState())

describe.skipIf(!hasChromium)("storage persistence in Chromium (IndexedDB)", () => {
  let browser: Browser
  let server: PeerPigeonServer
  let statics: StaticServer
  const errors: Array<string> = []

  beforeAll(async () => {
    await buildBrowser()
    server = new PeerPigeonServer({ host: "127.0.0.1", port: 0 })
    await server.start()
    statics = await startStaticServer({ root, host: "127.0.0.1", port: 0 })
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...launchArgs] })
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await statics?.close()
    await server?.stop()
  }, 30_000)

  const url = () => `${statics.origin}/examples/browser/?${new URLSearchParams({ api: `ws://127.0.0.1:${server.port}`, network: "browser-idb", maxPeers: "3", minPeers: "1" }).toString()}`

  /** The demo in `page` (loaded or reloaded), connected; its peer id. */
  const start = async (page: Page, load: () => Promise<unknown>): Promise<string> => {
    await load()
    await page.waitForFunction(() => {
      const app = (globalThis as unknown as Partial<AppWindow>).getPeerPigeonState
      return app !== undefined && app().peerId !== ""
    }, undefined, WAIT)
    await page.click("#connect")
    await page.waitForFunction(() => (globalThis as unknown as AppWindow).getPeerPigeonState().phase === "connected", undefined, WAIT)
    return (await appState(page)).peerId
  }
  const openPage = async (context: BrowserContext) => {
    const page = await context.newPage()
    page.on("pageerror", (error) => errors.push(`pageerror: ${error.message}`))
    return page
  }
  const docs = async (page: Page, op: string, key: string, peer = "") => {
    await page.fill("#doc-key", key)
    await page.fill("#doc-peer", peer)
    await page.click(`#doc-form button[data-op="${op}"]`)
  }
  const logged = (page: Page, text: string) =>
    page.waitForFunction((t) => (globalThis as unknown as AppWindow).getDocumentsState().log.some((l) => l.includes(t)), text, WAIT)
  const hasText = (page: Page, text: string) =>
    page.waitForFunction((t) => (globalThis as unknown as AppWindow).getDocumentsState().text === t, text, WAIT).catch(async (error: unknown) => {
      const state = await page.evaluate(() => (globalThis as unknown as AppWindow).getDocumentsState()).catch(() => undefined)
      const peer = await appState(page).then((s) => s.peerId, () => "?")
      const kept = await page.evaluate(async () => {
        const db = await new Promise<IdbDatabase>((resolve) => {
          const r = (globalThis as unknown as IdbGlobals).indexedDB.open("peerpigeon-storage")
          r.onsuccess = () => resolve(r.result)
        })
        const store = db.transaction("entries", "readonly").objectStore("entries")
        const keys = await new Promise<ReadonlyArray<unknown>>((resolve) => {
          const q = store.getAllKeys(undefined)
          q.onsuccess = () => resolve(q.result)
        })
        const out: Array<string> = []
        for (const k of keys) {
          const v = await new Promise<unknown>((resolve) => {
            const q = db.transaction("entries", "readonly").objectStore("entries").get(String(k))
            q.onsuccess = () => resolve(q.result)
          })
          out.push(`${String(k).slice(0, 8)}..${String(k).slice(40)}=${v instanceof Uint8Array ? v.length : typeof v}`)
        }
        db.close()
        return out
      }).catch((e: unknown) => [String(e)])
      throw new Error(`waiting for the text ${JSON.stringify(text)} at ${peer.slice(0, 8)}: ${JSON.stringify(state)}; kept ${kept.join(" ")}`, { cause: error })
    })
  const linkedTo = (page: Page, peers: ReadonlyArray<string>) =>
    page.waitForFunction(
      (ids) => {
        const linked = (globalThis as unknown as AppWindow).getPeerPigeonState().connectedPeers
        return linked.length === ids.length && ids.every((id) => linked.includes(id))
      },
      peers,
      WAIT
    )
  /** The bytes the tab's IndexedDB holds under `name`, as text (a Yjs update holds inserted text as UTF-8). */
  const keptText = (page: Page, name: string) =>
    page.evaluate(async (name) => {
      const db = await new Promise<IdbDatabase>((resolve, reject) => {
        const r = (globalThis as unknown as IdbGlobals).indexedDB.open("peerpigeon-storage")
        r.onsuccess = () => resolve(r.result)
        r.onerror = () => reject(new Error(String(r.error)))
      })
      try {
        const value = await new Promise<unknown>((resolve, reject) => {
          const q = db.transaction("entries", "readonly").objectStore("entries").get(name)
          q.onsuccess = () => resolve(q.result)
          q.onerror = () => reject(new Error(String(q.error)))
        })
        return value instanceof Uint8Array ? new TextDecoder().decode(value) : null
      } finally {
        db.close()
      }
    }, name)
  /** Resolves once the tab's IndexedDB holds, under its peer id, a document state containing `text` (checked every 50 ms). */
  const savedInIndexedDb = async (page: Page, peerId: string, key: string, text: string) => {
    const deadline = Date.now() + WAIT.timeout
    for (;;) {
      const last = await keptText(page, `${peerId}/d/${key}`)
      if (last?.includes(text) === true) return
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${JSON.stringify(text)} in IndexedDB; kept ${JSON.stringify(last)}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  it("an edit made with no link survives a reload and reaches the other tab once they link again", async () => {
    const a = await browser.newContext()
    const b = await browser.newContext()
    const pageA = await openPage(a)
    const idA = await start(pageA, () => pageA.goto(url()))
    let pageB = await openPage(b)
    const idB = await start(pageB, () => pageB.goto(url()))
    await linkedTo(pageA, [idB])

    await docs(pageA, "create", "doc/offline")
    await logged(pageA, "created doc/offline v1")
    await docs(pageA, "grant", "doc/offline", idB)
    await logged(pageA, "granted")
    await docs(pageA, "open", "doc/offline")
    await logged(pageA, "opened doc/offline")
    await docs(pageB, "open", "doc/offline")
    await logged(pageB, "opened doc/offline")
    await pageA.fill("#doc-text", "typed online")
    await hasText(pageB, "typed online")
    await savedInIndexedDb(pageB, idB, "doc/offline", "typed online")

    // B's tab closes (its context, with its IndexedDB, stays): A has no link at all
    await pageB.close()
    await linkedTo(pageA, [])
    await pageA.fill("#doc-text", "typed online, then offline")
    await savedInIndexedDb(pageA, idA, "doc/offline", "then offline")

    // A reloads: the same peer (its identity is kept in IndexedDB), its edit still there
    const again = await start(pageA, () => pageA.reload())
    expect(again).toBe(idA)
    await docs(pageA, "open", "doc/offline")
    await logged(pageA, "opened doc/offline")
    await hasText(pageA, "typed online, then offline")

    // B comes back in a new tab of its context: the same peer, its copy from IndexedDB, then A's offline edit
    pageB = await openPage(b)
    const idB2 = await start(pageB, () => pageB.goto(url()))
    expect(idB2).toBe(idB)
    await docs(pageB, "open", "doc/offline")
    await logged(pageB, "opened doc/offline")
    await hasText(pageB, "typed online, then offline")
    // and B's next edit reaches A
    await pageB.fill("#doc-text", "typed online, then offline, and back")
    await hasText(pageA, "typed online, then offline, and back")
    expect(errors).toEqual([])
    await a.close()
    await b.close()
  }, 120_000)

  it("the IndexedDB store itself: bytes round-trip, lists match prefixes exactly, removes, and keeps peers apart", async () => {
    // the store module alone, bundled for the page
    const built = await esbuild.build({
      stdin: {
        contents: `import { Effect } from "effect"
import { makeIndexedDbStore } from "./src/storage/indexedDbStore.ts"
globalThis.checkIndexedDbStore = () => Effect.runPromise(Effect.scoped(Effect.gen(function*() {
  const a = yield* makeIndexedDbStore("a".repeat(40))
  const b = yield* makeIndexedDbStore("b".repeat(40))
  yield* a.save("d/x", new Uint8Array([1, 2, 3]))
  yield* a.save("d/x/y", new Uint8Array([4]))
  yield* a.save("dx", new Uint8Array([5]))
  yield* a.save("r/x", new Uint8Array(0))
  yield* b.save("d/x", new Uint8Array([9]))
  const buffer = new Uint8Array([7, 7])
  yield* a.save("k/0/x", buffer)
  buffer[0] = 0
  const listed = [...(yield* a.list("d/"))].sort()
  const loaded = Array.from((yield* a.load("d/x")) ?? [])
  const kept = Array.from((yield* a.load("k/0/x")) ?? [])
  const empty = (yield* a.load("r/x"))?.length
  const theirs = Array.from((yield* b.load("d/x")) ?? [])
  const theirList = [...(yield* b.list(""))]
  yield* a.remove("d/x")
  const afterRemove = [...(yield* a.list("d/"))]
  const gone = (yield* a.load("d/x")) === undefined
  const missing = (yield* a.load("nothing")) === undefined
  return { listed, loaded, kept, empty, theirs, theirList, afterRemove, gone, missing }
})))`,
        resolveDir: root,
        loader: "ts"
      },
      bundle: true,
      format: "iife",
      platform: "browser",
      target: "es2022",
      write: false,
      plugins: [browserOnly]
    })
    const context = await browser.newContext()
    const page = await openPage(context)
    // any page of the origin: IndexedDB belongs to it
    await page.goto(`${statics.origin}/package.json`)
    await page.addScriptTag({ content: built.outputFiles[0]!.text })
    const result = await page.evaluate(() => (globalThis as unknown as { checkIndexedDbStore(): Promise<unknown> }).checkIndexedDbStore())
    expect(result).toEqual({
      listed: ["d/x", "d/x/y"],
      loaded: [1, 2, 3],
      kept: [7, 7],
      empty: 0,
      theirs: [9],
      theirList: ["d/x"],
      afterRemove: ["d/x/y"],
      gone: true,
      missing: true
    })
    expect(errors).toEqual([])
    await context.close()
  }, 60_000)

  it("tabs open at once in one browser profile are different peers; a reloaded tab takes its own identity back", async () => {
    const context = await browser.newContext()
    const first = await openPage(context)
    const second = await openPage(context)
    const peerOf = async (page: Page) => {
      await page.waitForFunction(() => {
        const app = (globalThis as unknown as Partial<AppWindow>).getPeerPigeonState
        return app !== undefined && app().peerId !== ""
      }, undefined, WAIT)
      return (await appState(page)).peerId
    }
    await first.goto(url())
    const one = await peerOf(first)
    await second.goto(url())
    const two = await peerOf(second)
    expect(two).not.toBe(one)
    await first.reload()
    expect(await peerOf(first)).toBe(one)
    await second.reload()
    expect(await peerOf(second)).toBe(two)
    expect(errors).toEqual([])
    await context.close()
  }, 60_000)
})
