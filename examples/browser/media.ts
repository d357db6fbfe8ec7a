/**
 * The demo app's media panel: start/stop camera and microphone, mute video or audio, share
 * the screen, a video tile per remote stream with its mute state, and calls (the peer list's
 * "call" buttons; an incoming call is answered from the panel).
 *
 * `attachMedia(mesh)` wires a mesh's media events to the panel (app.ts calls it for each mesh
 * it makes); `mediaSnapshot()` is the panel's state as plain data (`getPeerPigeonState().media`).
 */
import type { PeerPigeonMesh, PeerPigeonMeshEvents } from "peerpigeon"

interface Tile {
  readonly peerId: string
  readonly source: string
  readonly stream: MediaStream
  readonly video: HTMLVideoElement
  readonly label: HTMLElement
  audio: boolean
  videoOn: boolean
}

interface Ringing {
  readonly peerId: string
  readonly event: PeerPigeonMeshEvents["incomingCall"]
}

const tiles = new Map<string, Tile>()
const ringing: Array<Ringing> = []
const calls = new Set<string>()
/** Every `remoteStream` the panel got (tests check it fires once per stream). */
let remoteStreamEvents = 0
let lastError: string | undefined
let current: PeerPigeonMesh | undefined

const byId = <E extends HTMLElement>(id: string): E => {
  const found = document.getElementById(id)
  if (found === null) throw new Error(`#${id} is missing from index.html`)
  return found as E
}
const short = (id: string) => id.slice(0, 8)
const key = (peerId: string, source: string) => `${peerId}/${source}`
const message = (e: unknown) => (e instanceof Error ? e.message : String(e))

function fail(e: unknown): void {
  lastError = message(e)
  paintMedia()
}

function paintTile(tile: Tile): void {
  tile.label.textContent = `${short(tile.peerId)} ${tile.source}${calls.has(tile.peerId) ? " (call)" : ""} · ` +
    `${tile.videoOn ? "video" : "video off"} · ${tile.audio ? "audio" : "muted"}`
}

/** Repaints the buttons, the incoming calls and the error line. */
export function paintMedia(): void {
  const m = current
  const state = m?.getMediaState()
  byId<HTMLButtonElement>("media-start").disabled = state?.hasLocalStream === true
  byId<HTMLButtonElement>("media-stop").disabled = state?.hasLocalStream !== true
  byId<HTMLButtonElement>("media-video").textContent = state?.videoEnabled === false ? "Camera on" : "Camera off"
  byId<HTMLButtonElement>("media-audio").textContent = state?.audioEnabled === false ? "Unmute" : "Mute"
  byId<HTMLButtonElement>("media-screen").textContent = state?.isScreenSharing === true ? "Stop sharing" : "Share screen"
  const error = byId("media-error")
  error.hidden = lastError === undefined
  error.textContent = lastError ?? ""
  byId("media-calls").replaceChildren(...ringing.map((r) => {
    const li = document.createElement("li")
    li.append(`${short(r.peerId)} is calling `)
    const accept = Object.assign(document.createElement("button"), { type: "button", textContent: "accept" })
    accept.addEventListener("click", () => answer(r, true))
    const reject = Object.assign(document.createElement("button"), { type: "button", textContent: "reject" })
    reject.addEventListener("click", () => answer(r, false))
    li.append(accept, reject)
    return li
  }))
  for (const tile of tiles.values()) paintTile(tile)
}

function answer(r: Ringing, accept: boolean): void {
  ringing.splice(ringing.indexOf(r), 1)
  if (accept) {
    calls.add(r.peerId)
    r.event.accept().catch(fail)
  } else {
    void r.event.reject("declined")
  }
  paintMedia()
}

function addTile(e: PeerPigeonMeshEvents["remoteStream"]): void {
  removeTile(e.peerId, e.source)
  const stream = e.stream as unknown as MediaStream
  const video = Object.assign(document.createElement("video"), { autoplay: true, playsInline: true, muted: false })
  video.srcObject = stream
  video.dataset["peer"] = e.peerId
  video.dataset["source"] = e.source
  const label = document.createElement("figcaption")
  const figure = document.createElement("figure")
  figure.className = "tile"
  figure.dataset["key"] = key(e.peerId, e.source)
  figure.append(video, label)
  byId("media-tiles").append(figure)
  const tile: Tile = { peerId: e.peerId, source: e.source, stream, video, label, audio: e.audio, videoOn: e.video }
  tiles.set(key(e.peerId, e.source), tile)
  paintTile(tile)
  video.play().catch(() => undefined)
}

function removeTile(peerId: string, source: string): void {
  const tile = tiles.get(key(peerId, source))
  if (tile === undefined) return
  tiles.delete(key(peerId, source))
  tile.video.srcObject = null
  tile.video.parentElement?.remove()
}

/** Wires `mesh`'s media events to the panel. */
export function attachMedia(mesh: PeerPigeonMesh): void {
  current = mesh
  for (const t of [...tiles.values()]) removeTile(t.peerId, t.source)
  mesh.addEventListener("remoteStream", (e) => {
    remoteStreamEvents++
    addTile(e)
  })
  mesh.addEventListener("remoteStreamRemoved", ({ peerId, source }) => removeTile(peerId, source))
  mesh.addEventListener("remoteMediaState", ({ audio, peerId, source, video }) => {
    const tile = tiles.get(key(peerId, source))
    if (tile === undefined) return
    tile.audio = audio
    tile.videoOn = video
    paintTile(tile)
  })
  mesh.addEventListener("mediaError", ({ error }) => fail(error))
  mesh.addEventListener("incomingCall", (event) => {
    ringing.push({ peerId: event.peerId, event })
    paintMedia()
  })
  mesh.addEventListener("callEnded", ({ peerId }) => {
    calls.delete(peerId)
    const r = ringing.findIndex((x) => x.peerId === peerId)
    if (r >= 0) ringing.splice(r, 1)
    paintMedia()
  })
  mesh.addEventListener("localStreamStarted", ({ stream }) => {
    byId<HTMLVideoElement>("media-local").srcObject = stream as unknown as MediaStream
    paintMedia()
  })
  mesh.addEventListener("localStreamStopped", () => {
    byId<HTMLVideoElement>("media-local").srcObject = null
    paintMedia()
  })
  paintMedia()
}

/** Calls a peer (the peer list's "call" button). */
export function callPeer(peerId: string): void {
  const m = current
  if (m === undefined) return
  calls.add(peerId)
  m.call(peerId).then(paintMedia, (e: unknown) => {
    calls.delete(peerId)
    fail(e)
  })
  paintMedia()
}

/** The panel's buttons (once, at load). */
export function setupMediaPanel(): void {
  const act = (id: string, f: (m: PeerPigeonMesh) => unknown) =>
    byId(id).addEventListener("click", () => {
      const m = current
      if (m === undefined) return
      lastError = undefined
      Promise.resolve(f(m)).then(paintMedia, fail)
    })
  // no audio processing: a steady test tone stays as it is (and echo is not a concern in a demo)
  const audio = { echoCancellation: false, noiseSuppression: false, autoGainControl: false }
  act("media-start", (m) => m.startMedia({ video: true, audio }))
  act("media-stop", (m) => m.stopMedia())
  act("media-video", (m) => m.toggleVideo())
  act("media-audio", (m) => m.toggleAudio())
  act("media-screen", (m) => (m.getMediaState().isScreenSharing ? m.stopScreenShare() : m.startScreenShare()))
}

/** The panel as plain data. */
export function mediaSnapshot() {
  return {
    remoteStreamEvents,
    error: lastError,
    calls: [...calls],
    ringing: ringing.map((r) => r.peerId),
    tiles: [...tiles.values()].map((t) => ({
      peerId: t.peerId,
      source: t.source,
      audio: t.audio,
      video: t.videoOn,
      videoWidth: t.video.videoWidth,
      videoHeight: t.video.videoHeight,
      tracks: t.stream.getTracks().map((x) => x.kind)
    }))
  }
}
