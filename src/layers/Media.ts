/**
 * The `Media` layer: what this peer publishes, and one `linkMedia` engine per direct link
 * that has a WebRTC connection (memory links carry no media).
 *
 * An engine is made when a link connects (or when its first media frame arrives, whichever
 * comes first) and closed when the link goes; publishing syncs every engine. The camera
 * source goes to at most `maxMediaPeers` links (the first ones, in link order; a slot frees
 * when a link closes). Links carrying media are handed to `Connections.protectMedia`, so the
 * optimizer never evicts them while media flows.
 *
 * @since 2.0.0
 */
import { Clock, Effect, Exit, Layer, Option, PubSub, type Schema, Scope } from "effect"
import { isPolite } from "../internal/perfectNegotiation.ts"
import type { MediaFrame } from "../schema/MediaFrames.ts"
import type { PeerId } from "../schema/PeerId.ts"
import { Connections } from "../services/Connections.ts"
import { Identity } from "../services/Identity.ts"
import {
  Media,
  MediaError,
  type MediaEvent,
  MediaPlatform,
  type MediaTrackLike,
  type PeerMediaStats
} from "../services/Media.ts"
import { MeshConfig } from "../services/MeshConfig.ts"
import { MeshEvents } from "../services/MeshEvents.ts"
import { PeerTransport } from "../services/PeerTransport.ts"
import { Router } from "../services/Router.ts"
import { Signaling } from "../services/Signaling.ts"
import { BoundedMap } from "../internal/boundedMap.ts"
import { CALL_KIND } from "../schema/CallMessages.ts"
import { makeCalls } from "./media/calls.ts"
import { type LinkMedia, type LinkPublication, makeLinkMedia } from "./media/linkMedia.ts"
import { globalPlatform, mediaErrorOf, scopedMedia } from "./media/platform.ts"
import { collectStats, type RtpTotals } from "./media/stats.ts"

export { globalPlatform, mediaErrorOf } from "./media/platform.ts"

/** How long a call rings before it counts as unanswered. */
export const CALL_RING_TIMEOUT_MS = 30_000

/** An invite routed over the mesh and not heard of (no `ringing`) this long goes through the signaling server. */
export const CALL_FALLBACK_MS = 2_000

/** Media events waiting for slow listeners (older ones are dropped). */
const EVENT_BUFFER = 256

interface Publication {
  camera: { audio?: MediaTrackLike | undefined; video?: MediaTrackLike | undefined } | undefined
  /** Only these peers; undefined: every link. */
  to: ReadonlySet<PeerId> | undefined
  audioEnabled: boolean
  videoEnabled: boolean
  screen: MediaTrackLike | undefined
  maxBitrate: number | undefined
}

export const layer = Layer.effect(
  Media,
  Effect.gen(function*() {
    const connections = yield* Connections
    const meshEvents = yield* MeshEvents
    const config = yield* MeshConfig
    const identity = yield* Identity
    const router = yield* Router
    const transport = yield* PeerTransport
    const signaling = yield* Signaling
    /** Peers the signaling server proved (their id derives from their key), for the call fallback. */
    const provenBySignaling = new BoundedMap<PeerId, boolean>(4096)
    const platform = Option.getOrElse(yield* Effect.serviceOption(MediaPlatform), globalPlatform)
    const events = yield* Effect.acquireRelease(PubSub.sliding<MediaEvent>(EVENT_BUFFER), PubSub.shutdown)
    const engines = new Map<PeerId, { readonly engine: LinkMedia; readonly scope: Scope.Closeable }>()
    /** Links given the camera source, in the order they got it (at most maxMediaPeers). */
    const cameraLinks = new Set<PeerId>()
    const allowed = new Map<PeerId, boolean>()
    /** The previous totals per link or call (for bitrates), dropped with it. */
    const previousTotals = new Map<string, { readonly at: number; readonly totals: RtpTotals }>()
    const pub: Publication = {
      camera: undefined,
      to: undefined,
      audioEnabled: true,
      videoEnabled: true,
      screen: undefined,
      maxBitrate: undefined
    }

    const emit = (event: MediaEvent) => PubSub.publish(events, event)
    /** Links up now (from the mesh events), for whether a call can be routed at all. */
    const connectedNow = new Set<PeerId>()

    const calls = yield* makeCalls({
      self: identity.peerId,
      router,
      makePc: transport.callConnection,
      emit,
      makeStream: (tracks) => platform.makeStream(tracks),
      publication: (tracks) => () => ({
        camera: tracks(),
        audioEnabled: pub.audioEnabled,
        videoEnabled: pub.videoEnabled,
        screen: pub.screen,
        maxBitrate: pub.maxBitrate
      }),
      ringTimeoutMs: CALL_RING_TIMEOUT_MS,
      hasLinks: () => engines.size > 0 || connectedNow.size > 0,
      fallbackAfterMs: CALL_FALLBACK_MS,
      // the server relays `answer` signals as they are, with the sender's authenticated id;
      // `data.call` marks ours (Connections ignores an answer for no link of its own)
      viaSignaling: (to, message) =>
        provenBySignaling.get(to) === true
          ? signaling.send(to, { kind: "answer", data: { call: message as unknown as Schema.Json } }).pipe(
            Effect.as(true),
            Effect.orElseSucceed(() => false)
          )
          : Effect.succeed(false)
    })
    yield* Effect.addFinalizer(() => calls.closeAll)
    // call setup, routed over the mesh
    const routed = yield* router.subscribe
    yield* Effect.gen(function*() {
      while (true) {
        const message = yield* PubSub.take(routed)
        if (message.kind === CALL_KIND) yield* calls.handle(message)
      }
    }).pipe(Effect.forkScoped)
    const lost = yield* router.undelivered
    yield* Effect.gen(function*() {
      while (true) {
        const u = yield* PubSub.take(lost)
        if (u.kind === CALL_KIND) yield* calls.undelivered(u.id)
      }
    }).pipe(Effect.forkScoped)
    // the fallback path: call messages relayed by the signaling server
    const relayed = yield* signaling.subscribe
    yield* Effect.gen(function*() {
      while (true) {
        const event = yield* PubSub.take(relayed)
        if (event._tag === "PeerDiscovered") provenBySignaling.set(event.peerId, event.verified)
        if (event._tag !== "Signal" || event.signal.kind !== "answer") continue
        const call = event.signal.data?.["call"]
        if (call === undefined || event.from === identity.peerId) continue
        const now = yield* Clock.currentTimeMillis
        yield* calls.handle({
          id: "",
          kind: CALL_KIND,
          origin: event.from,
          content: call,
          hops: 0,
          ttl: 0,
          timestamp: now,
          verified: provenBySignaling.get(event.from) === true
        }, "signaling")
      }
    }).pipe(Effect.forkScoped)

    /** Keeps the camera slots: targets that are linked, up to maxMediaPeers, in link order. */
    const assignCamera = () => {
      if (pub.camera === undefined) return cameraLinks.clear()
      for (const id of cameraLinks) if (!engines.has(id) || (pub.to !== undefined && !pub.to.has(id))) cameraLinks.delete(id)
      for (const id of engines.keys()) {
        if (cameraLinks.size >= config.maxMediaPeers) break
        if (pub.to === undefined || pub.to.has(id)) cameraLinks.add(id)
      }
    }

    const publicationFor = (peerId: PeerId) => (): LinkPublication => ({
      camera: cameraLinks.has(peerId) ? pub.camera : undefined,
      audioEnabled: pub.audioEnabled,
      videoEnabled: pub.videoEnabled,
      screen: pub.screen !== undefined && (pub.to === undefined || pub.to.has(peerId)) ? pub.screen : undefined,
      maxBitrate: pub.maxBitrate
    })

    const accepts = (peerId: PeerId) => (): "yes" | "no" | "ask" => {
      const answer = allowed.get(peerId)
      if (answer !== undefined) return answer ? "yes" : "no"
      return config.mediaPolicy === "accept" ? "yes" : config.mediaPolicy === "deny" ? "no" : "ask"
    }

    /** Tells Connections which links carry media (kept from eviction). */
    const protect = () => {
      const active = new Set<PeerId>()
      for (const [id, { engine }] of engines) if (engine.active() || cameraLinks.has(id)) active.add(id)
      connections.protectMedia(active)
    }

    /**
     * Something to send (camera or screen): then every link gets an engine. Until then a link
     * gets one only when its peer sends media frames: a mesh that never uses media holds no
     * engine (its queue, fiber and scope) per link.
     */
    const publishing = () => pub.camera !== undefined || pub.screen !== undefined

    const syncAll: Effect.Effect<void> = Effect.suspend(() =>
      Effect.andThen(
        publishing() ? Effect.flatMap(connections.connected, (ids) => Effect.forEach(ids, engineFor, { discard: true })) : Effect.void,
        Effect.suspend(() => {
          assignCamera()
          protect()
          return Effect.forEach([...[...engines.values()].map((e) => e.engine), ...calls.engines()], (e) => e.sync, { discard: true })
        })
      )
    )

    /** The engine of a link, made for its current connection if there is none (or only a stale one); then everything is synced. */
    const ensure = Effect.fnUntraced(function*(peerId: PeerId) {
      const existing = engines.get(peerId)
      const engine = yield* engineFor(peerId)
      if (engine !== undefined && engine !== existing?.engine) yield* syncAll
      return engine
    })

    /** The engine of a link, made for its current connection if there is none (or only a stale one). */
    const engineFor = Effect.fnUntraced(function*(peerId: PeerId) {
      const pc = connections.mediaOf(peerId)
      const existing = engines.get(peerId)
      if (pc === undefined || existing?.engine.pc === pc) return existing?.engine
      if (existing !== undefined) yield* release(peerId, existing)
      const scope = yield* Scope.make()
      const engine = yield* makeLinkMedia({
        peerId,
        polite: isPolite(identity.peerId, peerId),
        pc,
        send: (frame: MediaFrame) => connections.send(peerId, JSON.stringify(frame)),
        publication: publicationFor(peerId),
        emit: (event) => Effect.andThen(emit(event), Effect.sync(protect)),
        makeStream: (tracks) => platform.makeStream(tracks),
        accepts: accepts(peerId)
      }).pipe(Scope.provide(scope))
      engines.set(peerId, { engine, scope })
      return engine
    })

    /** Ends a link's engine: its remote streams are reported removed, then its fiber stops. */
    const release = Effect.fnUntraced(function*(peerId: PeerId, entry: { readonly engine: LinkMedia; readonly scope: Scope.Closeable }) {
      if (engines.get(peerId) === entry) engines.delete(peerId)
      previousTotals.delete(`link:${peerId}`)
      yield* entry.engine.close
      yield* entry.engine.closed.pipe(Effect.timeout(1000), Effect.ignore)
      yield* Scope.close(entry.scope, Exit.void)
    })

    const drop = Effect.fnUntraced(function*(peerId: PeerId) {
      const entry = engines.get(peerId)
      if (entry === undefined || connections.mediaOf(peerId) === entry.engine.pc) return
      yield* release(peerId, entry)
      yield* syncAll
    })
    yield* Effect.addFinalizer(() => Effect.forEach([...engines.values()], (e) => Scope.close(e.scope, Exit.void), { discard: true }))

    // links come and go
    const linkEvents = yield* PubSub.subscribe(meshEvents)
    yield* Effect.gen(function*() {
      while (true) {
        const event = yield* PubSub.take(linkEvents)
        if (event._tag === "PeerConnected") {
          connectedNow.add(event.peerId)
          if (publishing()) yield* ensure(event.peerId)
        } else if (event._tag === "PeerDisconnected") {
          connectedNow.delete(event.peerId)
          yield* drop(event.peerId)
        }
      }
    }).pipe(Effect.forkScoped)

    // media frames, in order, to their link's engine
    const frames = yield* connections.mediaInbound
    yield* Effect.gen(function*() {
      while (true) {
        const { frame, from } = yield* PubSub.take(frames)
        const engine = yield* ensure(from)
        if (engine !== undefined) yield* engine.frame(frame)
      }
    }).pipe(Effect.forkScoped)

    // nothing is published yet: links get their engines from the first media frame or startMedia

    const stats = Effect.fnUntraced(function*(peerId?: PeerId) {
      const out: Array<PeerMediaStats> = []
      const all = [
        ...[...engines].map(([id, { engine }]) => ({ id, engine, call: false })),
        ...calls.engines().map((engine) => ({ id: engine.state().peerId, engine, call: true }))
      ]
      const live = new Set(all.map((x) => `${x.call ? "call" : "link"}:${x.id}`))
      for (const key of previousTotals.keys()) if (!live.has(key)) previousTotals.delete(key)
      for (const { call, engine, id } of all) {
        if (peerId !== undefined && id !== peerId) continue
        const key = `${call ? "call" : "link"}:${id}`
        const got = yield* Effect.tryPromise(() => collectStats(engine.pc)).pipe(Effect.option)
        if (got._tag === "None") continue // the connection closed meanwhile
        const totals = got.value
        const now = yield* Clock.currentTimeMillis
        const previous = previousTotals.get(key)
        previousTotals.set(key, { at: now, totals })
        const seconds = previous === undefined ? 0 : (now - previous.at) / 1000
        const rate = (bytes: number, before: number | undefined) => seconds > 0 && before !== undefined ? Math.max(0, ((bytes - before) * 8) / seconds) : 0
        out.push({
          peerId: id,
          call,
          ...totals,
          bitrateIn: rate(totals.bytesReceived, previous?.totals.bytesReceived),
          bitrateOut: rate(totals.bytesSent, previous?.totals.bytesSent)
        })
      }
      return out
    })

    return Media.of({
      publish: (tracks, options) =>
        Effect.suspend(() => {
          pub.camera = { audio: tracks.audio, video: tracks.video }
          pub.to = options?.to === undefined ? undefined : new Set(options.to)
          pub.audioEnabled = true
          pub.videoEnabled = true
          return syncAll
        }),
      unpublish: Effect.suspend(() => {
        pub.camera = undefined
        pub.to = undefined
        return syncAll
      }),
      setEnabled: (kind, enabled) =>
        Effect.suspend(() => {
          if (kind === "audio") pub.audioEnabled = enabled
          else pub.videoEnabled = enabled
          return syncAll
        }),
      replaceTrack: (kind, track) =>
        Effect.suspend(() => {
          if (pub.camera === undefined) return Effect.void
          pub.camera = { ...pub.camera, [kind]: track }
          return syncAll
        }),
      publishScreen: (track) =>
        Effect.suspend(() => {
          pub.screen = track
          return syncAll
        }),
      acquire: (constraints) => scopedMedia("getUserMedia", platform.getUserMedia, constraints),
      acquireDisplay: (constraints) => scopedMedia("getDisplayMedia", platform.getDisplayMedia, constraints),
      devices: Effect.suspend(() => {
        const enumerate = platform.enumerateDevices
        return enumerate === undefined
          ? Effect.fail(new MediaError({ reason: "not-supported", message: "this platform has no enumerateDevices" }))
          : Effect.tryPromise({ try: () => enumerate(), catch: mediaErrorOf })
      }),
      events: PubSub.subscribe(events),
      peers: Effect.sync(() => [...[...engines.values()].map((e) => e.engine.state()), ...calls.states()]),
      call: (peerId, tracks) => calls.call(peerId, tracks),
      answerCall: (peerId, accept, tracks, reason) => calls.answer(peerId, accept, tracks, reason),
      hangUp: (peerId, reason) => calls.hangUp(peerId, reason),
      stats,
      setMaxBitrate: (bps) =>
        Effect.suspend(() => {
          pub.maxBitrate = bps
          return syncAll
        }),
      allow: (peerId, ok) =>
        Effect.suspend(() => {
          allowed.set(peerId, ok)
          // bounded by the links: forget peers no longer linked
          for (const id of allowed.keys()) if (!engines.has(id) && id !== peerId) allowed.delete(id)
          return engines.get(peerId)?.engine.reconsider ?? Effect.void
        }),
      active: Effect.sync(() => new Set([...engines].filter(([, e]) => e.engine.active()).map(([id]) => id)))
    })
  }).pipe(Effect.annotateLogs("module", "Media"))
)
