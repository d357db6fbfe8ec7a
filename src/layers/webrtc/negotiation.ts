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
 * @since 2.0.0
 */
import { Deferred, Duration, Effect, Exit, Latch, Queue, type Scope } from "effect"
import type { JsonObject } from "../../schema/Signaling.ts"
import { LinkError, type Signal, type SignalChannel } from "../../services/PeerTransport.ts"
import type { DataChannelLike, IceCandidateInit, RTCPeerConnectionLike } from "../RtcPeerConnection.ts"
import { describe, endLinkOnDefect, field, isDataChannel, on } from "./events.ts"

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
}

export interface NegotiationOptions {
  readonly initiator: boolean
  readonly signals: SignalChannel
  readonly timeoutMs: number
  /** How long the connection may stay ICE-"disconnected" before the link counts as lost. */
  readonly disconnectedGraceMs: number
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
  { disconnectedGraceMs, initiator, signals, timeoutMs }: NegotiationOptions
): Effect.Effect<void, LinkError, Scope.Scope> =>
  Effect.gen(function*() {
    const rtc = <A>(step: string, f: () => Promise<A>) =>
      Effect.tryPromise({ try: f, catch: (e) => linkError("setup-failed", `${step}: ${describe(e)}`) })
    const failSetup = (error: LinkError) => Deferred.doneUnsafe(setup.opened, Exit.fail(error))
    const lost = (reason: string) => {
      failSetup(linkError("setup-failed", reason))
      setup.end(reason)
    }

    const localCandidates = yield* Queue.unbounded<Signal>()
    const descriptionSent = yield* Latch.make(false)
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
        if (state === "failed" || state === "closed") {
          lost(`connection ${state}`)
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

    // Our candidates go out after our description.
    yield* descriptionSent.await.pipe(
      Effect.andThen(Effect.forever(Queue.take(localCandidates).pipe(Effect.flatMap(signals.send)))),
      endLinkOnDefect("candidate forwarder", lost),
      Effect.forkScoped
    )

    // Remote signals, in order; candidates before the remote description wait in `early`.
    const early: Array<JsonObject | null> = []
    let remoteDescribed = false
    const addCandidate = (data: JsonObject | null) => {
      const init = candidateInit(data)
      return init === undefined || setup.isClosing()
        ? Effect.void
        : rtc("addIceCandidate", () => pc.addIceCandidate(init)).pipe(Effect.ignore)
    }
    const sdpOf = (data: JsonObject | null, kind: "offer" | "answer") =>
      data !== null && data.type === kind && typeof data.sdp === "string"
        ? Effect.succeed(data.sdp)
        : Effect.fail(linkError("setup-failed", `malformed ${kind}`))
    const remoteDescription = (kind: "offer" | "answer", data: JsonObject | null) =>
      Effect.gen(function*() {
        const sdp = yield* sdpOf(data, kind)
        yield* rtc("setRemoteDescription", () => pc.setRemoteDescription({ type: kind, sdp }))
        remoteDescribed = true
        if (kind === "offer") {
          const answer = yield* rtc("createAnswer", () => pc.createAnswer())
          const answerSdp = answer.sdp ?? ""
          yield* rtc("setLocalDescription", () => pc.setLocalDescription({ type: "answer", sdp: answerSdp }))
          yield* signals.send({ kind: "answer", data: { type: "answer", sdp: answerSdp } })
          yield* descriptionSent.open
        }
        for (const c of early.splice(0)) yield* addCandidate(c)
      })
    yield* Effect.gen(function*() {
      while (true) {
        const signal = yield* Queue.take(signals.incoming)
        if (signal.kind === "ice-candidate") {
          if (remoteDescribed) yield* addCandidate(signal.data)
          else early.push(signal.data)
        } else if (!remoteDescribed && (signal.kind === "offer") !== initiator) {
          yield* remoteDescription(signal.kind, signal.data)
        }
        // else: an offer to the initiator (glare) or a repeated description; the mesh decides
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
  })
