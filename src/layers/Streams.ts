/**
 * The `Streams` layer: byte streams over routed direct messages of kind `"stream"` (the
 * protocol and its pure parts are `internal/streamProtocol.ts`).
 *
 * Every message of a stream is acknowledged end to end by the Router, which retransmits what
 * is lost; one that is never acknowledged aborts its stream (`unreachable`). Chunks travel as
 * binary attachments, signed by their origin like any direct message. Each message's id is
 * the stream's id, a direction mark and a step (`<sid>>5` the sender's chunk 5, `<sid><c48`
 * the receiver's credit up to 48), so retransmissions are recognised and the two ends' ids
 * never collide at a relay.
 *
 * What a remote peer can make this peer hold is bounded: `maxIncoming` streams
 * (`maxIncomingPerPeer` from one peer), each at most `window` chunks; anything that breaks the
 * protocol (chunks beyond the credit, data before acceptance, a bad checksum) aborts that
 * stream, and a stream idle for `idleTimeout` is aborted at this end and told so.
 *
 * @since 2.0.0
 */
import { type Cause, Clock, Deferred, Effect, Latch, Layer, Option, PubSub, Queue, Schedule } from "effect"
import { cryptoBackend } from "../internal/cryptoBackend.ts"
import { supervised } from "../internal/supervise.ts"
import {
  CHUNK_BYTES,
  decodeStreamMessage,
  encodeStreamMessage,
  ReceiveWindow,
  StreamDigest,
  type StreamMessage
} from "../internal/streamProtocol.ts"
import type { PeerId } from "../schema/PeerId.ts"
import { type In, LEAVING_GRACE_MS, type Out, parseMessageId, streamError } from "./streams/state.ts"
import { MeshConfig } from "../services/MeshConfig.ts"
import { Router } from "../services/Router.ts"
import {
  type IncomingStream,
  type OutgoingStream,
  StreamError,
  type StreamEvent,
  type StreamInfo,
  Streams,
  streamsDefaults,
  type StreamsOptions
} from "../services/Streams.ts"

export const layerWith = (options: Partial<StreamsOptions> = {}) =>
  Layer.effect(
    Streams,
    Effect.gen(function*() {
      const config = yield* MeshConfig
      const o: StreamsOptions = { ...streamsDefaults, ...config.streams, ...options }
      const router = yield* Router
      const events = yield* Effect.acquireRelease(PubSub.unbounded<StreamEvent>(), PubSub.shutdown)
      const backlog = yield* Queue.bounded<In>(Math.max(1, o.backlog))
      const outs = new Map<string, Out>()
      const ins = new Map<string, In>()
      const stats = { opened: 0, accepted: 0, completed: 0, aborted: 0, refused: 0, invalid: 0 }
      const progressStep = Math.max(1, o.window >> 1)

      /** Sends one message of a stream; `step` tells its id apart from the stream's other messages. */
      const send = (to: PeerId, m: StreamMessage, step: string, payload?: Uint8Array) =>
        router.send(to, encodeStreamMessage(m), "stream", payload === undefined ? { id: `${m.sid}${step}` } : { id: `${m.sid}${step}`, payload })
      /** A control message sent in the background: its failure only shows as the stream's own. */
      const tell = (to: PeerId, m: StreamMessage, step: string) =>
        send(to, m, step).pipe(Effect.ignore, Effect.forkDetach, Effect.asVoid)

      const emit = (event: StreamEvent) => PubSub.publish(events, event)

      // ---- the sending end

      const failOut = Effect.fnUntraced(function*(out: Out, error: StreamError, by: "local" | "remote", notify: boolean) {
        if (out.failed !== undefined || Deferred.isDoneUnsafe(out.done)) return
        out.failed = error
        outs.delete(out.info.id)
        stats.aborted++
        out.credit.openUnsafe()
        Deferred.doneUnsafe(out.accepted, Effect.fail(error))
        Deferred.doneUnsafe(out.done, Effect.fail(error))
        if (notify) yield* tell(out.info.peerId, { op: "abort", sid: out.info.id, reason: error.message }, ">a")
        yield* emit({ _tag: "Aborted", id: out.info.id, peerId: out.info.peerId, direction: "out", reason: error.message, by })
      })

      const sendChunk = Effect.fnUntraced(function*(out: Out, chunk: Uint8Array) {
        while (out.failed === undefined && out.seq >= out.upto) {
          out.credit.closeUnsafe()
          if (out.seq < out.upto) break
          yield* out.credit.await
        }
        if (out.failed !== undefined) return yield* out.failed
        const seq = out.seq++
        out.bytes += chunk.byteLength
        out.digest.add(chunk)
        yield* send(out.info.peerId, { op: "data", sid: out.info.id, seq }, `>${seq}`, chunk).pipe(
          Effect.mapError((e) => streamError(out.info.id, "invalid", e.message))
        )
      })

      const outgoing = (out: Out): OutgoingStream => ({
        ...out.info,
        write: (bytes) =>
          Effect.gen(function*() {
            if (out.failed !== undefined) return yield* out.failed
            if (out.ending) return yield* streamError(out.info.id, "closed", "the stream is closed")
            // copied: the caller may reuse its buffer, and a chunk is kept until acknowledged
            for (let at = 0; at < bytes.byteLength; at += CHUNK_BYTES) {
              yield* sendChunk(out, bytes.slice(at, Math.min(at + CHUNK_BYTES, bytes.byteLength)))
            }
          }),
        close: Effect.gen(function*() {
          if (out.failed !== undefined) return yield* out.failed
          if (!out.ending) {
            out.ending = true
            out.lastHeard = yield* Clock.currentTimeMillis
            const end = { op: "end", sid: out.info.id, chunks: out.seq, bytes: out.bytes, digest: out.digest.value } as const
            yield* send(out.info.peerId, end, ">e").pipe(Effect.mapError((e) => streamError(out.info.id, "invalid", e.message)))
          }
          yield* Deferred.await(out.done)
        }),
        abort: (reason) => failOut(out, streamError(out.info.id, "aborted", `aborted: ${reason}`), "local", true)
      })

      const onReceiverMessage = Effect.fnUntraced(function*(out: Out, m: StreamMessage, now: number) {
        out.lastHeard = now
        if (m.op === "credit") {
          Deferred.doneUnsafe(out.accepted, Effect.void)
          if (m.upto > out.upto) {
            out.upto = m.upto
            out.credit.openUnsafe()
          }
          if (m.bytes > 0) {
            yield* emit({ _tag: "Progress", id: out.info.id, peerId: out.info.peerId, direction: "out", bytes: m.bytes, total: out.info.size })
          }
        } else if (m.op === "done") {
          if (!out.ending || out.failed !== undefined) return
          outs.delete(out.info.id)
          stats.completed++
          Deferred.doneUnsafe(out.done, Effect.void)
          // progress ends at the whole (credit reports it in steps)
          yield* emit({ _tag: "Progress", id: out.info.id, peerId: out.info.peerId, direction: "out", bytes: out.bytes, total: out.info.size })
          yield* emit({ _tag: "Completed", id: out.info.id, peerId: out.info.peerId, direction: "out", bytes: out.bytes })
        } else if (m.op === "abort") {
          yield* failOut(out, streamError(out.info.id, m.reason.startsWith("refused") ? "refused" : "aborted", `remote: ${m.reason}`), "remote", false)
        } else {
          stats.invalid++
        }
      })

      // ---- the receiving end

      const failIn = Effect.fnUntraced(function*(s: In, error: StreamError, by: "local" | "remote", notify: boolean) {
        if (s.state === "finished") return
        s.state = "finished"
        ins.delete(s.key)
        stats.aborted++
        yield* Queue.fail(s.chunks, error)
        if (notify) yield* tell(s.info.peerId, { op: "abort", sid: s.info.id, reason: error.message }, "<a")
        yield* emit({ _tag: "Aborted", id: s.info.id, peerId: s.info.peerId, direction: "in", reason: error.message, by })
      })

      /** All chunks are in: the stream ends if the checksum checks out. */
      const tryFinish = Effect.fnUntraced(function*(s: In) {
        const end = s.end
        if (end === undefined || s.window.received < end.chunks || s.state !== "open") return
        if (s.window.received > end.chunks || s.window.bytes !== end.bytes || s.digest.value !== end.digest) {
          return yield* failIn(s, streamError(s.info.id, "checksum", "checksum mismatch: the stream arrived corrupted"), "local", true)
        }
        s.state = "finished"
        ins.delete(s.key)
        stats.completed++
        yield* Queue.end(s.chunks)
        yield* tell(s.info.peerId, { op: "done", sid: s.info.id }, "<d")
        yield* emit({ _tag: "Progress", id: s.info.id, peerId: s.info.peerId, direction: "in", bytes: s.window.bytes, total: s.info.size })
        yield* emit({ _tag: "Completed", id: s.info.id, peerId: s.info.peerId, direction: "in", bytes: s.window.bytes })
      })

      const violation = (s: In, why: string) => {
        stats.invalid++
        return failIn(s, streamError(s.info.id, "invalid", `protocol error: ${why}`), "local", true)
      }

      const onOpen = Effect.fnUntraced(function*(from: PeerId, m: Extract<StreamMessage, { op: "open" }>, now: number) {
        const key = `${from}/${m.sid}`
        if (ins.has(key)) return
        let fromPeer = 0
        for (const s of ins.values()) if (s.info.peerId === from) fromPeer++
        const info: StreamInfo = { id: m.sid, peerId: from, name: m.name, size: m.size, type: m.type }
        const s: In = {
          key,
          info,
          state: "waiting",
          lastHeard: now,
          end: undefined,
          window: new ReceiveWindow(o.window),
          digest: new StreamDigest(),
          chunks: yield* Queue.bounded<Uint8Array, StreamError | Cause.Done>(Math.max(1, o.window))
        }
        const room = ins.size < o.maxIncoming && fromPeer < o.maxIncomingPerPeer
        if (!room || !Queue.offerUnsafe(backlog, s)) {
          stats.refused++
          const why = room ? "refused: too many streams waiting to be accepted" : "refused: too many open streams"
          return yield* tell(from, { op: "abort", sid: m.sid, reason: why }, "<a")
        }
        ins.set(key, s)
      })

      const onSenderMessage = Effect.fnUntraced(function*(s: In, m: StreamMessage, payload: Uint8Array | undefined, now: number) {
        s.lastHeard = now
        if (m.op === "data") {
          if (s.state !== "open") return yield* violation(s, "data before the stream was accepted")
          if (payload === undefined) return yield* violation(s, "a data message without its chunk")
          if (s.end !== undefined && m.seq >= s.end.chunks) return yield* violation(s, "data past the end")
          const arrival = s.window.arrive(m.seq, payload)
          if (arrival._tag === "Violation") return yield* violation(s, arrival.reason)
          if (arrival._tag === "Duplicate") return
          const before = s.window.received - arrival.chunks.length
          for (const chunk of arrival.chunks) s.digest.add(chunk)
          if (Queue.offerAllUnsafe(s.chunks, arrival.chunks).length > 0) return yield* violation(s, "more chunks than the window")
          if (Math.floor(before / progressStep) !== Math.floor(s.window.received / progressStep)) {
            yield* emit({ _tag: "Progress", id: s.info.id, peerId: s.info.peerId, direction: "in", bytes: s.window.bytes, total: s.info.size })
          }
          return yield* tryFinish(s)
        }
        if (m.op === "end") {
          s.end = m
          return yield* tryFinish(s)
        }
        if (m.op === "abort") return yield* failIn(s, streamError(s.info.id, "aborted", `remote: ${m.reason}`), "remote", false)
        stats.invalid++
      })

      const incoming = (s: In): IncomingStream => ({
        ...s.info,
        read: Queue.take(s.chunks).pipe(
          Effect.flatMap((chunk) => {
            const upto = s.window.take(1)
            if (upto === undefined || s.state !== "open") return Effect.succeed(Option.some(chunk))
            return Effect.as(
              tell(s.info.peerId, { op: "credit", sid: s.info.id, upto, bytes: s.window.bytes }, `<c${upto}`),
              Option.some(chunk)
            )
          }),
          Effect.catchTag("Done", () => Effect.succeed(Option.none<Uint8Array>()))
        ),
        abort: (reason) => failIn(s, streamError(s.info.id, "aborted", `aborted: ${reason}`), "local", true)
      })

      // ---- inbound messages, lost messages, idle streams

      const delivered = yield* router.subscribe
      yield* supervised(
        "Streams.inbound",
        Effect.gen(function*() {
          while (true) {
            const d = yield* PubSub.take(delivered)
            if (d.kind !== "stream") continue
            const m = decodeStreamMessage(d.content)
            const now = yield* Clock.currentTimeMillis
            if (m === undefined) {
              stats.invalid++
              continue
            }
            const out = outs.get(m.sid)
            if (out !== undefined && out.info.peerId === d.origin && (m.op === "credit" || m.op === "done" || m.op === "abort")) {
              yield* onReceiverMessage(out, m, now)
              continue
            }
            if (m.op === "open") {
              yield* onOpen(d.origin, m, now)
              continue
            }
            const s = ins.get(`${d.origin}/${m.sid}`)
            if (s !== undefined) yield* onSenderMessage(s, m, d.payload, now)
          }
        })
      ).pipe(Effect.forkScoped)

      const lost = yield* router.undelivered
      yield* supervised(
        "Streams.undelivered",
        Effect.gen(function*() {
          while (true) {
            const u = yield* PubSub.take(lost)
            const parsed = u.kind === "stream" ? parseMessageId(u.id) : undefined
            if (parsed === undefined) continue
            const error = streamError(parsed.sid, "unreachable", `${u.to} did not acknowledge the stream's messages`)
            const out = parsed.fromSender ? outs.get(parsed.sid) : undefined
            if (out !== undefined && out.info.peerId === u.to) yield* failOut(out, error, "local", false)
            const s = parsed.fromSender ? undefined : ins.get(`${u.to}/${parsed.sid}`)
            if (s !== undefined) yield* failIn(s, error, "local", false)
          }
        })
      ).pipe(Effect.forkScoped)

      yield* supervised(
        "Streams.idle",
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const timeout = (id: string) => streamError(id, "timeout", `no progress for ${o.idleTimeout} ms`)
          for (const out of [...outs.values()]) {
            const waiting = out.ending || out.seq >= out.upto || !Deferred.isDoneUnsafe(out.accepted)
            if (waiting && now - out.lastHeard > o.idleTimeout) yield* failOut(out, timeout(out.info.id), "local", true)
          }
          for (const s of [...ins.values()]) {
            // a reader that does not read is not the sender's fault: only a stream with room idles
            const hasRoom = s.state === "waiting" || s.window.received < s.window.granted || s.end !== undefined
            if (hasRoom && now - s.lastHeard > o.idleTimeout) yield* failIn(s, timeout(s.info.id), "local", true)
          }
        }).pipe(Effect.repeat(Schedule.spaced(Math.max(50, Math.min(1000, o.idleTimeout / 4)))))
      ).pipe(Effect.forkScoped)

      /**
       * Ends every open stream, telling the other ends (best effort, without waiting for
       * acknowledgements), and gives those messages a moment to leave before links close.
       */
      const closeAll = (reason: string) =>
        Effect.gen(function*() {
          if (outs.size + ins.size === 0) return
          const gone = (id: string) => streamError(id, "closed", reason)
          const abort = (to: PeerId, sid: string, step: string) =>
            router.send(to, encodeStreamMessage({ op: "abort", sid, reason }), "stream", { id: `${sid}${step}`, ack: false }).pipe(Effect.ignore)
          for (const out of [...outs.values()]) {
            yield* abort(out.info.peerId, out.info.id, ">a")
            yield* failOut(out, gone(out.info.id), "local", false)
          }
          for (const s of [...ins.values()]) {
            yield* abort(s.info.peerId, s.info.id, "<a")
            yield* failIn(s, gone(s.info.id), "local", false)
          }
          yield* Effect.sleep(LEAVING_GRACE_MS)
        }).pipe(Effect.timeoutOrElse({ duration: 1000, orElse: () => Effect.void }))
      yield* Effect.addFinalizer(() => closeAll("the peer left"))

      return Streams.of({
        open: (to, info) =>
          Effect.gen(function*() {
            const id = cryptoBackend.nonce()
            const name = info.name.slice(0, 256)
            const type = info.type?.slice(0, 256)
            if (info.size !== undefined && !(Number.isSafeInteger(info.size) && info.size >= 0)) {
              return yield* streamError(id, "invalid", `a stream's size is a whole number of bytes, not ${info.size}`)
            }
            const out: Out = {
              info: { id, peerId: to, name, size: info.size, type },
              upto: 0,
              seq: 0,
              bytes: 0,
              lastHeard: yield* Clock.currentTimeMillis,
              ending: false,
              failed: undefined,
              digest: new StreamDigest(),
              credit: yield* Latch.make(false),
              accepted: yield* Deferred.make<void, StreamError>(),
              done: yield* Deferred.make<void, StreamError>()
            }
            outs.set(id, out)
            stats.opened++
            yield* send(to, { op: "open", sid: id, name, size: info.size, type }, ">o").pipe(
              Effect.catch((e) => failOut(out, streamError(id, "invalid", e.message), "local", false))
            )
            yield* Deferred.await(out.accepted)
            return outgoing(out)
          }),
        accept: Effect.gen(function*() {
          while (true) {
            const s = yield* Queue.take(backlog)
            if (s.state !== "waiting") continue
            s.state = "open"
            s.lastHeard = yield* Clock.currentTimeMillis
            stats.accepted++
            yield* tell(s.info.peerId, { op: "credit", sid: s.info.id, upto: s.window.granted, bytes: 0 }, `<c${s.window.granted}`)
            return incoming(s)
          }
        }),
        events: PubSub.subscribe(events),
        closeAll,
        stats: Effect.sync(() => ({ ...stats, active: outs.size + ins.size }))
      })
    }).pipe(Effect.annotateLogs("module", "Streams"))
  )

/** Streams with the mesh's `streams` options (`streamsDefaults` for the rest). */
export const layer = layerWith()
