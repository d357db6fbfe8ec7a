/**
 * The stream protocol, pure: the control messages of a byte stream between two peers, their
 * validation (every field comes from a remote peer), the receiver's reordering window and the
 * running checksum. The effects are in `layers/Streams.ts`.
 *
 * A stream, over routed direct messages of kind `"stream"` (each acknowledged end to end):
 * - the sender: `open {sid, name, size?, type?}`; then `data {sid, seq}` with one chunk
 *   (at most `CHUNK_BYTES`) as the message's binary attachment; then
 *   `end {sid, chunks, bytes, digest}`;
 * - the receiver: `credit {sid, upto, bytes}` (chunks below `upto` may be sent; `bytes`
 *   received so far, for the sender's progress), and `done {sid}` once the digest checks out;
 * - either side: `abort {sid, reason}`.
 * The receiver grants `window` chunks beyond what its reader has taken, so a slow reader
 * slows the writer and each side holds at most a window of chunks.
 *
 * @since 2.0.0
 */
import type { Schema } from "effect"
import { cryptoBackend } from "./cryptoBackend.ts"

/** Bytes of one chunk (the attachment of one `data` message). */
export const CHUNK_BYTES = 16 * 1024
/** Chunks a receiver lets the sender have in flight by default (256 KiB). */
export const DEFAULT_WINDOW = 16
const MAX_TEXT = 256

export type StreamMessage =
  | {
    readonly op: "open"
    readonly sid: string
    readonly name: string
    readonly size: number | undefined
    readonly type: string | undefined
  }
  | { readonly op: "data"; readonly sid: string; readonly seq: number }
  | { readonly op: "end"; readonly sid: string; readonly chunks: number; readonly bytes: number; readonly digest: string }
  | { readonly op: "credit"; readonly sid: string; readonly upto: number; readonly bytes: number }
  | { readonly op: "done"; readonly sid: string }
  | { readonly op: "abort"; readonly sid: string; readonly reason: string }

const SID = /^[A-Za-z0-9_-]{8,64}$/
const isCount = (u: unknown): u is number => typeof u === "number" && Number.isSafeInteger(u) && u >= 0
const text = (u: unknown): string | undefined => (typeof u === "string" && u.length <= MAX_TEXT ? u : undefined)

/** A stream message as sent (JSON content of a `"stream"` direct message). */
export const encodeStreamMessage = (m: StreamMessage): Schema.Json => {
  const out: Record<string, Schema.Json> = {}
  for (const [k, v] of Object.entries(m)) if (v !== undefined) out[k] = v as Schema.Json
  return out
}

/** Reads a stream message from untrusted content: `undefined` unless every field is as the protocol says. */
export const decodeStreamMessage = (content: Schema.Json): StreamMessage | undefined => {
  if (typeof content !== "object" || content === null || Array.isArray(content)) return undefined
  const o = content as Record<string, unknown>
  const sid = o.sid
  if (typeof sid !== "string" || !SID.test(sid)) return undefined
  switch (o.op) {
    case "open": {
      const name = text(o.name)
      const size = o.size === undefined ? undefined : isCount(o.size) ? o.size : null
      const type = o.type === undefined ? undefined : text(o.type) ?? null
      if (name === undefined || size === null || type === null) return undefined
      return { op: "open", sid, name, size, type }
    }
    case "data":
      return isCount(o.seq) ? { op: "data", sid, seq: o.seq } : undefined
    case "end": {
      const { bytes, chunks, digest } = o
      return isCount(chunks) && isCount(bytes) && typeof digest === "string" && digest.length === 43
        ? { op: "end", sid, chunks, bytes, digest }
        : undefined
    }
    case "credit":
      return isCount(o.upto) && isCount(o.bytes) ? { op: "credit", sid, upto: o.upto, bytes: o.bytes } : undefined
    case "done":
      return { op: "done", sid }
    case "abort": {
      const reason = typeof o.reason === "string" ? o.reason.slice(0, MAX_TEXT) : "aborted"
      return { op: "abort", sid, reason }
    }
    default:
      return undefined
  }
}

/** The running checksum of a stream: SHA-256 over the previous digest and each chunk's SHA-256, in order. */
export class StreamDigest {
  #value: Uint8Array = new Uint8Array(32)

  add(chunk: Uint8Array): void {
    const { sha256 } = cryptoBackend
    this.#value = sha256([this.#value, sha256([chunk])])
  }

  /** base64url, 43 characters. */
  get value(): string {
    return cryptoBackend.toBase64Url(this.#value)
  }
}

export type Arrival =
  /** Chunks now in order, to hand to the reader (possibly none: the chunk waits for an earlier one). */
  | { readonly _tag: "Ready"; readonly chunks: ReadonlyArray<Uint8Array> }
  /** Seen before (a retransmission): ignore. */
  | { readonly _tag: "Duplicate" }
  /** Beyond the credit granted, or too large: the sender broke the protocol. */
  | { readonly _tag: "Violation"; readonly reason: string }

/**
 * The receiver's side of one stream: puts chunks back in order, holding at most `window`
 * out of order, and works out the credit to grant as the reader takes chunks.
 */
export class ReceiveWindow {
  readonly window: number
  /** Next chunk expected in order. */
  #next = 0
  /** Chunks taken by the reader. */
  #taken = 0
  /** Credit last granted: the sender may send chunks below this. */
  #granted: number
  readonly #early = new Map<number, Uint8Array>()
  bytes = 0

  constructor(window: number) {
    this.window = Math.max(1, window)
    this.#granted = this.window
  }

  get received(): number {
    return this.#next
  }

  get granted(): number {
    return this.#granted
  }

  arrive(seq: number, chunk: Uint8Array): Arrival {
    if (chunk.byteLength > CHUNK_BYTES) return { _tag: "Violation", reason: `chunk of ${chunk.byteLength} bytes (at most ${CHUNK_BYTES})` }
    if (seq < this.#next || this.#early.has(seq)) return { _tag: "Duplicate" }
    if (seq >= this.#granted) return { _tag: "Violation", reason: `chunk ${seq} beyond the credit granted (${this.#granted})` }
    if (seq > this.#next) {
      this.#early.set(seq, chunk)
      return { _tag: "Ready", chunks: [] }
    }
    const ready = [chunk]
    this.#next++
    this.bytes += chunk.byteLength
    for (let c = this.#early.get(this.#next); c !== undefined; c = this.#early.get(this.#next)) {
      this.#early.delete(this.#next)
      ready.push(c)
      this.#next++
      this.bytes += c.byteLength
    }
    return { _tag: "Ready", chunks: ready }
  }

  /**
   * The reader took `n` chunks. Returns the new credit to send when it moved by half a
   * window or more (credit is sent in steps, not per chunk), else `undefined`.
   */
  take(n: number): number | undefined {
    this.#taken += n
    const upto = this.#taken + this.window
    if (upto - this.#granted < Math.max(1, this.window >> 1)) return undefined
    this.#granted = upto
    return upto
  }
}
