/**
 * Setting up one WebRTC link: the offer/answer/candidate exchange over the pair's
 * `SignalChannel`, and the connection-level events.
 *
 * The initiator creates one ordered data channel labelled `"messages"`, makes the offer and
 * sends it as `{ kind: "offer", data: { type, sdp } }`; the responder answers with
 * `{ kind: "answer", ... }`. Both trickle candidates as `{ kind: "ice-candidate", data:
 * { candidate, sdpMid, sdpMLineIndex, usernameFragment } }` (absent fields are `null`), and
 * `data: null` marks the end of candidates. Our candidates go out after our description, so
 * the remote sees the offer/answer first; remote candidates that arrive before the remote
 * description are held (`early`) until it is set.
 *
 * An open link may restart ICE (`iceRestart.ts`): the initiator sends another offer, made with
 * `iceRestart: true` and marked `iceRestart: n` (the restart's number on this link), and the
 * responder answers it on the same connection, marking its answer with the same `n`. Our new
 * candidates again wait until our description has gone. Any other repeated description is
 * ignored: a new link attempt is the mesh's business (`Connections`), not this connection's.
 *
 * @since 2.0.0
 */
import { Deferred, Duration, Effect, Exit, Latch, Queue, type Scope } from "effect"
import type { JsonObject } from "../../schema/Signaling.ts"
import { LinkError, type Signal, type SignalChannel } from "../../services/PeerTransport.ts"
import type { DataChannelLike, IceCandidateInit, RTCPeerConnectionLike } from "../RtcPeerConnection.ts"
import { describe, endLinkOnDefect, field, isDataChannel, on } from "./events.ts"
import { type IceRestartOptions, type RestartFailure, superviseIce } from "./iceRestart.ts"

/** The label of the one data channel per link. */
export const channelLabel = "messages"

const stringOrNull = (u: unknown): string | null => (typeof u === "string" ? u : null)
const numberOrNull = (u: unknown): number | null => (typeof u === "number" ? u : null)

/** An `icecandidate` event as a signal; werift ends gathering with `undefined`, browsers with `null`. */
export const candidateSignal = (event: unknown): Signal | undefined => {
  const c = field(event, "candidate")
  if (c === undefined || c === null) return { kind: "ice-candidate", data: null }
  const candidate = field(c, "candidate")
  if (typeof candidate !== "string") return undefined
  return {
    kind: "ice-candidate",
    data: {
      candidate,
      sdpMid: stringOrNull(field(c, "sdpMid")),
      sdpMLineIndex: numberOrNull(field(c, "sdpMLineIndex")),
      usernameFragment: stringOrNull(field(c, "usernameFragment"))
    }
  }
}

export const candidateInit = (data: JsonObject | null): IceCandidateInit | null | undefined => {
  if (data === null) return null
  if (typeof data.candidate !== "string") return undefined
  return {
    candidate: data.candidate,
    sdpMid: stringOrNull(data.sdpMid),
    sdpMLineIndex: numberOrNull(data.sdpMLineIndex),
    usernameFragment: stringOrNull(data.usernameFragment)
  }
}

/** What negotiation needs from the data channel half of the link. */
export interface ChannelSetup {
  /** Resolves once the data channel is open; fails the setup. */
  readonly opened: Deferred.Deferred<void, LinkError>
  /** Puts the listeners on the link's data channel (synchronously: werift delivers its first frames at once). */
  readonly attach: (dc: DataChannelLike) => void
  readonly channel: () => DataChannelLike | undefined
  /** The connection ended (event time): the link closes with `reason`. */
  readonly end: (reason: string) => void
  readonly isClosing: () => boolean
  /**
   * While `excused()` holds (ICE is down and being restarted), the link's silence is not the
   * peer's death: the keepalive does not close it (the ICE supervisor bounds that time).
   */
  readonly excuseSilence: (excused: () => boolean) => void
}

export interface NegotiationOptions extends IceRestartOptions {
  readonly signals: SignalChannel
  readonly timeoutMs: number
}

/** ICE states of a link that is down or coming back (a restart runs or may run). */
const iceTrouble = new Set(["disconnected", "failed", "checking", "new"])

/** The restart number a description carries (`iceRestart: n`), if it is one. */
export const restartNumber = (data: JsonObject | null): number | undefined => {
  const n = data?.["iceRestart"]
  return typeof n === "number" && Number.isInteger(n) && n > 0 ? n : undefined
}

/**
 * Negotiates the link on `pc` until its data channel is open. The listeners on `pc`, the
 * candidate forwarder and the signal loop stay for the life of the link (late candidates,
 * connection state); they belong to the Scope. Fails with `"timeout"` after `timeoutMs`, or
 * `"setup-failed"`.
 */
export const negotiate = (
  pc: RTCPeerConnectionLike,
  setup: ChannelSetup,
  linkError: (reason: LinkError["reason"], message: string) => LinkError,
  options: NegotiationOptions
): Effect.Effect<void, LinkError, Scope.Scope> =>
  Effect.gen(function*() {
    const { disconnectedGraceMs, initiator, signals, timeoutMs } = options
    const rtc = <A>(step: string, f: () => Promise<A>) =>
      Effect.tryPromise({ try: f, catch: (e) => linkError("setup-failed", `${step}: ${describe(e)}`) })
    const failSetup = (error: LinkError) => Deferred.doneUnsafe(setup.opened, Exit.fail(error))
    const lost = (reason: string) => {
      failSetup(linkError("setup-failed", reason))
      setup.end(reason)
    }

    const localCandidates = yield* Queue.unbounded<Signal>()
    // Open while our latest description is out: our candidates wait for it.
    const descriptionSent = yield* Latch.make(false)
    let established = false // the data channel opened: ICE is supervised (iceRestart.ts) from then on
    let lostTimer: ReturnType<typeof setTimeout> | undefined
    const detach = [
      on(pc, "icecandidate", (event) => {
        const signal = candidateSignal(event)
        if (signal !== undefined) Queue.offerUnsafe(localCandidates, signal)
      }),
      on(pc, "connectionstatechange", () => {
        const state = pc.connectionState
        if (lostTimer !== undefined) {
          clearTimeout(lostTimer)
          lostTimer = undefined
        }
        if (state === "closed") {
          lost("connection closed")
        } else if (established) {
          // ICE failures are the supervisor's; a connection failed with ICE up (DTLS) is lost
          const ice = pc.iceConnectionState
          if (state === "failed" && (ice === "connected" || ice === "completed")) setup.end("connection failed")
        } else if (state === "failed") {
          lost("connection failed")
        } else if (state === "disconnected") {
          lostTimer = setTimeout(() => {
            if (pc.connectionState === "disconnected") setup.end("connection lost")
          }, disconnectedGraceMs)
        }
      }),
      () => {
        if (lostTimer !== undefined) clearTimeout(lostTimer)
      },
      on(pc, "datachannel", (event) => {
        const dc = field(event, "channel")
        if (setup.channel() === undefined && isDataChannel(dc) && dc.label === channelLabel) setup.attach(dc)
      })
    ]
    yield* Effect.addFinalizer(() => Effect.sync(() => detach.forEach((f) => f())))

    // Our candidates go out after our description (each waits while a restart's is being made).
    yield* Effect.forever(
      Queue.take(localCandidates).pipe(Effect.flatMap((c) => Effect.andThen(descriptionSent.await, signals.send(c))))
    ).pipe(
      endLinkOnDefect("candidate forwarder", lost),
      Effect.forkScoped
    )

    // Remote signals, in order; candidates before the remote description (or, in a restart,
    // before its answer) wait in `early`.
    const early: Array<JsonObject | null> = []
    let remoteDescribed = false
    /** The initiator's restart waiting for its answer. */
    let pending: { readonly n: number; readonly answered: Deferred.Deferred<void, RestartFailure> } | undefined
    const addCandidate = (data: JsonObject | null) => {
      const init = candidateInit(data)
      return init === undefined || setup.isClosing()
        ? Effect.void
        : rtc("addIceCandidate", () => pc.addIceCandidate(init)).pipe(Effect.ignore)
    }
    const flushEarly = Effect.suspend(() => Effect.forEach(early.splice(0), addCandidate, { discard: true }))
    const sdpOf = (data: JsonObject | null, kind: "offer" | "answer") =>
      data !== null && data.type === kind && typeof data.sdp === "string"
        ? Effect.succeed(data.sdp)
        : Effect.fail(linkError("setup-failed", `malformed ${kind}`))
    /** Takes the remote offer and sends our answer (marked `iceRestart: n` in a restart). */
    const answerOffer = (data: JsonObject | null, n?: number) =>
      Effect.gen(function*() {
        const sdp = yield* sdpOf(data, "offer")
        yield* descriptionSent.close
        yield* rtc("setRemoteDescription", () => pc.setRemoteDescription({ type: "offer", sdp }))
        remoteDescribed = true
        const answer = yield* rtc("createAnswer", () => pc.createAnswer())
        const answerSdp = answer.sdp ?? ""
        yield* rtc("setLocalDescription", () => pc.setLocalDescription({ type: "answer", sdp: answerSdp }))
        const mark = n === undefined ? {} : { iceRestart: n }
        yield* signals.send({ kind: "answer", data: { type: "answer", sdp: answerSdp, ...mark } })
        yield* descriptionSent.open
        yield* flushEarly
      })
    const takeAnswer = (data: JsonObject | null) =>
      Effect.gen(function*() {
        const sdp = yield* sdpOf(data, "answer")
        yield* rtc("setRemoteDescription", () => pc.setRemoteDescription({ type: "answer", sdp }))
        remoteDescribed = true
        yield* flushEarly
      })
    /** A description after the first: a restart's offer or answer, or one to ignore. */
    const later = (signal: Signal) =>
      Effect.gen(function*() {
        const n = restartNumber(signal.data)
        if (signal.kind === "offer" && !initiator && n !== undefined) {
          return yield* answerOffer(signal.data, n).pipe(
            Effect.catch((e) => Effect.logWarning(`ICE restart ${n}: cannot answer: ${e.message}`))
          )
        }
        const waiting = pending
        if (signal.kind !== "answer" || waiting === undefined) return
        const refused = signal.data?.["refused"]
        if (typeof refused === "string") {
          pending = undefined
          return yield* Deferred.fail(waiting.answered, { message: `refused: ${refused}`, final: true })
        }
        if (n !== waiting.n) return // the answer to an earlier attempt
        pending = undefined
        yield* takeAnswer(signal.data).pipe(
          Effect.matchEffect({
            onFailure: (e) => Deferred.fail(waiting.answered, { message: e.message, final: false }),
            onSuccess: () => Deferred.succeed(waiting.answered, undefined)
          })
        )
      })
    yield* Effect.gen(function*() {
      while (true) {
        const signal = yield* Queue.take(signals.incoming)
        if (signal.kind === "ice-candidate") {
          if (remoteDescribed && pending === undefined) yield* addCandidate(signal.data)
          else early.push(signal.data)
        } else if (remoteDescribed) {
          yield* later(signal)
        } else if (signal.kind === "offer" && !initiator) {
          yield* answerOffer(signal.data)
        } else if (signal.kind === "answer" && initiator) {
          yield* takeAnswer(signal.data)
        }
        // else: an offer to the initiator (glare); the mesh decides
      }
    }).pipe(
      Effect.catch((e: LinkError) =>
        Effect.sync(() => {
          failSetup(e)
          setup.end(e.message)
        })
      ),
      endLinkOnDefect("signal loop", lost),
      Effect.forkScoped
    )

    /** The initiator's restart offer `n`; succeeds once its answer is applied. */
    const restartOffer = (n: number) =>
      Effect.gen(function*() {
        const answered = yield* Deferred.make<void, RestartFailure>()
        const failed = (e: LinkError): RestartFailure => ({ message: e.message, final: false })
        yield* descriptionSent.close
        const offer = yield* rtc("createOffer", () => pc.createOffer({ iceRestart: true })).pipe(Effect.mapError(failed))
        const sdp = offer.sdp ?? ""
        yield* rtc("setLocalDescription", () => pc.setLocalDescription({ type: "offer", sdp })).pipe(Effect.mapError(failed))
        pending = { n, answered }
        yield* signals.send({ kind: "offer", data: { type: "offer", sdp, iceRestart: n } })
        yield* descriptionSent.open
        yield* Deferred.await(answered)
      }).pipe(
        Effect.ensuring(Effect.suspend(() => {
          if (pending?.n === n) pending = undefined // timed out: its late answer is ignored
          return descriptionSent.open
        }))
      )

    const offer = Effect.gen(function*() {
      if (initiator) {
        yield* Effect.try({
          try: () => setup.attach(pc.createDataChannel(channelLabel, { ordered: true })),
          catch: (e) => linkError("setup-failed", `createDataChannel: ${describe(e)}`)
        })
        const offer = yield* rtc("createOffer", () => pc.createOffer())
        const sdp = offer.sdp ?? ""
        yield* rtc("setLocalDescription", () => pc.setLocalDescription({ type: "offer", sdp }))
        yield* signals.send({ kind: "offer", data: { type: "offer", sdp } })
        yield* descriptionSent.open
      }
      yield* Deferred.await(setup.opened)
    })
    yield* offer.pipe(
      Effect.timeoutOrElse({
        duration: Duration.millis(timeoutMs),
        orElse: () => Effect.fail(linkError("timeout", `no open data channel after ${timeoutMs} ms`))
      })
    )
    established = true
    // (werift may report the old pair's state while a restart runs: the supervisor says so too)
    let restarting = false
    const restarter = { offer: restartOffer, end: setup.end, restarting: (on: boolean) => void (restarting = on) }
    yield* superviseIce(pc, restarter, options).pipe(Effect.forkScoped)
    if (options.iceRestarts > 0) setup.excuseSilence(() => restarting || iceTrouble.has(pc.iceConnectionState))
  })
