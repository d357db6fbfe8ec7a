/**
 * The data channel half of a WebRTC link: the listeners on the channel, and the sender,
 * receiver and keepalive fibers once it is open (the wire format is `internal/linkFrames.ts`).
 *
 * Pacing, both ways (`internal/pacer.ts`):
 * - the sender keeps at most `window` data frames (and about `windowChars` characters of
 *   them) unacknowledged: werift's SCTP collapses under unpaced bursts;
 * - the receiver returns a frame's credit (`{"a":n}`, those of one turn of the event loop
 *   together) only once the frame's messages are in `messages`, a queue of `receiveBuffer`
 *   messages. A consumer that stops taking stops the credit, and the sender's `pending` grows
 *   instead of the receiver's memory. A peer that sends more frames than its credit allows
 *   (twice the window, plus slack) breaks the protocol: the link closes with
 *   `"protocol error: ..."`, as it does for a malformed frame or pieces longer than a message.
 *
 * Control frames (acks, keepalives, a close) are read as they arrive and never queue up.
 * A fiber that dies (a bug, a platform object that threw) logs its cause and closes the link.
 *
 * @since 2.0.0
 */
import { type Cause, Deferred, Duration, Effect, Exit, Latch, Queue, Schedule, type Scope } from "effect"
import { canEncode, encodeBatch, encodedLength } from "../../internal/batchFrame.ts"
import { batchFrames, utf8Length } from "../../internal/creditWindow.ts"
import {
  costsCredit,
  FrameReader,
  frameLimits,
  fragment,
  fragmentBinary,
  type Inbound,
  jsonBatchLength,
  readControl
} from "../../internal/linkFrames.ts"
import { ReceiveLedger, receiveLimits, SendWindow } from "../../internal/pacer.ts"
import { supervised } from "../../internal/supervise.ts"
import type { PeerId } from "../../schema/PeerId.ts"
import { type Link, LinkError, type LinkMessage } from "../../services/PeerTransport.ts"
import type { DataChannelLike } from "../RtcPeerConnection.ts"
import type { WebRtcTransportOptions } from "../WebRtcTransport.ts"
import { describe, drained, endLinkOnDefect, field, on } from "./events.ts"
import type { ChannelSetup } from "./negotiation.ts"

/** A binary message as received (werift: a Buffer; browsers: an ArrayBuffer); `undefined` for anything else. */
const asBytes = (data: unknown): Uint8Array | undefined =>
  data instanceof Uint8Array ? data : data instanceof ArrayBuffer ? new Uint8Array(data) : undefined

/** Consecutive text messages together, each binary message alone, in order. */
const runs = (messages: ReadonlyArray<LinkMessage>): Array<ReadonlyArray<string> | Uint8Array> => {
  const out: Array<ReadonlyArray<string> | Uint8Array> = []
  let text: Array<string> | undefined
  for (const m of messages) {
    if (typeof m === "string") {
      if (text === undefined) out.push(text = [])
      text.push(m)
    } else {
      text = undefined
      out.push(m)
    }
  }
  return out
}

export type ChannelOptions = Omit<WebRtcTransportOptions, "iceServers" | "disconnectedGraceMs">

/** The channel half of a link: set up before the channel exists, started once it is open. */
export interface Channel extends ChannelSetup {
  /** Runs the link on its open channel; `closeConnection` closes the `RTCPeerConnection`. */
  readonly start: (dc: DataChannelLike, closeConnection: Effect.Effect<void>) => Effect.Effect<Link, never, Scope.Scope>
}

export const makeChannel = (o: ChannelOptions, remote: PeerId): Effect.Effect<Channel, never, Scope.Scope> =>
  Effect.gen(function*() {
    const linkError = (reason: LinkError["reason"], message: string) => new LinkError({ peerId: remote, reason, message })
    const opened = yield* Deferred.make<void, LinkError>()
    const closed = yield* Deferred.make<string>()
    const ended = yield* Deferred.make<void>()
    const shutdownDone = yield* Deferred.make<void>()
    const messages = yield* Queue.bounded<LinkMessage, Cause.Done>(Math.max(1, o.receiveBuffer))
    // Data frames the listener could not hand on at once, in arrival order: raw frames, or
    // the messages of a frame that did not fit in `messages`. The ledger bounds them.
    const inbound = yield* Queue.unbounded<string | Uint8Array | ReadonlyArray<LinkMessage>, Cause.Done>()
    const outbox = yield* Queue.unbounded<LinkMessage, Cause.Done>()
    const credit = yield* Latch.make(true)
    const limits = frameLimits(o)
    const reader = new FrameReader(limits)
    const sendWindow = new SendWindow({ frames: o.window, chars: o.windowChars })
    const ledger = new ReceiveLedger(receiveLimits(o, limits.maxFrameChars))

    let channel: DataChannelLike | undefined
    let closing = false
    let receiving = true // false once the link ends: later frames are dropped
    let endReason: string | undefined // why the link ended (event time)
    let tellRemote = false // this side chose to end it (the remote gets the reason in a close frame)
    let remoteReason: string | undefined // the remote's close frame (read in order, so it wins)
    let held = 0 // messages taken from the outbox, not yet on the wire
    let lastHeard = Date.now()
    let backlog = 0 // items in `inbound` or in the receiver's hands
    let silenceExcused: () => boolean = () => false

    /**
     * The link ends: no more frames are taken in, and it closes (`start`'s watcher). `tell`:
     * this side decided it (a protocol error, a dead fiber), so the close frame says why.
     */
    const end = (reason: string, tell = false) => {
      if (endReason === undefined) {
        endReason = reason
        tellRemote = tell
      }
      receiving = false
      Queue.endUnsafe(inbound)
      Deferred.doneUnsafe(ended, Exit.void)
    }
    const failSetup = (message: string) => Deferred.doneUnsafe(opened, Exit.fail(linkError("setup-failed", message)))
    const trySend = (dc: DataChannelLike, frame: string | Uint8Array): boolean => {
      try {
        dc.send(frame)
        return true
      } catch (e) {
        end(`send failed: ${describe(e)}`)
        return false
      }
    }

    const acknowledge = (n: number) => {
      sendWindow.release(n)
      credit.openUnsafe()
    }
    // Credit owed for processed frames, sent once per turn of the event loop.
    let ackScheduled = false
    const sendAck = () => {
      ackScheduled = false
      const n = ledger.takeOwed()
      const dc = channel
      if (n > 0 && !closing && dc !== undefined && dc.readyState === "open") trySend(dc, `{"a":${n}}`)
    }
    const processed = () => {
      ledger.processed()
      if (!ackScheduled) {
        ackScheduled = true
        queueMicrotask(sendAck)
      }
    }

    const overCredit = () =>
      `protocol error: more than ${ledger.limits.frames} frames or ${ledger.limits.chars} characters sent without credit`
    // Nothing waits before this frame: read it now, so credit goes back at once while the
    // consumer keeps up; what does not fit in `messages` waits for the receiver.
    const readNow = (read: Inbound) => {
      if (read._tag === "Messages") {
        const rest = Queue.offerAllUnsafe(messages, read.messages)
        if (rest.length === 0) return processed()
        backlog++
        Queue.offerUnsafe(inbound, rest)
      } else if (read._tag === "Piece") {
        processed()
      } else if (read._tag === "ProtocolError") {
        end(read.reason, true)
      }
    }

    const detach: Array<() => void> = []
    yield* Effect.addFinalizer(() => Effect.sync(() => detach.splice(0).forEach((f) => f())))

    const attach = (dc: DataChannelLike) => {
      channel = dc
      // binary frames as ArrayBuffers (browsers default to Blobs); werift hands Buffers over anyway
      dc.binaryType = "arraybuffer"
      detach.push(
        on(dc, "message", (event) => {
          lastHeard = Date.now()
          const raw = field(event, "data")
          if (!receiving) return
          const data = typeof raw === "string" ? raw : asBytes(raw)
          if (data === undefined) return
          if (typeof data !== "string") {
            // a binary frame: always a data frame
            if (!ledger.arrive(data.byteLength)) return end(overCredit(), true)
            if (backlog > 0) {
              backlog++
              Queue.offerUnsafe(inbound, data)
              return
            }
            return readNow(reader.readBinary(data))
          }
          if (costsCredit(data)) {
            if (!ledger.arrive(data.length)) return end(overCredit(), true)
            if (backlog > 0) {
              backlog++
              Queue.offerUnsafe(inbound, data)
              return
            }
            return readNow(reader.read(data))
          }
          const control = readControl(data, limits)
          switch (control._tag) {
            case "Ack":
              return acknowledge(control.n)
            case "Keepalive": // its arrival refreshed lastHeard
            case "Messages":
            case "Piece":
              return
            case "Close":
              remoteReason ??= `remote: ${control.reason}`
              return end(remoteReason)
            case "ProtocolError":
              return end(control.reason, true)
          }
        }),
        on(dc, "open", () => Deferred.doneUnsafe(opened, Exit.void)),
        on(dc, "close", () => {
          failSetup("data channel closed")
          end("channel closed")
        }),
        // werift channels are EventEmitters: an "error" nobody listens to would throw
        on(dc, "error", () => {})
      )
      if (dc.readyState === "open") Deferred.doneUnsafe(opened, Exit.void)
    }

    const start = (dc: DataChannelLike, closeConnection: Effect.Effect<void>) =>
      Effect.gen(function*() {
        const dcOpen = () => dc.readyState === "open"

        const shutdown = (reason: string): Effect.Effect<void> =>
          Effect.suspend(() => {
            if (closing) return Deferred.await(shutdownDone)
            closing = true
            receiving = false
            Deferred.doneUnsafe(closed, Exit.succeed(reason))
            credit.openUnsafe()
            Queue.endUnsafe(outbox)
            // the remote hears why when this side chose to close (a protocol error included)
            const localClose = remoteReason === undefined && (endReason === undefined || tellRemote) && dcOpen()
            const notify = localClose && trySend(dc, JSON.stringify({ c: reason }))
            Queue.endUnsafe(inbound)
            // werift resets the stream at once on dc.close(), ahead of data it still buffers:
            // let the close frame reach SCTP first, or the remote only ever sees "channel closed".
            return (notify ? drained(dc) : Effect.void).pipe(
              Effect.timeoutOrElse({ duration: Duration.millis(o.closeGraceMs), orElse: () => Effect.void }),
              Effect.andThen(Effect.sync(() => dc.close())),
              Effect.ignore,
              Effect.andThen(closeConnection),
              Effect.ensuring(Deferred.done(shutdownDone, Exit.void)),
              Effect.uninterruptible
            )
          })

        // The link closes as soon as it ends, whether or not the consumer is reading.
        yield* Deferred.await(ended).pipe(
          Effect.andThen(Effect.suspend(() => shutdown(remoteReason ?? endReason ?? "closed"))),
          Effect.forkScoped
        )

        // Sender: batches the outbox into frames and spends one credit per data frame.
        const acquireCredit = (chars: number) =>
          Effect.gen(function*() {
            while (!closing) {
              if (sendWindow.tryAcquire(chars)) return true
              credit.closeUnsafe()
              if (sendWindow.tryAcquire(chars)) return true
              yield* credit.await
            }
            return false
          })
        yield* Effect.gen(function*() {
          while (true) {
            const taken = yield* Queue.takeBetween(outbox, 1, o.window * o.maxMessagesPerFrame)
            held = taken.length
            // runs of text messages go in batches; each binary message in binary frames of its own
            for (const run of runs(taken)) {
              if (run instanceof Uint8Array) {
                for (const frame of fragmentBinary(run, o.maxFrameChars)) {
                  if (!(yield* acquireCredit(frame.byteLength)) || !trySend(dc, frame)) return
                }
                held--
                continue
              }
              const batch = run
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
            }
            held = 0
          }
        }).pipe(
          Effect.catch((_: Cause.Done) => Effect.void), // the outbox ended: the link is closing
          endLinkOnDefect("sender", (reason) => end(reason, true)),
          Effect.forkScoped
        )

        // Receiver: the backlog in arrival order -> messages; a frame's credit goes back once its
        // messages are in `messages` (so a consumer that stops reading stops the sender).
        yield* Effect.gen(function*() {
          while (true) {
            for (const item of yield* Queue.takeAll(inbound)) {
              const read: Inbound = typeof item === "string"
                ? reader.read(item)
                : item instanceof Uint8Array
                ? reader.readBinary(item)
                : { _tag: "Messages", messages: item }
              if (read._tag === "Messages") {
                if (read.messages.length > 0) yield* Queue.offerAll(messages, read.messages)
                processed()
              } else if (read._tag === "Piece") {
                processed()
              } else if (read._tag === "ProtocolError") {
                return end(read.reason, true)
              }
              backlog--
            }
          }
        }).pipe(
          Effect.catch((_: Cause.Done) => Effect.void), // inbound ended and drained
          endLinkOnDefect("receiver", (reason) => end(reason, true)),
          Effect.ensuring(Queue.end(messages)),
          Effect.forkScoped
        )

        // Keepalive: a peer that vanished (crash, network gone) stops sending; close the link then.
        lastHeard = Date.now()
        yield* supervised(
          "WebRtcTransport.keepalive",
          Effect.sync(() => {
            if (closing || !dcOpen()) return
            // ICE is down and being restarted: silence is expected, and the restart's own
            // deadline ends the link if it fails; the peer gets a full deadAfterMs once it is back
            if (silenceExcused()) lastHeard = Date.now()
            else if (Date.now() - lastHeard > o.deadAfterMs) end("peer silent")
            else trySend(dc, `{"k":1}`)
          }).pipe(Effect.repeat(Schedule.spaced(o.keepaliveMs)))
        ).pipe(Effect.forkScoped)

        // Registered last so it runs first when the Scope closes, before the fibers go.
        yield* Effect.addFinalizer(() => shutdown("scope closed"))

        const tooLarge = (m: LinkMessage) =>
          typeof m !== "string" ? m.byteLength > o.maxMessageBytes :
          m.length > o.maxMessageBytes || (m.length * 3 > o.maxMessageBytes && utf8Length(m) > o.maxMessageBytes) ||
          // a lone surrogate sends it as JSON, escapes and all: the receiver takes one frame of this much
          (m.length * 6 + 8 > limits.maxReassembledChars && !canEncode(m) && jsonBatchLength(m) > limits.maxReassembledChars)

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
      })

    return {
      opened,
      attach,
      channel: () => channel,
      end: (reason: string) => end(reason),
      isClosing: () => closing,
      excuseSilence: (excused: () => boolean) => {
        silenceExcused = excused
      },
      start
    }
  })
