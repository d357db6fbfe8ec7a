/**
 * Media on one link: its transceivers, its perfect negotiation over the link's data channel
 * (`internal/perfectNegotiation.ts`), and what it receives (`internal/remoteMedia.ts`).
 *
 * Everything that touches the connection runs on one fiber, in order: local changes (`sync`,
 * which reads what should be sent now) and the remote's media frames. There is no global
 * lock: each link negotiates on its own.
 *
 * Transceivers are made once per slot (audio, video, screen) the first time the slot is
 * published, and reused: a stop is `replaceTrack(null)` with direction `recvonly`, a restart
 * the reverse, so the m-line count never grows. A mute or a device switch is
 * `replaceTrack` alone (no renegotiation) plus a `state` frame.
 *
 * @since 2.0.0
 */
import { Effect, Fiber, Queue, type Scope } from "effect"
import { mayOffer, onRemoteAnswer, onRemoteOffer, senderDirection, wireTrack } from "../../internal/perfectNegotiation.ts"
import { RemoteMedia } from "../../internal/remoteMedia.ts"
import type { Description, MediaFrame, MediaSource, TrackKind } from "../../schema/MediaFrames.ts"
import type { PeerId } from "../../schema/PeerId.ts"
import {
  MediaError,
  type MediaEvent,
  type MediaPeerConnectionLike,
  type MediaTrackLike,
  type PeerMediaState,
  type RtpTransceiverLike
} from "../../services/Media.ts"

/** What this side should send on one link now. */
export interface LinkPublication {
  /** The camera source, when it goes to this link. */
  readonly camera: { readonly audio?: MediaTrackLike | undefined; readonly video?: MediaTrackLike | undefined } | undefined
  readonly audioEnabled: boolean
  readonly videoEnabled: boolean
  readonly screen: MediaTrackLike | undefined
  readonly maxBitrate: number | undefined
}

export interface LinkMediaOptions {
  readonly peerId: PeerId
  readonly polite: boolean
  readonly pc: MediaPeerConnectionLike
  readonly send: (frame: MediaFrame) => Effect.Effect<unknown>
  readonly publication: () => LinkPublication
  readonly emit: (event: MediaEvent) => Effect.Effect<unknown>
  readonly makeStream: (tracks: ReadonlyArray<unknown>) => unknown
  /** Whether remote media from this peer is taken (`mediaPolicy`); a refused source raises no event. */
  readonly accepts: () => "yes" | "no" | "ask"
}

export interface LinkMedia {
  readonly pc: MediaPeerConnectionLike
  /** Applies the current publication (queued behind what is under way). */
  readonly sync: Effect.Effect<void>
  /** Hands over a media frame from the remote (queued, in order). */
  frame(frame: MediaFrame): Effect.Effect<void>
  /** The policy for this peer changed (`allow`): announces held back are looked at again. */
  readonly reconsider: Effect.Effect<void>
  /** The link closed: remote streams are removed, then the fiber ends (`closed`). */
  readonly close: Effect.Effect<void>
  readonly closed: Effect.Effect<void>
  readonly state: () => PeerMediaState
  /** True while media flows either way. */
  readonly active: () => boolean
}

/** A werift track (Node): it has an RTP event and a clone sharing its source. */
const isWeriftTrack = (track: MediaTrackLike): track is MediaTrackLike & { clone(): MediaTrackLike } =>
  "onReceiveRtp" in track && typeof (track as { clone?: unknown }).clone === "function"

type Slot = "audio" | "video" | "screen"
const slots: ReadonlyArray<Slot> = ["audio", "video", "screen"]
const kindOf = (slot: Slot): TrackKind => (slot === "audio" ? "audio" : "video")
const sourceOf = (slot: Slot): MediaSource => (slot === "screen" ? "screen" : "camera")

interface Announced {
  readonly mids: string
  readonly audio: boolean
  readonly video: boolean
}

/**
 * Most m-lines a remote offer may have: the link's data channel, this side's three and the
 * remote's three. A longer offer (each m-line costs a receiver) is refused.
 */
export const MAX_M_LINES = 8

/** Commands waiting on one link (frames beyond it are dropped). */
export const COMMAND_BUFFER = 128

type Command = { readonly _tag: "Sync" } | { readonly _tag: "Reconsider" } | { readonly _tag: "Frame"; readonly frame: MediaFrame } | { readonly _tag: "Close" }

/** Starts the link's media fiber in the caller's Scope. */
export const makeLinkMedia = (o: LinkMediaOptions): Effect.Effect<LinkMedia, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { pc, peerId } = o
    // bounded: an honest peer has a few frames in flight; a flood only breaks its own link's media
    const commands = yield* Queue.dropping<Command>(COMMAND_BUFFER)
    let syncQueued = false
    const transceivers = new Map<Slot, RtpTransceiverLike>()
    const remote = new RemoteMedia<unknown>()
    /** Announces not taken yet (policy "ask" or "deny"), at most one per source. */
    const held = new Map<MediaSource, Extract<MediaFrame, { op: "announce" }>>()
    const announced = new Map<MediaSource, Announced>()
    /** Something changed that the remote must negotiate. */
    let wanted = false
    let offers = 0
    let appliedBitrate: number | undefined

    const failed = (step: string, e: unknown) =>
      o.emit({
        _tag: "MediaFailed",
        error: new MediaError({ reason: "negotiation-failed", message: `${step}: ${e instanceof Error ? e.message : String(e)}`, peerId })
      })
    const rtc = <A>(step: string, f: () => Promise<A>) =>
      Effect.tryPromise({ try: f, catch: (e) => e }).pipe(Effect.tapError((e) => failed(step, e)))

    /**
     * werift senders rewrite the RTP packets of their track in place, so one werift track
     * cannot feed two links: each link sends its own clone (same source). Browser tracks
     * go as they are.
     */
    const clones = new Map<Slot, { readonly original: MediaTrackLike; readonly clone: MediaTrackLike }>()
    const forLink = (slot: Slot, track: MediaTrackLike | null): MediaTrackLike | null => {
      if (track === null || !isWeriftTrack(track)) return track
      const cached = clones.get(slot)
      if (cached?.original === track) return cached.clone
      cached?.clone.stop()
      const clone = track.clone()
      clones.set(slot, { original: track, clone })
      return clone
    }
    yield* Effect.addFinalizer(() => Effect.sync(() => clones.forEach((c) => c.clone.stop())))

    /** What each slot should carry now: the track (if published) and whether it is on. */
    const desired = (slot: Slot) => {
      const p = o.publication()
      if (slot === "screen") return { track: p.screen, enabled: true }
      const track = p.camera?.[slot]
      return { track, enabled: slot === "audio" ? p.audioEnabled : p.videoEnabled }
    }

    const applyBitrate = (t: RtpTransceiverLike, bps: number | undefined) =>
      rtc("setParameters", async () => {
        const parameters = t.sender.getParameters()
        const encodings = parameters.encodings !== undefined && parameters.encodings.length > 0 ? parameters.encodings : [{}]
        for (const e of encodings) {
          if (bps === undefined) delete e["maxBitrate"]
          else e["maxBitrate"] = bps
        }
        await t.sender.setParameters({ ...parameters, encodings })
      }).pipe(Effect.ignore)

    /** Puts the publication on the transceivers; renegotiation only for a new m-line or a direction change. */
    const applyPublication = Effect.gen(function*() {
      for (const slot of slots) {
        const { enabled, track } = desired(slot)
        const wire = forLink(slot, wireTrack(track, enabled))
        let t = transceivers.get(slot)
        if (t === undefined) {
          if (track === undefined) continue
          const created = yield* Effect.try({
            try: () => pc.addTransceiver(wire ?? kindOf(slot), { direction: "sendrecv" }),
            catch: (e) => e
          }).pipe(Effect.tapError((e) => failed("addTransceiver", e)), Effect.option)
          if (created._tag === "None") continue
          t = created.value
          transceivers.set(slot, t)
          wanted = true
        } else if (t.sender.track !== wire) {
          yield* rtc("replaceTrack", () => t!.sender.replaceTrack(wire)).pipe(Effect.ignore)
        }
        const direction = senderDirection(track !== undefined)
        if (t.direction !== direction) {
          t.direction = direction
          wanted = true
        }
      }
      const bps = o.publication().maxBitrate
      if (bps !== appliedBitrate) {
        appliedBitrate = bps
        for (const t of transceivers.values()) yield* applyBitrate(t, bps)
      }
    })

    /** Tells the remote what changed without negotiation: stops and mute states. */
    const sendStates = Effect.gen(function*() {
      for (const source of ["camera", "screen"] as const) {
        const s = sourceState(source)
        const a = announced.get(source)
        if (a === undefined) continue
        if (!s.published) {
          announced.delete(source)
          yield* o.send({ t: "media", op: "stop", source })
        } else if (a.audio !== s.audio || a.video !== s.video) {
          announced.set(source, { ...a, audio: s.audio, video: s.video })
          yield* o.send({ t: "media", op: "state", source, audio: s.audio, video: s.video })
        }
      }
    })

    const sourceState = (source: MediaSource) => {
      const p = o.publication()
      if (source === "screen") return { published: p.screen !== undefined, audio: false, video: p.screen !== undefined }
      const audio = p.camera?.audio !== undefined
      const video = p.camera?.video !== undefined
      return { published: audio || video, audio: audio && p.audioEnabled, video: video && p.videoEnabled }
    }

    /** Once negotiated (stable, nothing wanted): announces sources whose m-lines are new to the remote. */
    const announce = Effect.gen(function*() {
      for (const source of ["camera", "screen"] as const) {
        const s = sourceState(source)
        if (!s.published) continue
        const tracks: Array<{ mid: string; kind: TrackKind }> = []
        for (const slot of slots) {
          if (sourceOf(slot) !== source || desired(slot).track === undefined) continue
          const mid = transceivers.get(slot)?.mid
          if (mid === null || mid === undefined) return // not negotiated yet
          tracks.push({ mid, kind: kindOf(slot) })
        }
        const mids = tracks.map((t) => t.mid).join(" ")
        const a = announced.get(source)
        if (a?.mids === mids) continue
        announced.set(source, { mids, audio: s.audio, video: s.video })
        yield* o.send({ t: "media", op: "announce", source, tracks, audio: s.audio, video: s.video })
      }
    })

    /** Offers when wanted and possible; announces once all is negotiated. */
    const settle = Effect.gen(function*() {
      if (mayOffer(wanted, pc.signalingState)) {
        wanted = false
        const offer = yield* rtc("createOffer", () => pc.createOffer())
        const sdp = offer.sdp ?? ""
        yield* rtc("setLocalDescription", () => pc.setLocalDescription({ type: "offer", sdp }))
        offers++
        yield* o.send({ t: "media", op: "neg", desc: { type: "offer", sdp } })
      } else if (!wanted && pc.signalingState === "stable") {
        yield* announce
      }
    }).pipe(Effect.ignore)

    const onDescription = (desc: Description) =>
      Effect.gen(function*() {
        if (desc.type === "answer") {
          if (onRemoteAnswer(pc.signalingState) === "apply") {
            yield* rtc("setRemoteDescription", () => pc.setRemoteDescription(desc))
          }
          return
        }
        const mLines = desc.sdp.split("\nm=").length - 1
        if (mLines > MAX_M_LINES) return yield* failed("remote offer", `${mLines} m-lines (at most ${MAX_M_LINES})`)
        const decision = onRemoteOffer(o.polite, pc.signalingState)
        if (decision === "ignore") return
        if (decision === "rollback-and-answer") {
          yield* rtc("rollback", () => pc.setLocalDescription({ type: "rollback" }))
          wanted = true // what our offer carried still needs negotiating
        }
        yield* rtc("setRemoteDescription", () => pc.setRemoteDescription(desc))
        const answer = yield* rtc("createAnswer", () => pc.createAnswer())
        const sdp = answer.sdp ?? ""
        yield* rtc("setLocalDescription", () => pc.setLocalDescription({ type: "answer", sdp }))
        yield* o.send({ t: "media", op: "neg", desc: { type: "answer", sdp } })
      }).pipe(Effect.ignore)

    const receiverTrack = (mid: string) => pc.getTransceivers().find((t) => t.mid === mid)?.receiver.track ?? undefined

    const report = (changes: ReturnType<RemoteMedia<unknown>["close"]>, reason = "stopped") =>
      Effect.forEach(changes, (c) => {
        switch (c._tag) {
          case "Added":
            return o.emit({
              _tag: "RemoteStreamAdded",
              peerId,
              source: c.source,
              tracks: c.tracks,
              stream: o.makeStream(c.tracks),
              audio: c.audio,
              video: c.video
            })
          case "Removed":
            return o.emit({ _tag: "RemoteStreamRemoved", peerId, source: c.source, reason })
          case "State":
            return o.emit({ _tag: "RemoteMediaState", peerId, source: c.source, audio: c.audio, video: c.video })
        }
      }, { discard: true })

    const onFrame = (frame: MediaFrame) => {
      switch (frame.op) {
        case "neg":
          return Effect.andThen(onDescription(frame.desc), settle)
        case "announce": {
          const verdict = o.accepts()
          if (verdict === "yes") {
            held.delete(frame.source)
            return report(remote.announce(frame.source, frame.tracks, { audio: frame.audio, video: frame.video }, receiverTrack))
          }
          held.set(frame.source, frame)
          return verdict === "ask" ? o.emit({ _tag: "MediaRequested", peerId, source: frame.source }) : Effect.void
        }
        case "state": {
          const h = held.get(frame.source)
          if (h !== undefined) held.set(frame.source, { ...h, audio: frame.audio, video: frame.video })
          return report(remote.state(frame.source, { audio: frame.audio, video: frame.video }))
        }
        case "stop":
          held.delete(frame.source)
          return report(remote.stop(frame.source))
      }
    }

    const fiber = yield* Effect.gen(function*() {
      while (true) {
        const command = yield* Queue.take(commands)
        if (command._tag === "Close") return yield* report(remote.close(), "link closed")
        if (command._tag === "Reconsider") {
          if (o.accepts() === "yes") yield* Effect.forEach([...held.values()], onFrame, { discard: true })
        } else if (command._tag === "Sync") {
          syncQueued = false
          yield* applyPublication
          yield* sendStates
          yield* settle
        } else {
          yield* onFrame(command.frame)
        }
      }
    }).pipe(
      Effect.catchCause((cause) => Effect.logError(`media on the link to ${peerId} stopped`, cause)),
      Effect.forkScoped
    )

    return {
      pc,
      sync: Effect.suspend(() => {
        if (syncQueued) return Effect.void
        syncQueued = true
        return Queue.offer(commands, { _tag: "Sync" }).pipe(Effect.asVoid)
      }),
      frame: (frame) => Queue.offer(commands, { _tag: "Frame", frame }).pipe(Effect.asVoid),
      close: Queue.offer(commands, { _tag: "Close" }).pipe(Effect.asVoid),
      closed: Effect.asVoid(Fiber.await(fiber)),
      reconsider: Queue.offer(commands, { _tag: "Reconsider" }).pipe(Effect.asVoid),
      state: (): PeerMediaState => ({
        peerId,
        sending: [...announced.keys()],
        receiving: remote.sources.map(([source, s]) => ({ source, audio: s.audio, video: s.video })),
        transceivers: pc.getTransceivers().length,
        offers
      }),
      active: () => announced.size > 0 || remote.sources.length > 0
    }
  })
