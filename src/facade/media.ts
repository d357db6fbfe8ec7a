/**
 * Audio and video for `PeerPigeonMesh`, with PeerPigeon 1.x's names: `startMedia`,
 * `stopMedia`, `toggleVideo`, `toggleAudio`, `getMediaState`, `enumerateMediaDevices`,
 * `getLocalStream`, `getRemoteStreams`, and what 1.x lacked: `switchDevice`,
 * `startScreenShare`/`stopScreenShare`, `setMediaQuality`, `getMediaStats`. The mesh class
 * extends `MeshMediaBase`, which runs everything on the `Media` service.
 *
 * `remoteStream` fires once per remote stream, with no hidden gate (`mediaPolicy` decides:
 * `"accept"` by default). Media started before a link is made goes to that link too.
 *
 * @since 2.0.0
 */
import { Effect, Exit, PubSub, Scope } from "effect"
import type { PeerId } from "../schema/PeerId.ts"
import { Connections } from "../services/Connections.ts"
import {
  Media,
  MediaError,
  type MediaEvent,
  type MediaSource,
  type MediaStreamLike,
  type MediaTrackLike,
  type PeerMediaState,
  type PeerMediaStats
} from "../services/Media.ts"
import { MeshEmitter, type PeerPigeonMeshEvent, type PeerPigeonMeshEvents } from "./events.ts"
import type { Runtime, Services } from "./runtime.ts"

export type { MediaError, PeerMediaState, PeerMediaStats } from "../services/Media.ts"

export interface StartMediaOptions {
  /** Camera: `true`, or `MediaTrackConstraints`. Default true. */
  readonly video?: boolean | Record<string, unknown>
  /** Microphone: `true`, or `MediaTrackConstraints`. Default true. */
  readonly audio?: boolean | Record<string, unknown>
  /** Only these peers (direct links); default every link, later ones included. */
  readonly to?: ReadonlyArray<string>
  /** Devices to open (`enumerateMediaDevices` ids). */
  readonly deviceIds?: { readonly camera?: string; readonly microphone?: string }
  /** Send this stream instead of opening devices (Node: werift tracks; browsers: any MediaStream). */
  readonly stream?: MediaStreamLike
}

export interface MediaState {
  readonly hasLocalStream: boolean
  readonly videoEnabled: boolean
  readonly audioEnabled: boolean
  readonly isScreenSharing: boolean
  /** What each link carries. */
  readonly peers: ReadonlyArray<PeerMediaState>
}

export interface MediaDevicesList {
  readonly cameras: ReadonlyArray<{ readonly deviceId: string; readonly label: string }>
  readonly microphones: ReadonlyArray<{ readonly deviceId: string; readonly label: string }>
  readonly speakers: ReadonlyArray<{ readonly deviceId: string; readonly label: string }>
}

/** A stream we opened (its Scope stops its tracks) or one the caller handed over (kept running). */
interface Local {
  readonly stream: MediaStreamLike
  readonly scope: Scope.Closeable | undefined
  audio: MediaTrackLike | undefined
  video: MediaTrackLike | undefined
}

const constraintFor = (wanted: boolean | Record<string, unknown> | undefined, deviceId: string | undefined): unknown => {
  if (wanted === false) return false
  const base = typeof wanted === "object" ? wanted : {}
  return deviceId === undefined ? (typeof wanted === "object" ? wanted : true) : { ...base, deviceId: { exact: deviceId } }
}

const asMediaError = (e: unknown): MediaError =>
  e instanceof MediaError ? e : new MediaError({ reason: "not-supported", message: e instanceof Error ? e.message : String(e) })

/** The media half of the mesh facade; `PeerPigeonMeshBase` supplies the runtime. */
export abstract class MeshMediaBase extends MeshEmitter {
  abstract runEffect<A, E>(effect: Effect.Effect<A, E, Services>): Promise<A>
  abstract get runtime(): Runtime | undefined

  #local: Local | undefined
  #screen: { readonly track: MediaTrackLike; readonly scope: Scope.Closeable } | undefined
  #audioEnabled = true
  #videoEnabled = true
  readonly #remote = new Map<PeerId, MediaStreamLike>()
  readonly #remoteScreens = new Map<PeerId, MediaStreamLike>()
  /** Devices opened for a call (no local stream was running): released when it ends. */
  readonly #callScopes = new Map<PeerId, Scope.Closeable>()

  /** Starts forwarding the `Media` service's events once the runtime is up. */
  protected override emit<K extends PeerPigeonMeshEvent>(event: K, data: PeerPigeonMeshEvents[K]): void {
    if (event === "initialized") this.#forwardMediaEvents()
    super.emit(event, data)
  }

  #forwardMediaEvents(): void {
    const runtime = this.runtime
    if (runtime === undefined) return
    this.#remote.clear()
    this.#remoteScreens.clear()
    runtime.runFork(Effect.scoped(Effect.gen({ self: this }, function*() {
      const events = yield* Media.use((m) => m.events)
      while (true) this.#onMediaEvent(yield* PubSub.take(events))
    })))
  }

  #onMediaEvent(event: MediaEvent): void {
    switch (event._tag) {
      case "RemoteStreamAdded": {
        const stream = event.stream as MediaStreamLike
        ;(event.source === "camera" ? this.#remote : this.#remoteScreens).set(event.peerId, stream)
        return this.emit("remoteStream", { peerId: event.peerId, stream, source: event.source, audio: event.audio, video: event.video })
      }
      case "RemoteStreamRemoved":
        ;(event.source === "camera" ? this.#remote : this.#remoteScreens).delete(event.peerId)
        return this.emit("remoteStreamRemoved", { peerId: event.peerId, source: event.source, reason: event.reason })
      case "RemoteMediaState":
        return this.emit("remoteMediaState", { peerId: event.peerId, source: event.source, audio: event.audio, video: event.video })
      case "MediaFailed":
        return this.emit("mediaError", { error: event.error, type: event.error.reason, ...(event.error.peerId === undefined ? {} : { peerId: event.error.peerId }) })
      case "IncomingCall":
        return this.emit("incomingCall", {
          peerId: event.peerId,
          hops: event.hops,
          accept: async (options = {}) => {
            const tracks = await this.#callTracks(event.peerId, options)
            await this.#media(Media.use((m) => m.answerCall(event.peerId, true, tracks)))
          },
          reject: (reason) => this.runEffect(Media.use((m) => m.answerCall(event.peerId, false, {}, reason))).catch(() => undefined)
        })
      case "CallEnded": {
        const scope = this.#callScopes.get(event.peerId)
        this.#callScopes.delete(event.peerId)
        if (scope !== undefined) void this.runEffect(Scope.close(scope, Exit.void)).catch(() => undefined)
        return this.emit("callEnded", { peerId: event.peerId, reason: event.reason })
      }
      case "MediaRequested": {
        const answer = (ok: boolean) => void this.runEffect(Media.use((m) => m.allow(event.peerId, ok))).catch(() => undefined)
        return this.emit("incomingMedia", { peerId: event.peerId, source: event.source, accept: () => answer(true), reject: () => answer(false) })
      }
    }
  }

  /** Fails like the platform did, and says so with `mediaError`. */
  async #media<A>(effect: Effect.Effect<A, MediaError, Services>): Promise<A> {
    try {
      return await this.runEffect(effect)
    } catch (e) {
      const error = asMediaError(e)
      this.emit("mediaError", { error, type: error.reason })
      throw error
    }
  }

  /** Opens local devices in a Scope of their own (closing it stops the tracks). */
  async #open(constraints: Record<string, unknown>, display = false): Promise<{ stream: MediaStreamLike; scope: Scope.Closeable }> {
    const scope = await this.runEffect(Scope.make())
    try {
      const stream = await this.#media(Media.use((m) => display ? m.acquireDisplay(constraints) : m.acquire(constraints)).pipe(Scope.provide(scope)))
      return { stream, scope }
    } catch (e) {
      await this.runEffect(Scope.close(scope, Exit.void))
      throw e
    }
  }

  /**
   * Opens the camera and microphone (or takes `options.stream`) and sends them to every link,
   * links made later included, or to `options.to` (a target that is not a link gets a `call`).
   * Resolves with the local stream; replaces media already started. Rejects with a
   * `MediaError` (and `mediaError`).
   */
  async startMedia(options: StartMediaOptions = {}): Promise<MediaStreamLike> {
    const previous = this.#local
    let local: Local
    if (options.stream !== undefined) {
      local = { stream: options.stream, scope: undefined, audio: undefined, video: undefined }
    } else {
      const video = constraintFor(options.video, options.deviceIds?.camera)
      const audio = constraintFor(options.audio, options.deviceIds?.microphone)
      if (video === false && audio === false) throw new TypeError("startMedia: ask for video, audio or both")
      const { scope, stream } = await this.#open({ video, audio })
      local = { stream, scope, audio: undefined, video: undefined }
    }
    const tracks = local.stream.getTracks()
    local.audio = tracks.find((t) => t.kind === "audio")
    local.video = tracks.find((t) => t.kind === "video")
    this.#local = local
    this.#audioEnabled = true
    this.#videoEnabled = true
    const to = options.to?.map((id) => id.toLowerCase() as PeerId)
    await this.runEffect(Media.use((m) => m.publish({ audio: local.audio, video: local.video }, { to })))
    if (previous?.scope !== undefined) await this.runEffect(Scope.close(previous.scope, Exit.void))
    this.emit("localStreamStarted", { stream: local.stream, video: local.video !== undefined, audio: local.audio !== undefined })
    if (to !== undefined) {
      // targets that are not links get a call (a failure is a `mediaError`)
      const linked = new Set(await this.runEffect(Connections.use((c) => c.connected)))
      for (const id of to) if (!linked.has(id)) this.call(id, { stream: local.stream }).catch(() => undefined)
    }
    return local.stream
  }

  /** Stops sending and releases the devices (tracks given as `stream` are left running). */
  async stopMedia(): Promise<void> {
    const local = this.#local
    if (local === undefined) return
    this.#local = undefined
    await this.runEffect(Media.use((m) => m.unpublish))
    if (local.scope !== undefined) await this.runEffect(Scope.close(local.scope, Exit.void))
    this.emit("localStreamStopped", {})
  }

  /** Turns the camera off or on; returns the new state. Remote peers see `remoteMediaState`, and no frames while off. */
  toggleVideo(): boolean {
    return this.#toggle("video")
  }

  /** Turns the microphone off or on; returns the new state. */
  toggleAudio(): boolean {
    return this.#toggle("audio")
  }

  #toggle(kind: "audio" | "video"): boolean {
    const enabled = kind === "audio" ? (this.#audioEnabled = !this.#audioEnabled) : (this.#videoEnabled = !this.#videoEnabled)
    const track = this.#local?.[kind]
    if (track !== undefined) track.enabled = enabled
    void this.runEffect(Media.use((m) => m.setEnabled(kind, enabled))).catch(() => undefined)
    return enabled
  }

  getMediaState(): MediaState {
    const runtime = this.runtime
    const peers = runtime === undefined ? [] : runtime.runSync(Media.use((m) => m.peers))
    return {
      hasLocalStream: this.#local !== undefined,
      videoEnabled: this.#local?.video !== undefined && this.#videoEnabled,
      audioEnabled: this.#local?.audio !== undefined && this.#audioEnabled,
      isScreenSharing: this.#screen !== undefined,
      peers
    }
  }

  /** Cameras, microphones and speakers (labels need a granted permission in browsers). */
  async enumerateMediaDevices(): Promise<MediaDevicesList> {
    const devices = await this.#media(Media.use((m) => m.devices))
    const of = (kind: string) => devices.filter((d) => d.kind === kind).map(({ deviceId, label }) => ({ deviceId, label }))
    return { cameras: of("videoinput"), microphones: of("audioinput"), speakers: of("audiooutput") }
  }

  /**
   * Sends another camera or microphone (by device id, or a track you made) without
   * renegotiating (`replaceTrack`); the old device is released.
   */
  async switchDevice(options: {
    readonly videoDeviceId?: string
    readonly audioDeviceId?: string
    readonly videoTrack?: MediaTrackLike
    readonly audioTrack?: MediaTrackLike
  }): Promise<MediaStreamLike> {
    const local = this.#local
    if (local === undefined) throw new MediaError({ reason: "not-supported", message: "switchDevice: startMedia first" })
    for (const kind of ["video", "audio"] as const) {
      const deviceId = kind === "video" ? options.videoDeviceId : options.audioDeviceId
      let track = kind === "video" ? options.videoTrack : options.audioTrack
      if (track === undefined && deviceId !== undefined) {
        // opened in the local stream's Scope, so stopMedia releases it too
        const scope = local.scope ?? await this.runEffect(Scope.make())
        const stream = await this.#media(Media.use((m) => m.acquire({ [kind]: { deviceId: { exact: deviceId } } })).pipe(Scope.provide(scope)))
        track = stream.getTracks().find((t) => t.kind === kind)
      }
      if (track === undefined) continue
      const old = local[kind]
      track.enabled = kind === "video" ? this.#videoEnabled : this.#audioEnabled
      local[kind] = track
      swapTrack(local.stream, old, track)
      await this.runEffect(Media.use((m) => m.replaceTrack(kind, track)))
      if (old !== undefined && local.scope !== undefined) old.stop()
    }
    return local.stream
  }

  /** Shares the screen (`getDisplayMedia`, or a video track you give) as a second stream (`source: "screen"`). */
  async startScreenShare(options: { readonly track?: MediaTrackLike } = {}): Promise<MediaTrackLike> {
    await this.stopScreenShare()
    let track = options.track
    let scope: Scope.Closeable | undefined
    if (track === undefined) {
      const opened = await this.#open({ video: true }, true)
      scope = opened.scope
      track = opened.stream.getTracks().find((t) => t.kind === "video")
      if (track === undefined) {
        await this.runEffect(Scope.close(opened.scope, Exit.void))
        throw new MediaError({ reason: "device-not-found", message: "the display capture has no video" })
      }
    }
    this.#screen = { track, scope: scope ?? await this.runEffect(Scope.make()) }
    await this.runEffect(Media.use((m) => m.publishScreen(track)))
    return track
  }

  async stopScreenShare(): Promise<void> {
    const screen = this.#screen
    if (screen === undefined) return
    this.#screen = undefined
    await this.runEffect(Media.use((m) => m.publishScreen(undefined)))
    await this.runEffect(Scope.close(screen.scope, Exit.void))
  }

  /**
   * Calls any peer of the network, linked or not, on a connection of its own (set up with
   * signed direct messages routed over the mesh; never evicted while it lasts). Sends
   * `options.stream`, else the local stream of `startMedia`, else opens the devices. Resolves
   * once the callee accepts; rejects with a `MediaError` (`call-rejected`, `timeout`, ...).
   * The callee's stream arrives as `remoteStream`.
   */
  async call(peerId: string, options: { readonly stream?: MediaStreamLike; readonly video?: boolean; readonly audio?: boolean } = {}): Promise<void> {
    const to = peerId.toLowerCase() as PeerId
    const tracks = await this.#callTracks(to, options)
    await this.#media(Media.use((m) => m.call(to, tracks))).catch(async (e: unknown) => {
      const scope = this.#callScopes.get(to)
      this.#callScopes.delete(to)
      if (scope !== undefined) await this.runEffect(Scope.close(scope, Exit.void))
      throw e
    })
  }

  /** Ends the call with a peer. */
  hangUp(peerId: string): Promise<void> {
    return this.runEffect(Media.use((m) => m.hangUp(peerId.toLowerCase() as PeerId)))
  }

  async #callTracks(peerId: PeerId, options: { readonly stream?: MediaStreamLike; readonly video?: boolean; readonly audio?: boolean }) {
    let stream = options.stream ?? this.#local?.stream
    if (stream === undefined) {
      const opened = await this.#open({ video: options.video ?? true, audio: options.audio ?? true })
      this.#callScopes.set(peerId, opened.scope)
      stream = opened.stream
    }
    const tracks = stream.getTracks()
    return { audio: tracks.find((t) => t.kind === "audio"), video: tracks.find((t) => t.kind === "video") }
  }

  /** The stream `startMedia` returned, or null. */
  getLocalStream(): MediaStreamLike | null {
    return this.#local?.stream ?? null
  }

  /** The camera streams received, by peer id. */
  getRemoteStreams(): Map<string, MediaStreamLike> {
    return new Map(this.#remote)
  }

  /** Screens shared with this peer, by peer id. */
  getRemoteScreens(): Map<string, MediaStreamLike> {
    return new Map(this.#remoteScreens)
  }

  /** Caps each outgoing encoding at `maxBitrate` bits/s (per link: N links send N times that); `undefined` lifts it. */
  setMediaQuality(options: { readonly maxBitrate?: number | undefined }): Promise<void> {
    const bps = options.maxBitrate
    if (bps !== undefined && (!Number.isFinite(bps) || bps <= 0)) throw new RangeError("maxBitrate must be a positive number of bits per second")
    return this.runEffect(Media.use((m) => m.setMaxBitrate(bps)))
  }

  /** Per link: bytes, packets, frames, loss, round trip and bitrates since the previous call. */
  getMediaStats(peerId?: string): Promise<ReadonlyArray<PeerMediaStats>> {
    return this.runEffect(Media.use((m) => m.stats(peerId?.toLowerCase() as PeerId | undefined)))
  }

  /** The sources a peer sends this one, with their mute state. */
  getRemoteMediaState(peerId: string): ReadonlyArray<{ readonly source: MediaSource; readonly audio: boolean; readonly video: boolean }> {
    return this.getMediaState().peers.find((p) => p.peerId === peerId.toLowerCase())?.receiving ?? []
  }
}

/** Keeps the local stream object in step with the track being sent (browsers' `MediaStream` has these methods). */
const swapTrack = (stream: MediaStreamLike, old: MediaTrackLike | undefined, track: MediaTrackLike) => {
  const s = stream as Partial<{ removeTrack(t: unknown): void; addTrack(t: unknown): void }>
  if (old !== undefined) s.removeTrack?.(old)
  s.addTrack?.(track)
}
