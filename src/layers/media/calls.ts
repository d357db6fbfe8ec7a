/**
 * Calls to any peer of the network, linked or not: each call has its own peer connection
 * (not a mesh link: never evicted, not counted in maxPeers, not used for routing), set up
 * with signed direct messages routed over the mesh (`schema/CallMessages.ts`). Once the
 * callee accepts, both sides run a `linkMedia` engine on the call's connection; its
 * negotiation frames and ICE candidates are routed the same way (candidates that overtake
 * their description wait for it).
 *
 * Two peers inviting each other at once: the greater id's invite wins, and the other side
 * takes it as the answer to its own. At most `MAX_CALLS` calls (ringing or up) at once; more
 * invites are rejected as busy. An unanswered invite ends after `ringTimeoutMs`.
 *
 * @since 2.0.0
 */
import { Deferred, Effect, Exit, Scope } from "effect"
import { BoundedMap } from "../../internal/boundedMap.ts"
import { isPolite } from "../../internal/perfectNegotiation.ts"
import { CALL_KIND, type CallMessage, decodeCallMessage } from "../../schema/CallMessages.ts"
import { isInitiator, type PeerId } from "../../schema/PeerId.ts"
import type { Delivered } from "../../services/Gossip.ts"
import { type CallConnectionLike, type LocalTracks, MediaError, type MediaEvent, type MediaPeerConnectionLike, type PeerMediaState } from "../../services/Media.ts"
import type { Router } from "../../services/Router.ts"
import { candidateInit, candidateSignal } from "../webrtc/negotiation.ts"
import { on } from "../webrtc/events.ts"
import { type LinkMedia, type LinkPublication, makeLinkMedia } from "./linkMedia.ts"

/** Calls ringing or up at once. */
export const MAX_CALLS = 8
/** Routed call messages remembered until acknowledged (for the signaling fallback). */
const MAX_INFLIGHT = 1024
/** Candidates held for a call whose description has not arrived. */
const MAX_EARLY_CANDIDATES = 64

export interface CallsOptions {
  readonly self: PeerId
  readonly router: Router["Service"]
  /** A new connection for a call; undefined where there is no WebRTC (memory networks). */
  readonly makePc: (() => CallConnectionLike) | undefined
  readonly emit: (event: MediaEvent) => Effect.Effect<unknown>
  readonly makeStream: (tracks: ReadonlyArray<unknown>) => unknown
  /** What a call sends: its own tracks, with the mesh's mute states, screen and bitrate cap. */
  readonly publication: (tracks: () => LocalTracks) => () => LinkPublication
  readonly ringTimeoutMs: number
  /**
   * The fallback path: sends a call message through the signaling server (false when it
   * cannot: not connected, or the peer is not verified there).
   */
  readonly viaSignaling: (to: PeerId, message: CallMessage) => Effect.Effect<boolean>
  /** Whether any mesh link is up (with none, calls go through the signaling server at once). */
  readonly hasLinks: () => boolean
  /** How long an invite routed over the mesh may go unheard (no `ringing`) before it is sent through the server. */
  readonly fallbackAfterMs: number
}

interface CallEntry {
  readonly peerId: PeerId
  callId: string
  state: "inviting" | "ringing" | "up"
  /** The callee said `ringing` (or answered). */
  heard: boolean
  /** How this call's messages travel: routed over the mesh, or (fallback) through the signaling server. */
  path: "mesh" | "signaling"
  tracks: LocalTracks
  readonly scope: Scope.Closeable
  engine: LinkMedia | undefined
  /** Media frames that came before the engine (the other side started first, or messages overtook each other). */
  readonly early: Array<Extract<CallMessage, { op: "media" }>["frame"]>
  /** The caller's wait for the answer. */
  readonly answered: Deferred.Deferred<void, MediaError>
}

export interface Calls {
  call(peerId: PeerId, tracks: LocalTracks): Effect.Effect<void, MediaError>
  answer(peerId: PeerId, accept: boolean, tracks: LocalTracks, reason?: string): Effect.Effect<void, MediaError>
  hangUp(peerId: PeerId, reason?: string): Effect.Effect<void>
  /** A call message, routed over the mesh or relayed by the signaling server. */
  handle(message: Delivered, via?: "mesh" | "signaling"): Effect.Effect<void>
  /** A routed call message was never acknowledged: its call falls back to the signaling server. */
  undelivered(id: string): Effect.Effect<void>
  /** Calls whose engine runs (to sync, to list, for stats). */
  readonly engines: () => ReadonlyArray<LinkMedia>
  readonly states: () => ReadonlyArray<PeerMediaState & { readonly call: true }>
  readonly closeAll: Effect.Effect<void>
}

const newCallId = () => `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 12)}`

export const makeCalls = (o: CallsOptions): Effect.Effect<Calls> =>
  Effect.sync(() => {
    const calls = new Map<PeerId, CallEntry>()
    /** Routed call messages not yet acknowledged, by message id (to resend them through signaling). */
    const inflight = new BoundedMap<string, { readonly to: PeerId; readonly message: CallMessage }>(MAX_INFLIGHT)
    const send = (to: PeerId, message: CallMessage) =>
      Effect.gen(function*() {
        if (calls.get(to)?.path === "signaling") return yield* o.viaSignaling(to, message)
        const id = yield* o.router.send(to, message, CALL_KIND).pipe(Effect.option)
        if (id._tag === "Some") inflight.set(id.value, { to, message })
        else yield* o.viaSignaling(to, message)
      }).pipe(Effect.ignore)

    const end = Effect.fnUntraced(function*(entry: CallEntry, reason: string, tell: boolean) {
      if (calls.get(entry.peerId) !== entry) return
      calls.delete(entry.peerId)
      if (tell) yield* send(entry.peerId, { callId: entry.callId, op: "hangup", reason })
      if (entry.engine !== undefined) {
        yield* entry.engine.close
        yield* entry.engine.closed.pipe(Effect.timeout(1000), Effect.ignore)
      }
      yield* Deferred.fail(entry.answered, new MediaError({ reason: "call-rejected", message: reason, peerId: entry.peerId }))
      yield* Scope.close(entry.scope, Exit.void)
      yield* o.emit({ _tag: "CallEnded", peerId: entry.peerId, reason })
    })

    /** The call's connection and engine, in the call's Scope. */
    const start = Effect.fnUntraced(function*(entry: CallEntry) {
      const makePc = o.makePc
      if (makePc === undefined) return yield* new MediaError({ reason: "not-supported", message: "calls need WebRTC", peerId: entry.peerId })
      const pc = yield* Effect.acquireRelease(
        Effect.try({ try: makePc, catch: (e) => new MediaError({ reason: "not-supported", message: String(e), peerId: entry.peerId }) }),
        (pc) => Effect.promise(() => Promise.resolve().then(() => pc.close()).then(() => undefined, () => undefined))
      ).pipe(Scope.provide(entry.scope))
      const early: Array<ReturnType<typeof candidateInit>> = []
      let described = false
      const media: MediaPeerConnectionLike = pc
      const flush = () => {
        described = true
        for (const c of early.splice(0)) if (c !== undefined) pc.addIceCandidate(c).catch(() => undefined)
      }
      // the engine sees this connection; a remote description lets held candidates in
      const wrapped: MediaPeerConnectionLike = {
        get signalingState() {
          return media.signalingState
        },
        addTransceiver: (track, init) => media.addTransceiver(track, init),
        getTransceivers: () => media.getTransceivers(),
        createOffer: () => media.createOffer(),
        createAnswer: () => media.createAnswer(),
        setLocalDescription: (d) => media.setLocalDescription(d),
        setRemoteDescription: (d) => media.setRemoteDescription(d).then((r) => (flush(), r)),
        getStats: () => media.getStats()
      }
      const detach = [
        on(pc, "icecandidate", (event) => {
          const signal = candidateSignal(event)
          if (signal === undefined) return
          const cand = candidateInit(signal.data)
          if (cand === undefined) return
          Effect.runFork(send(entry.peerId, { callId: entry.callId, op: "cand", cand }))
        }),
        on(pc, "connectionstatechange", () => {
          if (pc.connectionState === "failed" || pc.connectionState === "closed") {
            Effect.runFork(end(entry, `connection ${pc.connectionState}`, true))
          }
        })
      ]
      yield* Scope.addFinalizer(entry.scope, Effect.sync(() => detach.forEach((f) => f())))
      const engine = yield* makeLinkMedia({
        peerId: entry.peerId,
        polite: isPolite(o.self, entry.peerId),
        pc: wrapped,
        send: (frame) => send(entry.peerId, { callId: entry.callId, op: "media", frame }),
        publication: o.publication(() => entry.tracks),
        emit: o.emit,
        makeStream: o.makeStream,
        accepts: () => "yes"
      }).pipe(Scope.provide(entry.scope))
      entry.engine = engine
      entry.state = "up"
      const addCandidate = (cand: ReturnType<typeof candidateInit>) => {
        if (described) {
          if (cand !== undefined) pc.addIceCandidate(cand).catch(() => undefined)
        } else if (early.length < MAX_EARLY_CANDIDATES) early.push(cand)
      }
      candidates.set(entry, addCandidate)
      yield* engine.sync
      for (const frame of entry.early.splice(0)) yield* engine.frame(frame)
    })
    const candidates = new WeakMap<CallEntry, (cand: ReturnType<typeof candidateInit>) => void>()

    const entryFor = Effect.fnUntraced(function*(peerId: PeerId, callId: string, state: CallEntry["state"], tracks: LocalTracks) {
      const entry: CallEntry = {
        peerId,
        callId,
        state,
        tracks,
        path: "mesh",
        heard: false,
        scope: yield* Scope.make(),
        engine: undefined,
        early: [],
        answered: yield* Deferred.make<void, MediaError>()
      }
      calls.set(peerId, entry)
      return entry
    })

    const ring = (entry: CallEntry) =>
      Effect.sleep(o.ringTimeoutMs).pipe(
        Effect.andThen(Effect.suspend(() => entry.state === "up" ? Effect.void : end(entry, "no answer", true))),
        Effect.forkIn(entry.scope)
      )

    const handle = (message: Delivered, via: "mesh" | "signaling" = "mesh") =>
      Effect.gen(function*() {
        if (!message.verified) return // a call is only ever set up with a proven peer
        const m = decodeCallMessage(message.content)
        if (m === undefined) return
        const peerId = message.origin
        const entry = calls.get(peerId)
        // a peer that reaches us through the server is answered the same way
        if (via === "signaling" && entry !== undefined && entry.callId === m.callId) entry.path = "signaling"
        switch (m.op) {
          case "invite": {
            if (entry !== undefined && entry.callId === m.callId) return // a retransmission
            if (entry?.state === "inviting") {
              // both invited: the greater id's call wins; the smaller side takes it as its answer
              if (!isInitiator(peerId, o.self)) return
              entry.callId = m.callId
              yield* send(peerId, { callId: m.callId, op: "accept" })
              yield* start(entry).pipe(Effect.catch((e) => Effect.andThen(Deferred.fail(entry.answered, e), end(entry, e.message, true))))
              yield* Deferred.succeed(entry.answered, undefined)
              return
            }
            if (entry !== undefined || calls.size >= MAX_CALLS) return yield* send(peerId, { callId: m.callId, op: "reject", reason: "busy" })
            const ringing = yield* entryFor(peerId, m.callId, "ringing", {})
            ringing.path = via
            yield* send(peerId, { callId: m.callId, op: "ringing" })
            yield* ring(ringing)
            return yield* o.emit({ _tag: "IncomingCall", peerId, hops: message.hops })
          }
          case "ringing": {
            if (entry?.callId === m.callId) entry.heard = true
            return
          }
          case "accept": {
            if (entry?.state !== "inviting" || entry.callId !== m.callId) return
            entry.heard = true
            yield* start(entry).pipe(Effect.catch((e) => Effect.andThen(Deferred.fail(entry.answered, e), end(entry, e.message, true))))
            return yield* Deferred.succeed(entry.answered, undefined)
          }
          case "reject":
          case "hangup": {
            if (entry === undefined || entry.callId !== m.callId) return
            return yield* end(entry, m.reason?.slice(0, 200) ?? m.op, false)
          }
          case "media": {
            if (entry?.callId !== m.callId) return
            if (entry.engine !== undefined) yield* entry.engine.frame(m.frame)
            else if (entry.early.length < MAX_EARLY_CANDIDATES) entry.early.push(m.frame)
            return
          }
          case "cand": {
            if (entry?.callId !== m.callId) return
            candidates.get(entry)?.(m.cand === null ? null : candidateInit(m.cand))
            return
          }
        }
      })

    return {
      call: (peerId, tracks) =>
        Effect.gen(function*() {
          if (peerId === o.self) return yield* new MediaError({ reason: "peer-unreachable", message: "cannot call self", peerId })
          if (o.makePc === undefined) return yield* new MediaError({ reason: "not-supported", message: "calls need WebRTC", peerId })
          if (calls.has(peerId)) return yield* new MediaError({ reason: "call-rejected", message: "a call with this peer exists", peerId })
          if (calls.size >= MAX_CALLS) return yield* new MediaError({ reason: "call-rejected", message: "too many calls", peerId })
          const entry = yield* entryFor(peerId, newCallId(), "inviting", tracks)
          yield* ring(entry)
          const invite: CallMessage = { callId: entry.callId, op: "invite" }
          if (!o.hasLinks()) {
            entry.path = "signaling"
            if (!(yield* o.viaSignaling(peerId, invite))) {
              yield* end(entry, "unreachable", false)
              return yield* new MediaError({ reason: "peer-unreachable", message: "no mesh link, and the server cannot relay to this peer", peerId })
            }
          } else {
            yield* send(peerId, invite)
            // unheard over the mesh for a while: through the server instead
            yield* Effect.sleep(o.fallbackAfterMs).pipe(
              Effect.andThen(Effect.suspend(() => {
                if (entry.heard || calls.get(peerId) !== entry) return Effect.void
                entry.path = "signaling"
                return o.viaSignaling(peerId, invite)
              })),
              Effect.forkIn(entry.scope)
            )
          }
          return yield* Deferred.await(entry.answered).pipe(
            Effect.catch((e) =>
              Effect.fail(e.message === "no answer" ? new MediaError({ reason: "timeout", message: "no answer", peerId }) : e)
            )
          )
        }),
      answer: (peerId, accept, tracks, reason) =>
        Effect.gen(function*() {
          const entry = calls.get(peerId)
          if (entry?.state !== "ringing") return yield* new MediaError({ reason: "call-rejected", message: "no call is ringing from this peer", peerId })
          if (!accept) {
            calls.delete(peerId)
            yield* send(peerId, { callId: entry.callId, op: "reject", reason: reason ?? "rejected" })
            yield* Scope.close(entry.scope, Exit.void)
            return
          }
          entry.tracks = tracks
          yield* start(entry).pipe(Effect.tapError((e) => end(entry, e.message, true)))
          yield* send(peerId, { callId: entry.callId, op: "accept" })
        }),
      hangUp: (peerId, reason = "hung up") =>
        Effect.suspend(() => {
          const entry = calls.get(peerId)
          return entry === undefined ? Effect.void : end(entry, reason, true)
        }),
      handle,
      undelivered: (id) =>
        Effect.suspend(() => {
          const lost = inflight.get(id)
          if (lost === undefined) return Effect.void
          inflight.delete(id)
          const entry = calls.get(lost.to)
          if (entry === undefined || entry.callId !== lost.message.callId) return Effect.void
          entry.path = "signaling"
          return o.viaSignaling(lost.to, lost.message).pipe(Effect.asVoid)
        }),
      engines: () => [...calls.values()].flatMap((e) => (e.engine === undefined ? [] : [e.engine])),
      states: () => [...calls.values()].flatMap((e) => (e.engine === undefined ? [] : [{ ...e.engine.state(), call: true as const }])),
      closeAll: Effect.suspend(() => Effect.forEach([...calls.values()], (e) => end(e, "closed", true), { discard: true }))
    }
  })
