/**
 * The wire codec of a WebRTC data channel link, pure: the frame schema, the fast decoder,
 * fragmentation of long frames into pieces, and a `FrameReader` that reassembles pieces
 * within a bound. Nothing here throws on any input, and what a reader holds is bounded by
 * its `FrameLimits`, so a hostile peer can only get its link closed.
 *
 * Frames (text, JSON unless noted):
 * - `#<length>:<m1><length>:<m2>...` a batch (`batchFrame.ts`);
 * - `{"b":["m1","m2",...]}` the same as JSON (for messages with a lone surrogate);
 * - `{"a":n}` credit back; `{"c":"reason"}` close; `{"k":1}` keepalive;
 * - `"+" + chunk` a piece of a long frame, more follow; `"$" + chunk` the last piece.
 *
 * Binary frames carry one binary message each, behind a one-byte head: `0x00` a whole
 * message, `0x01` a piece of one (more follow), `0x02` its last piece.
 *
 * Batches, binary frames and pieces are data frames: each costs the sender one credit.
 *
 * @since 2.0.0
 */
import { Schema } from "effect"
import { BATCH_HEAD, decodeBatch } from "./batchFrame.ts"
import { MAX_FRAME_DEPTH, parseBounded } from "./jsonLimits.ts"

const BatchFrame = Schema.Struct({ b: Schema.Array(Schema.String) })
const AckFrame = Schema.Struct({ a: Schema.Int })
const CloseFrame = Schema.Struct({ c: Schema.String })
const KeepaliveFrame = Schema.Struct({ k: Schema.Int })
/** The JSON frames of a link (the schema `decodeFrame` implements by hand). */
export const Frame = Schema.Union([BatchFrame, AckFrame, CloseFrame, KeepaliveFrame])
export type Frame = typeof Frame.Type

const isInt = (u: unknown): u is number => typeof u === "number" && Number.isSafeInteger(u)

/**
 * Decodes a frame as `Schema.fromJsonString(Frame)` would (members tried in order, excess keys
 * dropped), by hand: it runs on every frame. `undefined` when it is not one, or when its JSON
 * nests deeper than `MAX_FRAME_DEPTH`.
 */
export const decodeFrame = (text: string): Frame | undefined => {
  const json = parseBounded(text, MAX_FRAME_DEPTH)
  if (typeof json !== "object" || json === null || Array.isArray(json)) return undefined
  const { a, b, c, k } = json as Record<string, unknown>
  if (Array.isArray(b) && b.every((m) => typeof m === "string")) return { b: b as Array<string> }
  if (isInt(a)) return { a }
  if (typeof c === "string") return { c }
  if (isInt(k)) return { k }
  return undefined
}

/** `"+"`: a piece of a long frame, more follow. */
export const PIECE = 0x2b
/** `"$"`: the last piece of a long frame. */
export const LAST_PIECE = 0x24
const JSON_BATCH = `{"b":`

/** Whether a raw frame is one the sender paid a credit for (a batch, or a piece of one). */
export const costsCredit = (raw: string): boolean => {
  const head = raw.charCodeAt(0)
  return head === BATCH_HEAD || head === PIECE || head === LAST_PIECE || raw.startsWith(JSON_BATCH)
}

/** Head byte of a binary frame: a whole message. */
export const BINARY_WHOLE = 0x00
/** Head byte of a binary frame: a piece of a message, more follow. */
export const BINARY_PIECE = 0x01
/** Head byte of a binary frame: the last piece of a message. */
export const BINARY_LAST = 0x02

/** The binary frames of one binary message, each at most `max` bytes, head byte included. */
export const fragmentBinary = (message: Uint8Array, max: number): ReadonlyArray<Uint8Array<ArrayBuffer>> => {
  const step = Math.max(2, max) - 1
  const frames: Array<Uint8Array<ArrayBuffer>> = []
  if (message.byteLength <= step) {
    const frame = new Uint8Array(message.byteLength + 1)
    frame[0] = BINARY_WHOLE
    frame.set(message, 1)
    return [frame]
  }
  for (let start = 0; start < message.byteLength; start += step) {
    const end = Math.min(start + step, message.byteLength)
    const frame = new Uint8Array(end - start + 1)
    frame[0] = end === message.byteLength ? BINARY_LAST : BINARY_PIECE
    frame.set(message.subarray(start, end), 1)
    frames.push(frame)
  }
  return frames
}

/** Cuts `frame` into pieces of at most `max` characters, prefix included, never inside a surrogate pair. */
export const fragment = (frame: string, max: number): ReadonlyArray<string> => {
  if (frame.length <= max) return [frame]
  const pieces: Array<string> = []
  let start = 0
  const step = Math.max(2, max) - 1 // a piece carries at least one character (two across a pair)
  while (start < frame.length) {
    let end = Math.min(start + step, frame.length)
    const last = frame.charCodeAt(end - 1)
    if (end < frame.length && end - start > 1 && last >= 0xd800 && last <= 0xdbff) end--
    pieces.push((end === frame.length ? "$" : "+") + frame.slice(start, end))
    start = end
  }
  return pieces
}

// ---------------------------------------------------------------------------------------------
// limits

/**
 * Characters of framing around one message in a frame: a batch's `#` and length and `:`, or a
 * JSON batch's `{"b":["` and `"]}`. A frame with one message of `maxMessageBytes` fits.
 */
export const FRAMING_CHARS = 32

/** Any peer may send frames this long, whatever its `maxFrameChars` (SCTP's usual 64 KiB). */
export const MIN_FRAME_LIMIT = 64 * 1024

export interface FrameLimits {
  /** Longest raw frame accepted, in UTF-16 code units. */
  readonly maxFrameChars: number
  /** Longest frame reassembled from pieces, in UTF-16 code units. */
  readonly maxReassembledChars: number
}

/**
 * What a receiver accepts, given its own options: raw frames up to its `maxFrameChars` (at
 * least 64 KiB), and reassembled frames up to one message of `maxMessageBytes` plus framing
 * (a message's UTF-16 length is at most its UTF-8 length).
 */
export const frameLimits = (o: { readonly maxFrameChars: number; readonly maxMessageBytes: number }): FrameLimits => ({
  maxFrameChars: Math.max(o.maxFrameChars, MIN_FRAME_LIMIT),
  maxReassembledChars: Math.max(o.maxFrameChars, o.maxMessageBytes) + FRAMING_CHARS
})

/** The JSON batch of one message: what a message with a lone surrogate costs on the wire. */
export const jsonBatchLength = (message: string): number => JSON.stringify(message).length + 8

// ---------------------------------------------------------------------------------------------
// reading

/** What one raw frame meant to the reader. */
export type Inbound =
  | { readonly _tag: "Messages"; readonly messages: ReadonlyArray<string | Uint8Array> }
  | { readonly _tag: "Piece" }
  | { readonly _tag: "Ack"; readonly n: number }
  | { readonly _tag: "Close"; readonly reason: string }
  | { readonly _tag: "Keepalive" }
  | { readonly _tag: "ProtocolError"; readonly reason: string }

const held: Inbound = { _tag: "Piece" }
const keepalive: Inbound = { _tag: "Keepalive" }
const protocolError = (reason: string): Inbound => ({ _tag: "ProtocolError", reason: `protocol error: ${reason}` })

/** The messages of a batch text (either encoding); anything else is a protocol error. */
const readBatch = (text: string): Inbound => {
  if (text.charCodeAt(0) === BATCH_HEAD) {
    const messages = decodeBatch(text)
    return messages === undefined ? protocolError("malformed batch") : { _tag: "Messages", messages }
  }
  const frame = text.startsWith(JSON_BATCH) ? decodeFrame(text) : undefined
  return frame !== undefined && "b" in frame ? { _tag: "Messages", messages: frame.b } : protocolError("malformed batch")
}

/**
 * Reads the frames of one link in arrival order, joining pieces. It holds at most one
 * frame's pieces, never more than `limits.maxReassembledChars` characters: a longer run of
 * pieces is a protocol error (and the pieces are dropped).
 */
export class FrameReader {
  readonly limits: FrameLimits
  #pieces: Array<string> = []
  #binaryPieces: Array<Uint8Array> = []
  #heldChars = 0

  constructor(limits: FrameLimits) {
    this.limits = limits
  }

  /** Characters of pieces held, waiting for their last piece. */
  get heldChars(): number {
    return this.#heldChars
  }

  #drop(): void {
    this.#pieces = []
    this.#binaryPieces = []
    this.#heldChars = 0
  }

  /**
   * Reads a binary frame (always a data frame). Its pieces count against the same bound as
   * text pieces (bytes for characters), and the two never interleave.
   */
  readBinary(raw: Uint8Array): Inbound {
    if (raw.byteLength > this.limits.maxFrameChars || raw.byteLength === 0) {
      this.#drop()
      return protocolError(`binary frame of ${raw.byteLength} bytes (1 to ${this.limits.maxFrameChars})`)
    }
    const head = raw[0]
    if (this.#pieces.length > 0 || (head === BINARY_WHOLE && this.#binaryPieces.length > 0)) {
      this.#drop()
      return protocolError("a binary frame between the pieces of a frame")
    }
    const body = raw.subarray(1)
    if (head === BINARY_WHOLE) return { _tag: "Messages", messages: [body] }
    if (head !== BINARY_PIECE && head !== BINARY_LAST) {
      this.#drop()
      return protocolError(`binary frame of unknown kind ${head}`)
    }
    const total = this.#heldChars + body.byteLength
    if (total > this.limits.maxReassembledChars) {
      this.#drop()
      return protocolError(`pieces longer than ${this.limits.maxReassembledChars} bytes`)
    }
    this.#binaryPieces.push(body)
    this.#heldChars = total
    if (head === BINARY_PIECE) return held
    const message = new Uint8Array(total)
    let at = 0
    for (const piece of this.#binaryPieces) {
      message.set(piece, at)
      at += piece.byteLength
    }
    this.#drop()
    return { _tag: "Messages", messages: [message] }
  }

  read(raw: string): Inbound {
    if (raw.length > this.limits.maxFrameChars) {
      this.#drop()
      return protocolError(`frame of ${raw.length} characters (at most ${this.limits.maxFrameChars})`)
    }
    const head = raw.charCodeAt(0)
    if (this.#binaryPieces.length > 0) {
      this.#drop()
      return protocolError("a text frame between the pieces of a binary frame")
    }
    if (head === PIECE || head === LAST_PIECE) {
      const total = this.#heldChars + raw.length - 1
      if (total > this.limits.maxReassembledChars) {
        this.#drop()
        return protocolError(`pieces longer than ${this.limits.maxReassembledChars} characters`)
      }
      this.#pieces.push(raw.slice(1))
      this.#heldChars = total
      if (head === PIECE) return held
      const text = this.#pieces.join("")
      this.#drop()
      return readBatch(text)
    }
    const between = this.#pieces.length > 0
    if (head === BATCH_HEAD || raw.startsWith(JSON_BATCH)) {
      if (between) {
        this.#drop()
        return protocolError("a batch between the pieces of a frame")
      }
      return readBatch(raw)
    }
    const control = readControl(raw, this.limits)
    // a close may cut a frame's pieces short (the sender stopped between them)
    if (control._tag === "Close") this.#drop()
    return control
  }
}

/**
 * Reads a frame that is not a data frame (`costsCredit` is false): an ack, a keepalive, a
 * close, or a protocol error. Keeps no state, so it can run as frames arrive.
 */
export const readControl = (raw: string, limits: FrameLimits): Inbound => {
  if (raw.length > limits.maxFrameChars) {
    return protocolError(`frame of ${raw.length} characters (at most ${limits.maxFrameChars})`)
  }
  const frame = decodeFrame(raw)
  if (frame === undefined) return protocolError("malformed frame")
  // a batch spelled differently (`{"a":1,"b":[...]}`) was not paid for
  if ("b" in frame) return protocolError("batch without its prefix")
  if ("a" in frame) return { _tag: "Ack", n: frame.a }
  if ("k" in frame) return keepalive
  return { _tag: "Close", reason: frame.c }
}
