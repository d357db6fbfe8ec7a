/**
 * The PeerPigeon demo app: one mesh peer in a page, with its links, a topology graph, chat,
 * settings and a debug switch. Built by scripts/build-browser.ts into dist/browser/app.js,
 * which imports the library bundle (dist/browser/peerpigeon.js) as an ES module.
 *
 * Query parameters: `api` (signaling URL), `network`, `maxPeers`, `minPeers`,
 * `autoDiscovery`, `evictionStrategy`, `xorRouting` (`0`/`1`), `debug=1`.
 *
 * For the console: `window.peerPigeonMesh` is the mesh, `window.getPeerPigeonState()` a
 * plain snapshot of everything shown.
 */
import { DebugLogger, meshDefaults, PeerId, PeerPigeonMesh, type PeerPigeonMeshEvents, type PeerPigeonMeshOptions } from "peerpigeon"
import { attachMedia, callPeer, mediaSnapshot, setupMediaPanel } from "./media.ts"
import { startDocumentsPanel } from "./documents.ts"

// ---------------------------------------------------------------------------------------------
// Model

/** What the user asked for and how far it got; "reconnecting" is derived (connected, signaling lost). */
type Phase = "idle" | "connecting" | "connected" | "reconnecting" | "disconnecting" | "error"

interface ChatEntry {
  readonly messageId: string
  readonly from: string
  /** The target of a direct message we sent. */
  readonly to: string | undefined
  readonly direct: boolean
  readonly hops: number
  readonly text: string
  readonly content: unknown
  readonly timestamp: number
  readonly verified: boolean
  readonly mine: boolean
}

interface EventEntry {
  readonly at: number
  readonly type: string
  readonly text: string
}

/** A peer's own links, as it last broadcast them (app-level `topology` messages). */
interface Report {
  readonly peers: ReadonlyArray<string>
  readonly at: number
}

interface Settings {
  maxPeers: number
  minPeers: number
  autoDiscovery: boolean
  evictionStrategy: boolean
  xorRouting: boolean
  shareTopology: boolean
  debug: boolean
}

/** Reports older than this are dropped from the graph. */
const REPORT_TTL_MS = 15_000
/** Links are re-broadcast this often (and at once when they change). */
const REPORT_INTERVAL_MS = 5_000
const MAX_MESSAGES = 500
const MAX_EVENTS = 200

const params = new URLSearchParams(location.search)
const boolParam = (name: string, fallback: boolean): boolean => {
  const v = params.get(name)
  return v === null ? fallback : v === "1" || v === "true"
}
const intParam = (name: string, fallback: number): number => {
  const v = Number(params.get(name) ?? "")
  return params.get(name) !== null && Number.isFinite(v) ? v : fallback
}

const defaultSignalingUrl = (): string => {
  const fromServer = document.querySelector<HTMLMetaElement>('meta[name="peerpigeon-signaling"]')?.content
  if (fromServer) return fromServer
  return `ws://${location.hostname || "localhost"}:3000`
}

const settings: Settings = {
  maxPeers: intParam("maxPeers", meshDefaults.maxPeers),
  minPeers: intParam("minPeers", meshDefaults.minPeers),
  autoDiscovery: boolParam("autoDiscovery", meshDefaults.autoDiscovery),
  evictionStrategy: boolParam("evictionStrategy", meshDefaults.evictionStrategy),
  xorRouting: boolParam("xorRouting", meshDefaults.xorRouting),
  shareTopology: boolParam("shareTopology", true),
  debug: boolParam("debug", false)
}

const state = {
  phase: "idle" as Phase,
  error: undefined as string | undefined,
  signalingUrl: params.get("api") ?? defaultSignalingUrl(),
  networkName: params.get("network") ?? meshDefaults.networkName,
  messages: [] as Array<ChatEntry>,
  events: [] as Array<EventEntry>,
  reports: new Map<string, Report>(),
  selected: "" as string
}

let mesh = createMesh()
let reportTimer: ReturnType<typeof setInterval> | undefined

function meshOptions(): PeerPigeonMeshOptions {
  const { maxPeers, minPeers, autoDiscovery, evictionStrategy, xorRouting } = settings
  // presence every 2 s: a split mesh (after a tab closes) rejoins within seconds
  return { networkName: state.networkName, maxPeers, minPeers, autoDiscovery, evictionStrategy, xorRouting, presenceInterval: 2000 }
}

/** A mesh for the current network name and settings, with the app's listeners attached. */
function createMesh(): PeerPigeonMesh {
  const m = new PeerPigeonMesh(meshOptions())
  const log = (type: string, text: string) => {
    state.events.push({ at: Date.now(), type, text })
    if (state.events.length > MAX_EVENTS) state.events.splice(0, state.events.length - MAX_EVENTS)
    render()
  }
  m.addEventListener("statusChanged", ({ type, message }) => log(type, message))
  m.addEventListener("peerDiscovered", ({ peerId }) => log("peerDiscovered", short(peerId)))
  m.addEventListener("peerConnected", ({ peerId, verified }) => {
    log("peerConnected", `${short(peerId)}${verified ? " (verified)" : ""}`)
    scheduleReport()
  })
  m.addEventListener("peerDisconnected", ({ peerId, reason }) => {
    log("peerDisconnected", `${short(peerId)}: ${reason}`)
    scheduleReport()
  })
  m.addEventListener("peerEvicted", ({ peerId, by, reason }) => log("peerEvicted", `${short(peerId)} by ${short(by)}: ${reason}`))
  m.addEventListener("messageReceived", onMessage)
  m.addEventListener("messageFailed", ({ messageId, reason }) => {
    state.error = `send failed: ${reason}`
    log("messageFailed", `${messageId}: ${reason}`)
  })
  m.addEventListener("dhtValueChanged", ({ key, newValue, version, publisher }) => {
    dhtLog(`changed ${key} v${version} by ${short(publisher)}: ${JSON.stringify(newValue)}`)
    log("dhtValueChanged", `${key} v${version}`)
  })
  window.peerPigeonMesh = m
  attachMedia(m)
  return m
}

function onMessage(m: PeerPigeonMeshEvents["messageReceived"]): void {
  const content = m.content as unknown
  if (isRecord(content) && content["type"] === "topology" && Array.isArray(content["peers"])) {
    const peers = content["peers"].filter((p): p is string => typeof p === "string" && PeerId.isPeerIdString(p))
    state.reports.set(m.from, { peers, at: Date.now() })
    render()
    return
  }
  addMessage({
    messageId: m.messageId,
    from: m.from,
    to: undefined,
    direct: m.direct,
    hops: m.hops,
    text: textOf(content),
    content,
    timestamp: m.timestamp,
    verified: m.verified,
    mine: false
  })
}

function addMessage(entry: ChatEntry): void {
  state.messages.push(entry)
  if (state.messages.length > MAX_MESSAGES) state.messages.splice(0, state.messages.length - MAX_MESSAGES)
  render()
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)
const textOf = (content: unknown): string =>
  isRecord(content) && typeof content["text"] === "string" ? content["text"] : typeof content === "string" ? content : JSON.stringify(content)
const short = (id: string) => id.slice(0, 8)

// ---------------------------------------------------------------------------------------------
// Actions

async function connect(): Promise<void> {
  if (state.phase === "connecting" || state.phase === "connected") return
  state.signalingUrl = el<HTMLInputElement>("signaling-url").value.trim()
  const network = el<HTMLInputElement>("network-name").value.trim() || meshDefaults.networkName
  if (network !== mesh.networkName) {
    // the network is fixed per mesh: a new one (with a new key) for another network
    await mesh.disconnect().catch(() => undefined)
    state.networkName = network
    mesh = createMesh()
    await mesh.init().catch(() => undefined)
  }
  state.phase = "connecting"
  state.error = undefined
  render()
  try {
    await mesh.connect(state.signalingUrl)
    state.phase = "connected"
    reportTimer = setInterval(() => sendReport(), REPORT_INTERVAL_MS)
    sendReport()
  } catch (error) {
    state.phase = "error"
    state.error = `connect failed: ${errorText(error)}`
    await mesh.disconnect().catch(() => undefined)
  }
  render()
}

async function disconnect(): Promise<void> {
  if (state.phase === "idle" || state.phase === "disconnecting") return
  state.phase = "disconnecting"
  clearInterval(reportTimer)
  render()
  await mesh.disconnect().catch((error: unknown) => (state.error = `disconnect: ${errorText(error)}`))
  state.phase = "idle"
  state.reports.clear()
  render()
}

function sendChat(text: string, target: string): void {
  const content = { type: "chat", text }
  try {
    // the id comes back at once; a failure arrives later as "messageFailed"
    const messageId = target === "" ? mesh.sendMessage(content) : mesh.sendDirectMessage(target, content)
    addMessage({
      messageId,
      from: mesh.peerId,
      to: target === "" ? undefined : target,
      direct: target !== "",
      hops: 0,
      text,
      content,
      timestamp: Date.now(),
      verified: true,
      mine: true
    })
  } catch (error) {
    state.error = `send failed: ${errorText(error)}`
    render()
  }
}

let reportScheduled: ReturnType<typeof setTimeout> | undefined
function scheduleReport(): void {
  clearTimeout(reportScheduled)
  reportScheduled = setTimeout(() => sendReport(), 200)
}

/** Broadcasts our links so every app can draw the whole mesh (app-level, not part of the library). */
function sendReport(): void {
  if (!settings.shareTopology || state.phase !== "connected") return
  const peers = connectedPeers()
  mesh.sendMessage({ type: "topology", peers })
}

/** Applies the one setting that changed (each setter reconfigures the running mesh). */
function applySetting(id: string): void {
  const input = el<HTMLInputElement>(id)
  switch (id) {
    case "max-peers":
      settings.maxPeers = mesh.setMaxPeers(Number(input.value))
      // minPeers is clamped to maxPeers
      settings.minPeers = mesh.getStatus().minPeers
      break
    case "min-peers":
      settings.minPeers = mesh.setMinPeers(Number(input.value))
      break
    case "auto-discovery":
      mesh.setAutoDiscovery(settings.autoDiscovery = input.checked)
      break
    case "eviction-strategy":
      mesh.setEvictionStrategy(settings.evictionStrategy = input.checked)
      break
    case "xor-routing":
      mesh.setXorRouting(settings.xorRouting = input.checked)
      break
    case "share-topology":
      settings.shareTopology = input.checked
      if (settings.shareTopology) sendReport()
      break
    case "debug-log":
      settings.debug = input.checked
      if (settings.debug) DebugLogger.enableAll()
      else DebugLogger.disableAll()
      break
  }
  // show the values in force (clamped)
  el<HTMLInputElement>("max-peers").value = String(settings.maxPeers)
  el<HTMLInputElement>("min-peers").value = String(settings.minPeers)
  render()
}

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error))

// ---------------------------------------------------------------------------------------------
// Derived state

/** The links survive a signaling outage; the library reconnects by itself meanwhile. */
const phase = (): Phase => (state.phase === "connected" && !mesh.getStatus().connected ? "reconnecting" : state.phase)

const connectedPeers = (): Array<string> => mesh.getPeers()

/** The XOR distance to us as 40 hex digits, and its Kademlia bucket (159 = farthest half). */
const xor = (peerId: string) => {
  const self = mesh.peerId
  if (self === "") return { hex: "", bucket: -1 }
  return {
    hex: PeerId.distance(self, peerId).toString(16).padStart(40, "0"),
    bucket: 159 - PeerId.commonPrefixLength(self, peerId)
  }
}

interface Topology {
  readonly nodes: ReadonlyArray<{ readonly peerId: string; readonly self: boolean; readonly linked: boolean }>
  readonly edges: ReadonlyArray<{ readonly a: string; readonly b: string; readonly kind: "connected" | "connecting" | "remote" }>
}

/** Our links, plus the links other peers reported recently. */
function topology(): Topology {
  const self = mesh.peerId
  const now = Date.now()
  for (const [id, report] of state.reports) if (now - report.at > REPORT_TTL_MS) state.reports.delete(id)
  const links = mesh.getPeerDetails()
  const nodes = new Map<string, { peerId: string; self: boolean; linked: boolean }>()
  const add = (peerId: string, linked = false) => {
    const known = nodes.get(peerId)
    nodes.set(peerId, { peerId, self: peerId === self, linked: linked || (known?.linked ?? false) })
  }
  if (self !== "") add(self)
  const edges = new Map<string, { a: string; b: string; kind: "connected" | "connecting" | "remote" }>()
  const key = (a: string, b: string) => (a < b ? `${a}-${b}` : `${b}-${a}`)
  for (const link of links) {
    add(link.peerId, true)
    edges.set(key(self, link.peerId), { a: self, b: link.peerId, kind: link.status })
  }
  if (state.phase === "connected") {
    for (const d of mesh.getDiscoveredPeers()) add(d.peerId)
  }
  for (const [from, report] of state.reports) {
    add(from)
    for (const to of report.peers) {
      if (from === self || to === self) continue // our own links are known first-hand
      add(to)
      const k = key(from, to)
      if (!edges.has(k)) edges.set(k, { a: from, b: to, kind: "remote" })
    }
  }
  return { nodes: [...nodes.values()], edges: [...edges.values()] }
}

/** Everything the page shows, as plain data (for the console and for tests). */
function snapshot() {
  const status = mesh.getStatus()
  return {
    phase: phase(),
    error: state.error,
    peerId: mesh.peerId,
    signalingUrl: state.signalingUrl,
    networkName: mesh.networkName,
    status,
    connectedPeers: connectedPeers(),
    peers: mesh.getPeerDetails().map((p) => ({ ...p, xorDistance: xor(p.peerId).hex, bucket: xor(p.peerId).bucket })),
    discovered: mesh.getDiscoveredPeers().map((d) => ({ ...d })),
    messages: state.messages.map((m) => ({ ...m })),
    topology: topology(),
    media: mediaSnapshot(),
    settings: { ...settings },
    events: state.events.slice(-50)
  }
}

// ---------------------------------------------------------------------------------------------
// View

const el = <E extends HTMLElement>(id: string): E => {
  const found = document.getElementById(id)
  if (found === null) throw new Error(`#${id} is missing from index.html`)
  return found as E
}

type Child = Node | string
const h = <K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: Array<Child>
): HTMLElementTagNameMap[K] => {
  const node = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v)
  node.append(...children)
  return node
}
const SVG = "http://www.w3.org/2000/svg"
const s = (tag: string, attrs: Record<string, string | number>, ...children: Array<Child>): SVGElement => {
  const node = document.createElementNS(SVG, tag)
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v))
  node.append(...children)
  return node
}
const button = (label: string, onClick: () => void, title = "") => {
  const b = h("button", { type: "button", title }, label)
  b.addEventListener("click", onClick)
  return b
}

let renderQueued = false
/** Coalesces bursts of events into one repaint (setTimeout, not rAF: background tabs must keep up). */
function render(): void {
  if (renderQueued) return
  renderQueued = true
  setTimeout(() => {
    renderQueued = false
    paint()
  }, 30)
}

function paint(): void {
  const status = mesh.getStatus()
  const shown = phase()
  const connected = shown === "connected" || shown === "reconnecting"

  const badge = el("phase")
  badge.dataset["phase"] = shown
  badge.textContent = shown
  const selfId = el("self-id")
  selfId.textContent = mesh.peerId === "" ? "—" : mesh.peerId
  const error = el("error")
  error.hidden = state.error === undefined
  error.textContent = state.error ?? ""
  el<HTMLButtonElement>("connect").disabled = connected || state.phase === "connecting" || state.phase === "disconnecting"
  el<HTMLButtonElement>("disconnect").disabled = !(connected || state.phase === "connecting")
  el<HTMLInputElement>("signaling-url").disabled = state.phase !== "idle" && state.phase !== "error"
  el<HTMLInputElement>("network-name").disabled = state.phase !== "idle" && state.phase !== "error"
  el<HTMLButtonElement>("chat-send").disabled = !connected

  paintPeers()
  paintTopology()
  paintChatTargets()
  paintMessages()
  paintStatus(status)
  paintEvents()
}

function paintPeers(): void {
  const links = [...mesh.getPeerDetails()].sort((a, b) => PeerId.compareDistance(mesh.peerId)(a.peerId, b.peerId))
  const connectedCount = links.filter((p) => p.status === "connected").length
  el("peer-summary").textContent = `${connectedCount} connected, ${links.length - connectedCount} connecting · bounds ${settings.minPeers}-${settings.maxPeers}`
  const rows = links.map((p) => {
    const d = xor(p.peerId)
    return h(
      "tr",
      { "data-peer": p.peerId, class: p.peerId === state.selected ? "selected" : "" },
      h("td", { title: p.peerId }, h("code", {}, short(p.peerId)), p.verified ? " ✓" : ""),
      h("td", { class: `state-${p.status}` }, p.status),
      h("td", { title: p.initiator ? "we made the offer" : "they made the offer" }, p.initiator ? "out" : "in"),
      h("td", { title: `0x${d.hex}` }, h("code", {}, `${d.hex.slice(0, 6)}…`), h("span", { class: "bucket" }, ` b${d.bucket}`)),
      h("td", {}, `${Math.round((Date.now() - p.since) / 1000)} s`),
      h(
        "td",
        {},
        h(
          "span",
          { class: "actions" },
          button("DM", () => selectTarget(p.peerId), "direct message"),
          button("call", () => callPeer(p.peerId), "audio/video call"),
          button("✕", () => void mesh.disconnectPeer(p.peerId).catch(() => undefined), "close this link")
        )
      )
    )
  })
  const body = el("peer-rows")
  body.replaceChildren(...(rows.length > 0 ? rows : [h("tr", {}, h("td", { colspan: "6", class: "empty" }, "no links"))]))

  const linked = new Set(links.map((p) => p.peerId))
  const discovered = mesh.getDiscoveredPeers().filter((d) => !linked.has(d.peerId))
  el("discovered").replaceChildren(
    ...(discovered.length > 0
      ? discovered.map((d) =>
        h(
          "li",
          { title: d.peerId },
          h("code", {}, short(d.peerId)),
          h("span", { class: "bucket" }, `b${xor(d.peerId).bucket}`),
          button("call", () => callPeer(d.peerId), "audio/video call (not a link: routed over the mesh)"),
          button("connect", () => void mesh.connectToPeer(d.peerId).catch((e: unknown) => {
            state.error = `connect to ${short(d.peerId)}: ${errorText(e)}`
            render()
          }))
        )
      )
      : [h("li", { class: "empty" }, "none")])
  )
}

/**
 * Position on the id ring: nodes in id order, clockwise from the top. Evenly spaced rather
 * than at their true place in the 160-bit space, where a few random ids would bunch up.
 */
const ringPoint = (index: number, count: number, radius: number) => {
  const angle = (index / Math.max(1, count)) * 2 * Math.PI - Math.PI / 2
  return { x: radius * Math.cos(angle), y: radius * Math.sin(angle), angle }
}

function paintTopology(): void {
  const { nodes, edges } = topology()
  const R = 170
  const svg = el("topology") as unknown as SVGSVGElement
  const order = nodes.map((n) => n.peerId).sort()
  const at = new Map(order.map((id, i) => [id, ringPoint(i, order.length, R)]))
  const children: Array<SVGElement> = [s("circle", { class: "ring", r: R, cx: 0, cy: 0 })]
  for (const e of edges) {
    const a = at.get(e.a)
    const b = at.get(e.b)
    if (a === undefined || b === undefined) continue
    children.push(s("line", { class: `edge ${e.kind}`, x1: a.x, y1: a.y, x2: b.x, y2: b.y }))
  }
  for (const n of nodes) {
    const p = at.get(n.peerId)!
    const cls = ["node", n.self ? "self" : "", n.linked ? "linked" : "", n.peerId === state.selected ? "selected" : ""].join(" ")
    const lx = (R + 24) * Math.cos(p.angle)
    const ly = (R + 24) * Math.sin(p.angle)
    const anchor = Math.abs(lx) < 20 ? "middle" : lx > 0 ? "start" : "end"
    const g = s(
      "g",
      { class: cls, "data-peer": n.peerId },
      s("title", {}, n.peerId + (n.self ? " (this peer)" : "")),
      s("circle", { cx: p.x, cy: p.y, r: n.self ? 13 : 10 }),
      s("text", { x: lx, y: ly + 4, "text-anchor": anchor }, short(n.peerId) + (n.self ? " (me)" : ""))
    )
    if (!n.self) g.addEventListener("click", () => selectTarget(n.peerId))
    children.push(g)
  }
  svg.replaceChildren(...children)
  el("topology-summary").textContent = `${nodes.length} peer${nodes.length === 1 ? "" : "s"}, ${edges.length} link${edges.length === 1 ? "" : "s"}`
}

function selectTarget(peerId: string): void {
  state.selected = peerId
  paintChatTargets()
  el<HTMLSelectElement>("chat-target").value = peerId
  el<HTMLInputElement>("chat-input").focus()
  render()
}

function paintChatTargets(): void {
  const select = el<HTMLSelectElement>("chat-target")
  const ids = new Set<string>([...topology().nodes.map((n) => n.peerId)].filter((id) => id !== mesh.peerId))
  if (state.selected !== "") ids.add(state.selected)
  const current = select.value
  const wanted = ["", ...[...ids].sort()]
  const have = [...select.options].map((o) => o.value)
  if (wanted.join() !== have.join()) {
    select.replaceChildren(
      h("option", { value: "" }, "everyone (broadcast)"),
      ...[...ids].sort().map((id) => h("option", { value: id }, `direct → ${short(id)}`))
    )
    select.value = wanted.includes(current) ? current : ""
  }
}

let paintedMessages = -1
function paintMessages(): void {
  const list = el("messages")
  if (paintedMessages === state.messages.length && list.childElementCount > 0) return
  paintedMessages = state.messages.length
  list.replaceChildren(
    ...state.messages.map((m) => {
      const who = m.mine ? (m.to === undefined ? "me → everyone" : `me → ${short(m.to)}`) : `${short(m.from)}${m.verified ? "" : " (unverified)"}`
      const when = new Date(m.timestamp).toLocaleTimeString()
      return h(
        "li",
        { class: [m.mine ? "mine" : "", m.direct ? "direct" : ""].join(" "), "data-message-id": m.messageId },
        h("div", { class: "meta" }, `${who} · ${when}${m.mine ? "" : ` · ${m.hops} hop${m.hops === 1 ? "" : "s"}`}`),
        h("div", { class: "text" }, m.text)
      )
    })
  )
  list.scrollTop = list.scrollHeight
}

function paintStatus(status: ReturnType<PeerPigeonMesh["getStatus"]>): void {
  const rows: Array<[string, string]> = [
    ["signaling", status.connected ? status.signalingUrl ?? "" : "not connected"],
    ["network", status.networkName],
    ["verified id", String(status.verified)],
    ["links", `${status.connectedCount} connected, ${status.connectingCount} connecting, ${status.discoveredCount} discovered`],
    ["transport", status.transport || "—"],
    ["uptime", `${Math.round(status.uptime / 1000)} s`],
    ["in force", `max ${status.maxPeers}, min ${status.minPeers}, autoDiscovery ${status.autoDiscovery}, eviction ${status.evictionStrategy}, xorRouting ${status.xorRouting}`]
  ]
  el("status").replaceChildren(...rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", { title: v }, v)]))
}

function paintEvents(): void {
  el("events").replaceChildren(
    ...state.events.slice(-60).reverse().map((e) =>
      h("li", {}, h("time", {}, new Date(e.at).toLocaleTimeString()), h("strong", {}, e.type), " ", e.text)
    )
  )
}

// ---------------------------------------------------------------------------------------------
// Wiring

el<HTMLInputElement>("signaling-url").value = state.signalingUrl
el<HTMLInputElement>("network-name").value = state.networkName
el<HTMLInputElement>("max-peers").value = String(settings.maxPeers)
el<HTMLInputElement>("min-peers").value = String(settings.minPeers)
el<HTMLInputElement>("auto-discovery").checked = settings.autoDiscovery
el<HTMLInputElement>("eviction-strategy").checked = settings.evictionStrategy
el<HTMLInputElement>("xor-routing").checked = settings.xorRouting
el<HTMLInputElement>("share-topology").checked = settings.shareTopology
el<HTMLInputElement>("debug-log").checked = settings.debug
if (settings.debug) DebugLogger.enableAll()

el<HTMLFormElement>("connect-form").addEventListener("submit", (event) => {
  event.preventDefault()
  void connect()
})
el("disconnect").addEventListener("click", () => void disconnect())
setupMediaPanel()
el<HTMLFormElement>("settings").addEventListener("change", (event) => applySetting((event.target as HTMLElement).id))
el<HTMLFormElement>("settings").addEventListener("submit", (event) => event.preventDefault())
el<HTMLSelectElement>("chat-target").addEventListener("change", (event) => {
  state.selected = (event.target as HTMLSelectElement).value
  render()
})
el<HTMLFormElement>("chat-form").addEventListener("submit", (event) => {
  event.preventDefault()
  const input = el<HTMLInputElement>("chat-input")
  const text = input.value.trim()
  if (text === "") return
  input.value = ""
  sendChat(text, el<HTMLSelectElement>("chat-target").value)
})
el<HTMLFormElement>("dht-form").addEventListener("submit", (event) => {
  event.preventDefault()
  const op = ((event as SubmitEvent).submitter as HTMLButtonElement | null)?.dataset["op"] ?? "get"
  void dhtAction(op, el<HTMLInputElement>("dht-key").value.trim(), el<HTMLInputElement>("dht-value").value)
})
window.addEventListener("pagehide", () => void mesh.disconnect())
// ages, uptime and expiring reports move on their own
setInterval(render, 1000)

Object.assign(window, { getPeerPigeonState: snapshot })
declare global {
  interface Window {
    peerPigeonMesh: PeerPigeonMesh
    getPeerPigeonState: () => ReturnType<typeof snapshot>
  }
}

// The key (and so the id) is made up front, so the page shows who it is before connecting.
mesh.init().then(render, (error: unknown) => {
  state.phase = "error"
  state.error = `init failed: ${errorText(error)}`
  render()
})
render()
startDocumentsPanel(() => mesh)

// ---------------------------------------------------------------------------------------------
// DHT panel

const dhtEntries: Array<string> = []

function dhtLog(text: string): void {
  dhtEntries.unshift(`${new Date().toLocaleTimeString()} ${text}`)
  dhtEntries.splice(50)
  el("dht-log").replaceChildren(...dhtEntries.map((t) => Object.assign(document.createElement("li"), { textContent: t })))
}

async function dhtAction(op: string, key: string, raw: string): Promise<void> {
  if (key === "") return dhtLog("a key is needed")
  try {
    if (op === "get") dhtLog(`get ${key} = ${JSON.stringify(await mesh.dhtGet(key))}`)
    else if (op === "subscribe") dhtLog(`subscribed to ${key} (now ${JSON.stringify(await mesh.dhtSubscribe(key))})`)
    else {
      let value: unknown
      try {
        value = JSON.parse(raw === "" ? "null" : raw)
      } catch {
        value = raw // plain text is stored as a string
      }
      const json = value as Parameters<PeerPigeonMesh["dhtPut"]>[1]
      const version = op === "update" ? await mesh.dhtUpdate(key, json) : await mesh.dhtPut(key, json)
      dhtLog(`${op} ${key} -> v${version}`)
    }
  } catch (error) {
    dhtLog(`${op} ${key} failed: ${errorText(error)}`)
  }
}
