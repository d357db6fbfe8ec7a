/**
 * `PeerTransport` over WebRTC data channels, on any `RTCPeerConnection` the
 * `RtcPeerConnectionCtor` service supplies (werift in Node, the global in browsers).
 *
 * Setup: the initiator creates one ordered data channel labelled `"messages"`, makes the
 * offer and sends it as `{ kind: "offer", data: { type, sdp } }`; the responder answers
 * with `{ kind: "answer", ... }`. Both trickle candidates as `{ kind: "ice-candidate",
 * data: { candidate, sdpMid, sdpMLineIndex, usernameFragment } }` (absent fields are
 * `null`), and `data: null` marks the end of candidates. Remote candidates that arrive
 * before the remote description are held until it is set. `open` succeeds once the channel
 * is open and fails with `LinkError` `"timeout"` after `timeoutMs`, or `"setup-failed"`;
 * a failed `open` releases the connection at once.
 *
 * Wire format on the channel (text frames, JSON unless noted):
 * - `#<length>:<m1><length>:<m2>...` a batch (`internal/batchFrame.ts`): queued messages in
 *   order, each after its length, at most `maxMessagesPerFrame` of them and at most
 *   `maxFrameChars` characters of frame;
 * - `{"b":["m1","m2",...]}` the same as JSON, for messages with a lone surrogate (a batch
 *   frame would have them replaced);
 * - `{"a":n}` `n` more data frames reached the receiver (credit back to the sender);
 * - `{"c":"reason"}` the sender is closing the link, with its reason;
 * - `{"k":1}` keepalive, sent every `keepaliveMs`; a link silent for `deadAfterMs` is lost
 *   (a peer that vanished without closing: werift itself notices only after ~30 s);
 * - a batch longer than `maxFrameChars` (one large message) travels as pieces: every
 *   piece but the last is `"+" + chunk`, the last `"$" + chunk`; the receiver joins them.
 *   Every piece is a data frame (it costs and returns one credit). This keeps each SCTP
 *   message under 64 KiB, werift's (and Safari's) default `max-message-size`.
 *
 * Pacing: werift's SCTP collapses under unpaced bursts, so the sender keeps at most
 * `window` data frames unacknowledged (`CreditWindow`). The receiver acknowledges data frames
 * as they arrive, those of one turn of the event loop with one `{"a":n}`, before it even
 * reads them: what paces the sender is the channel's round trip, not how busy the receiver
 * is (its reading never pushed back anyway: `messages` is unbounded). Acks are not
 * themselves paced or acknowledged.
 *
 * Messages are limited to `maxMessageBytes` (UTF-8, default 1 MiB): `send` fails with
 * `LinkError` `"refused"` above it. `close` does not flush: messages still queued are
 * dropped (`pending` tells how many there are). The other side's `closed` resolves with
 * `"remote: <reason>"` when the close frame gets through, otherwise with what it saw
 * (`"channel closed"`, `"connection failed"`, ...).
 *
 * @since 2.0.0
 */
import { Deferred, Duration, Effect, Exit, Latch, Layer, Queue, Schedule, Schema, Scope } from "effect"
import type { Cause } from "effect"
import { BATCH_HEAD, canEncode, decodeBatch, encodeBatch, encodedLength } from "../internal/batchFrame.ts"
import { batchFrames, CreditWindow, utf8Length } from "../internal/creditWindow.ts"
import type { PeerId } from "../schema/PeerId.ts"
import type { JsonObject } from "../schema/Signaling.ts"
import { type IceServer, MeshConfig } from "../services/MeshConfig.ts"
import { type Link, LinkError, PeerTransport, type Signal, type SignalChannel } from "../services/PeerTransport.ts"
import {
  type DataChannelLike,
  type EventTargetLike,
  type IceCandidateInit,
  RtcPeerConnectionCtor
} from "./RtcPeerConnection.ts"

export interface WebRtcTransportOptions {
  /** STUN/TURN servers. Default `[]` (host candidates only). */
  readonly iceServers: ReadonlyArray<IceServer>
  /** Largest message `send` accepts, in UTF-8 bytes. Default 1 MiB. */
  readonly maxMessageBytes: number
  /** Largest frame put on the channel, in UTF-16 code units (at most 3x that in bytes). Default 16384. */
  readonly maxFrameChars: number
  /** Most messages batched into one frame. Default 256. */
  readonly maxMessagesPerFrame: number
  /** Data frames in flight (sent, not yet acknowledged). Default 32. */
  readonly window: number
  /**
   * Characters of data frames in flight. werift stalls once much more than ~64 KB is
   * outstanding, whatever the frame count, so large frames are paced by size too (one
   * frame may always go, however large). Default 65536.
   */
  readonly windowChars: number
  /** Longest `close` waits for its close frame to leave before closing the channel. Default 500 ms. */
  readonly closeGraceMs: number
  /**
   * How long a connection may stay ICE-"disconnected" before the link counts as lost (a peer
   * that vanished without closing). Browsers recover brief glitches within this. Default 5000 ms.
   */
  readonly disconnectedGraceMs: number
  /** Keepalive period on an open link. Default 2000 ms. */
  readonly keepaliveMs: number
  /** A link with nothing received for this long is closed as lost. Default 8000 ms. */
  readonly deadAfterMs: number
}

export const defaults: WebRtcTransportOptions = {
  iceServers: [],
  maxMessageBytes: 1024 * 1024,
  maxFrameChars: 16 * 1024,
  maxMessagesPerFrame: 256,
  window: 32,
  windowChars: 64 * 1024,
  closeGraceMs: 500,
  disconnectedGraceMs: 5000,
  keepaliveMs: 2000,
  deadAfterMs: 8000
}

/** The label of the one data channel per link. */
export const channelLabel = "messages"

// ---------------------------------------------------------------------------------------------
// wire frames

const BatchFrame = Schema.Struct({ b: Schema.Array(Schema.String) })
const AckFrame = Schema.Struct({ a: Schema.Int })
const CloseFrame = Schema.Struct({ c: Schema.String })
const KeepaliveFrame = Schema.Struct({ k: Schema.Int })
/** The frames of a link (the schema `decodeFrame` implements by hand). */
export const Frame = Schema.Union([BatchFrame, AckFrame, CloseFrame, KeepaliveFrame])
export type Frame = typeof Frame.Type

const isInt = (u: unknown): u is number => typeof u === "number" && Number.isSafeInteger(u)

/**
 * Decodes a frame as `Schema.fromJsonString(Frame)` would (members tried in order, excess keys
 * dropped), by hand: it runs on every frame. `undefined` when it is not one.
 */
export const decodeFrame = (text: string): Frame | undefined => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) return undefined
  const { a, b, c, k } = json as Record<string, unknown>
  if (Array.isArray(b) && b.every((m) => typeof m === "string")) return { b: b as Array<string> }
  if (isInt(a)) return { a }
  if (typeof c === "string") return { c }
  if (isInt(k)) return { k }
  return undefined
}

const PIECE = 0x2b // "+": a piece of a long frame, more follow
const LAST_PIECE = 0x24 // "$": the last piece

/** Whether a raw frame is one the sender paid a credit for (a batch, or a piece of one). */
const costsCredit = (raw: string): boolean => {
  const head = raw.charCodeAt(0)
  return head === BATCH_HEAD || head === PIECE || head === LAST_PIECE || raw.startsWith(`{"b":`)
}

/** Cuts `frame` into pieces of at most `max` characters, prefix included, never inside a surrogate pair. */
const fragment = (frame: string, max: number): ReadonlyArray<string> => {
  if (frame.length <= max) return [frame]
  const pieces: Array<string> = []
  let start = 0
  while (start < frame.length) {
    let end = Math.min(start + max - 1, frame.length)
    const last = frame.charCodeAt(end - 1)
    if (end < frame.length && last >= 0xd800 && last <= 0xdbff) end--
    pieces.push((end === frame.length ? "$" : "+") + frame.slice(start, end))
    start = end
  }
  return pieces
}

// ---------------------------------------------------------------------------------------------
// reading werift's and browsers' event objects

const field = (u: unknown, key: string): unknown =>
  typeof u === "object" && u !== null ? (u as Record<string, unknown>)[key] : undefined

const isDataChannel = (u: unknown): u is DataChannelLike =>
  typeof field(u, "send") === "function" && typeof field(u, "addEventListener") === "function"

const stringOrNull = (u: unknown): string | null => (typeof u === "string" ? u : null)
const numberOrNull = (u: unknown): number | null => (typeof u === "number" ? u : null)

/** An `icecandidate` event as a signal; werift ends gathering with `undefined`, browsers with `null`. */
const candidateSignal = (event: unknown): Signal | undefined => {
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

const candidateInit = (data: JsonObject | null): IceCandidateInit | null | undefined => {
  if (data === null) return null
  if (typeof data.candidate !== "string") return undefined
  return {
    candidate: data.candidate,
    sdpMid: stringOrNull(data.sdpMid),
    sdpMLineIndex: numberOrNull(data.sdpMLineIndex),
    usernameFragment: stringOrNull(data.usernameFragment)
  }
}

const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/** Waits until the channel has handed everything to SCTP. */
const drained = (dc: DataChannelLike): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    if (dc.bufferedAmount === 0) return resume(Effect.void)
    dc.bufferedAmountLowThreshold = 0
    const listener = () => resume(Effect.void)
    dc.addEventListener("bufferedamountlow", listener)
    return Effect.sync(() => dc.removeEventListener("bufferedamountlow", listener))
  })

const on = (target: EventTargetLike, type: string, listener: (event: unknown) => void): () => void => {
  target.addEventListener(type, listener)
  return () => target.removeEventListener(type, listener)
}

// ---------------------------------------------------------------------------------------------
// one link

interface OpenOptions {
  readonly initiator: boolean
  readonly signals: SignalChannel
  readonly timeoutMs: number
}

const openLink = (
  ctor: RtcPeerConnectionCtor["Service"],
  o: WebRtcTransportOptions,
  remote: PeerId,
  { initiator, signals, timeoutMs }: OpenOptions
): Effect.Effect<Link, LinkError, Scope.Scope> =>
  Effect.gen(function*() {
    const linkError = (reason: LinkError["reason"], message: string) => new LinkError({ peerId: remote, reason, message })
    const rtc = <A>(step: string, f: () => Promise<A>) =>
      Effect.tryPromise({ try: f, catch: (e) => linkError("setup-failed", `${step}: ${describe(e)}`) })

    // The connection; its close is shared by `close`, the remote's close and the Scope.
    const pc = yield* Effect.acquireRelease(
      Effect.try({
        try: () => {
          const pc = ctor.make({ iceServers: o.iceServers })
          let closing: Promise<void> | undefined
          const close = Effect.promise(() =>
            closing ??= Promise.resolve().then(() => pc.close()).then(() => undefined, () => undefined)
          )
          return { pc, close }
        },
        catch: (e) => linkError("setup-failed", `cannot create RTCPeerConnection: ${describe(e)}`)
      }),
      ({ close }) => close
    )

    const opened = yield* Deferred.make<void, LinkError>()
    const closed = yield* Deferred.make<string>()
    const shutdownDone = yield* Deferred.make<void>()
    const messages = yield* Queue.unbounded<string, Cause.Done>()
    const inbound = yield* Queue.unbounded<string, Cause.Done>() // raw frames, in arrival order
    const outbox = yield* Queue.unbounded<string, Cause.Done>()
    const localCandidates = yield* Queue.unbounded<Signal>()
    const descriptionSent = yield* Latch.make(false)
    const credit = yield* Latch.make(true)
    const window = new CreditWindow({ capacity: o.window })
    // Sizes of the frames in flight, oldest first: acks arrive in send order (ordered channel).
    const inFlight: Array<number> = []
    let inFlightHead = 0
    let inFlightChars = 0
    const acknowledge = (n: number) => {
      const released = window.release(Math.max(0, n))
      for (let i = 0; i < released; i++) inFlightChars -= inFlight[inFlightHead++]!
      if (inFlightHead > 1024) {
        inFlight.splice(0, inFlightHead)
        inFlightHead = 0
      }
      credit.openUnsafe()
    }

    let channel: DataChannelLike | undefined
    let closing = false
    let endReason: string | undefined // why the channel or the connection ended (event time)
    let remoteReason: string | undefined // the remote's close frame (read in order, so it wins)
    let held = 0 // messages taken from the outbox, not yet on the wire

    const failSetup = (message: string) => Deferred.doneUnsafe(opened, Exit.fail(linkError("setup-failed", message)))
    const endInbound = (reason: string) => {
      endReason ??= reason
      Queue.endUnsafe(inbound)
    }
    const trySend = (dc: DataChannelLike, frame: string): boolean => {
      try {
        dc.send(frame)
        return true
      } catch (e) {
        endInbound(`send failed: ${describe(e)}`)
        return false
      }
    }

    const detach: Array<() => void> = []
    let lostTimer: ReturnType<typeof setTimeout> | undefined
    let lastHeard = Date.now()
    yield* Effect.addFinalizer(() => Effect.sync(() => detach.splice(0).forEach((f) => f())))

    // Credit owed to the sender for data frames that arrived, sent once per turn of the loop.
    let owed = 0
    let ackScheduled = false
    const sendAck = () => {
      ackScheduled = false
      const dc = channel
      if (owed > 0 && !closing && dc !== undefined && dc.readyState === "open") trySend(dc, `{"a":${owed}}`)
      owed = 0
    }

    // Listeners go on synchronously: werift opens a remote channel and delivers its first
    // frames without waiting for a fiber to subscribe.
    const attach = (dc: DataChannelLike) => {
      channel = dc
      detach.push(
        on(dc, "message", (event) => {
          lastHeard = Date.now()
          const data = field(event, "data")
          if (typeof data !== "string") return
          // credit back: taken here at once, so the sender never waits for a busy fiber
          if (data.startsWith(`{"a":`)) {
            const f = decodeFrame(data)
            if (f !== undefined && "a" in f) return acknowledge(f.a)
          }
          Queue.offerUnsafe(inbound, data)
          if (costsCredit(data)) {
            owed++
            if (!ackScheduled) {
              ackScheduled = true
              queueMicrotask(sendAck)
            }
          }
        }),
        on(dc, "open", () => Deferred.doneUnsafe(opened, Exit.void)),
        on(dc, "close", () => {
          failSetup("data channel closed")
          endInbound("channel closed")
        }),
        // werift channels are EventEmitters: an "error" nobody listens to would throw
        on(dc, "error", () => {})
      )
      if (dc.readyState === "open") Deferred.doneUnsafe(opened, Exit.void)
    }

    detach.push(
      on(pc.pc, "icecandidate", (event) => {
        const signal = candidateSignal(event)
        if (signal !== undefined) Queue.offerUnsafe(localCandidates, signal)
      }),
      on(pc.pc, "connectionstatechange", () => {
        const state = pc.pc.connectionState
        if (lostTimer !== undefined) {
          clearTimeout(lostTimer)
          lostTimer = undefined
        }
        if (state === "failed" || state === "closed") {
          failSetup(`connection ${state}`)
          endInbound(`connection ${state}`)
        } else if (state === "disconnected") {
          lostTimer = setTimeout(() => {
            if (pc.pc.connectionState === "disconnected") endInbound("connection lost")
          }, o.disconnectedGraceMs)
        }
      }),
      () => {
        if (lostTimer !== undefined) clearTimeout(lostTimer)
      },
      on(pc.pc, "datachannel", (event) => {
        const dc = field(event, "channel")
        if (channel === undefined && isDataChannel(dc) && dc.label === channelLabel) attach(dc)
      })
    )

    // Our candidates go out after our description, so the remote sees the offer/answer first.
    yield* descriptionSent.await.pipe(
      Effect.andThen(Effect.forever(Queue.take(localCandidates).pipe(Effect.flatMap(signals.send)))),
      Effect.forkScoped
    )

    // Remote signals, in order; candidates before the remote description wait in `early`.
    const early: Array<JsonObject | null> = []
    let remoteDescribed = false
    const addCandidate = (data: JsonObject | null) => {
      const init = candidateInit(data)
      return init === undefined || closing
        ? Effect.void
        : rtc("addIceCandidate", () => pc.pc.addIceCandidate(init)).pipe(Effect.ignore)
    }
    const sdpOf = (data: JsonObject | null, kind: "offer" | "answer") =>
      data !== null && data.type === kind && typeof data.sdp === "string"
        ? Effect.succeed(data.sdp)
        : Effect.fail(linkError("setup-failed", `malformed ${kind}`))
    const remoteDescription = (kind: "offer" | "answer", data: JsonObject | null) =>
      Effect.gen(function*() {
        const sdp = yield* sdpOf(data, kind)
        yield* rtc("setRemoteDescription", () => pc.pc.setRemoteDescription({ type: kind, sdp }))
        remoteDescribed = true
        if (kind === "offer") {
          const answer = yield* rtc("createAnswer", () => pc.pc.createAnswer())
          const answerSdp = answer.sdp ?? ""
          yield* rtc("setLocalDescription", () => pc.pc.setLocalDescription({ type: "answer", sdp: answerSdp }))
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
          Deferred.doneUnsafe(opened, Exit.fail(e))
          endInbound(e.message)
        })
      ),
      Effect.forkScoped
    )

    const setup = Effect.gen(function*() {
      if (initiator) {
        yield* Effect.try({
          try: () => attach(pc.pc.createDataChannel(channelLabel, { ordered: true })),
          catch: (e) => linkError("setup-failed", `createDataChannel: ${describe(e)}`)
        })
        const offer = yield* rtc("createOffer", () => pc.pc.createOffer())
        const sdp = offer.sdp ?? ""
        yield* rtc("setLocalDescription", () => pc.pc.setLocalDescription({ type: "offer", sdp }))
        yield* signals.send({ kind: "offer", data: { type: "offer", sdp } })
        yield* descriptionSent.open
      }
      yield* Deferred.await(opened)
    })
    yield* setup.pipe(
      Effect.timeoutOrElse({
        duration: Duration.millis(timeoutMs),
        orElse: () => Effect.fail(linkError("timeout", `no open data channel after ${timeoutMs} ms`))
      })
    )
    const dc = channel
    if (dc === undefined) return yield* linkError("setup-failed", "no data channel")
    const dcOpen = () => dc.readyState === "open"

    const shutdown = (reason: string): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (closing) return Deferred.await(shutdownDone)
        closing = true
        Deferred.doneUnsafe(closed, Exit.succeed(reason))
        credit.openUnsafe()
        Queue.endUnsafe(outbox)
        const localClose = remoteReason === undefined && endReason === undefined && dcOpen()
        const notify = localClose && trySend(dc, JSON.stringify({ c: reason }))
        Queue.endUnsafe(inbound)
        // werift resets the stream at once on dc.close(), ahead of data it still buffers:
        // let the close frame reach SCTP first, or the remote only ever sees "channel closed".
        return (notify ? drained(dc) : Effect.void).pipe(
          Effect.timeoutOrElse({ duration: Duration.millis(o.closeGraceMs), orElse: () => Effect.void }),
          Effect.andThen(Effect.sync(() => dc.close())),
          Effect.ignore,
          Effect.andThen(pc.close),
          Effect.ensuring(Deferred.done(shutdownDone, Exit.void)),
          Effect.uninterruptible
        )
      })

    // Sender: batches the outbox into frames and spends one credit per data frame.
    const tryAcquire = (chars: number) => {
      if (inFlightChars > 0 && inFlightChars + chars > o.windowChars) return false
      if (!window.tryAcquire()) return false
      inFlight.push(chars)
      inFlightChars += chars
      return true
    }
    const acquireCredit = (chars: number) =>
      Effect.gen(function*() {
        while (!closing) {
          if (tryAcquire(chars)) return true
          credit.closeUnsafe()
          if (tryAcquire(chars)) return true
          yield* credit.await
        }
        return false
      })
    yield* Effect.gen(function*() {
      while (true) {
        const batch = yield* Queue.takeBetween(outbox, 1, o.window * o.maxMessagesPerFrame)
        held = batch.length
        const plain = batch.every(canEncode)
        const frames = plain
          ? batchFrames(batch, o.maxFrameChars - 1, o.maxMessagesPerFrame, encodedLength)
          : batchFrames(batch.map((m) => JSON.stringify(m)), o.maxFrameChars - 8, o.maxMessagesPerFrame, (s) => s.length + 1)
        for (const group of frames) {
          const frame = plain ? encodeBatch(group) : `{"b":[${group.join(",")}]}`
          for (const piece of fragment(frame, o.maxFrameChars)) {
            if (!(yield* acquireCredit(piece.length)) || !trySend(dc, piece)) return
          }
          held -= group.length
        }
        held = 0
      }
    }).pipe(Effect.catch(() => Effect.void), Effect.forkScoped)

    // Receiver: frames in arrival order -> messages, acks -> credit (its own acks went out
    // from the listener).
    let pieces: Array<string> = []
    yield* Effect.gen(function*() {
      while (true) {
        const frames = yield* Queue.takeAll(inbound)
        const received: Array<string> = []
        for (const raw of frames) {
          const head = raw.charCodeAt(0)
          if (head === PIECE) {
            pieces.push(raw.slice(1))
            continue
          }
          const text = head === LAST_PIECE ? pieces.join("") + raw.slice(1) : raw
          if (head === LAST_PIECE) pieces = []
          if (text.charCodeAt(0) === BATCH_HEAD) {
            const batch = decodeBatch(text)
            if (batch === undefined) endInbound("protocol error: malformed batch")
            else for (const m of batch) received.push(m)
            continue
          }
          const f = decodeFrame(text)
          if (f === undefined) {
            endInbound("protocol error: malformed frame")
            continue
          }
          if ("b" in f) {
            for (const m of f.b) received.push(m)
          } else if ("a" in f) {
            acknowledge(f.a)
          } else if ("k" in f) {
            // keepalive: its arrival already refreshed lastHeard
          } else {
            remoteReason ??= `remote: ${f.c}`
            Queue.endUnsafe(inbound)
          }
        }
        if (received.length > 0) yield* Queue.offerAll(messages, received)
      }
    }).pipe(
      Effect.catch(() => Effect.void),
      Effect.ensuring(Queue.end(messages)),
      Effect.andThen(Effect.suspend(() => shutdown(remoteReason ?? endReason ?? "closed"))),
      Effect.forkScoped
    )

    // Keepalive: a peer that vanished (crash, network gone) stops sending; close the link then.
    lastHeard = Date.now()
    yield* Effect.sync(() => {
      if (closing || !dcOpen()) return
      if (Date.now() - lastHeard > o.deadAfterMs) endInbound("peer silent")
      else trySend(dc, `{"k":1}`)
    }).pipe(Effect.repeat(Schedule.spaced(o.keepaliveMs)), Effect.forkScoped)

    // Registered last so it runs first when the Scope closes, before the fibers go.
    yield* Effect.addFinalizer(() => shutdown("scope closed"))

    const tooLarge = (m: string) =>
      m.length > o.maxMessageBytes || (m.length * 3 > o.maxMessageBytes && utf8Length(m) > o.maxMessageBytes)

    return {
      remote,
      send: (message) =>
        Effect.suspend(() => {
          if (closing) return Effect.fail(linkError("closed", "the link is closed"))
          if (tooLarge(message)) {
            return Effect.fail(linkError("refused", `message larger than ${o.maxMessageBytes} bytes`))
          }
          Queue.offerUnsafe(outbox, message)
          return Effect.void
        }),
      messages,
      closed: Deferred.await(closed),
      close: shutdown,
      pending: Effect.sync(() => (closing ? 0 : Queue.sizeUnsafe(outbox) + held))
    } satisfies Link
  }).pipe(Effect.withSpan("WebRtcTransport.open"))

// ---------------------------------------------------------------------------------------------
// constructors and layers

/** Builds the transport; each `open` adds one `RTCPeerConnection` to the caller's Scope. */
export const make = (
  options: Partial<WebRtcTransportOptions> = {}
): Effect.Effect<PeerTransport["Service"], never, RtcPeerConnectionCtor> =>
  Effect.gen(function*() {
    const ctor = yield* RtcPeerConnectionCtor
    const o: WebRtcTransportOptions = { ...defaults, ...options }
    return PeerTransport.of({
      kind: "webrtc",
      open: (remote, openOptions) =>
        Effect.gen(function*() {
          // A child scope, so a failed open releases its connection at once instead of
          // leaving it to the caller's Scope.
          const scope = yield* Scope.fork(yield* Scope.Scope)
          return yield* openLink(ctor, o, remote, openOptions).pipe(
            Effect.onError(() => Scope.close(scope, Exit.void)),
            Scope.provide(scope)
          )
        })
    })
  })

export const layer = (options: Partial<WebRtcTransportOptions> = {}): Layer.Layer<PeerTransport, never, RtcPeerConnectionCtor> =>
  Layer.effect(PeerTransport, make(options).pipe(Effect.annotateLogs("module", "WebRtcTransport")))

/** Like `layer`, with `iceServers` taken from `MeshConfig`. */
export const layerConfig = (
  options: Partial<Omit<WebRtcTransportOptions, "iceServers">> = {}
): Layer.Layer<PeerTransport, never, RtcPeerConnectionCtor | MeshConfig> =>
  Layer.effect(
    PeerTransport,
    Effect.gen(function*() {
      const config = yield* MeshConfig
      return yield* make({ ...options, iceServers: config.iceServers }).pipe(Effect.annotateLogs("module", "WebRtcTransport"))
    })
  )
