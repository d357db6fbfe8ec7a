/**
 * Frames with a binary attachment (binary messages, stream chunks): on a link they travel as
 * one binary message, the frame's JSON followed by the raw bytes, never as base64.
 *
 * Layout: `0x50` ("P"), the JSON header's length in bytes (4 bytes, big-endian), the header
 * (a gossip or direct frame, UTF-8 JSON, with `bin` set), then the attachment. `bin` is
 * `"<byte length>:<SHA-256 of the bytes, base64url>"`, and the origin signs it with the rest
 * of the frame: a relay that changes one byte breaks the signature.
 *
 * Pure; decoding never throws, and checks sizes before it parses or hashes anything.
 *
 * @since 2.0.0
 */
import { cryptoBackend } from "../internal/cryptoBackend.ts"
import { decodeHeader, type DirectFrame, type GossipFrame } from "./PeerFrames.ts"

/** First byte of a binary link message carrying a frame and its attachment. */
export const BINARY_FRAME = 0x50
const PREFIX = 5

const encoder = new TextEncoder()
const decoder = new TextDecoder("utf-8", { fatal: true })

/** The `bin` of `payload`: its length and SHA-256. */
export const attachmentTag = (payload: Uint8Array): string =>
  `${payload.byteLength}:${cryptoBackend.toBase64Url(cryptoBackend.sha256([payload]))}`

/** A frame as it goes on a link: JSON text, or a binary message when it has an attachment. */
export const encodeSigned = (frame: GossipFrame | DirectFrame): string | Uint8Array => {
  const { payload, ...header } = frame
  if (payload === undefined) return JSON.stringify(header)
  const head = encoder.encode(JSON.stringify(header))
  const out = new Uint8Array(PREFIX + head.byteLength + payload.byteLength)
  out[0] = BINARY_FRAME
  new DataView(out.buffer).setUint32(1, head.byteLength)
  out.set(head, PREFIX)
  out.set(payload, PREFIX + head.byteLength)
  return out
}

/** How long an encoded frame is, in bytes or UTF-16 units (what `recent` and limits count). */
export const encodedSize = (encoded: string | Uint8Array): number =>
  typeof encoded === "string" ? encoded.length : encoded.byteLength

/**
 * Decodes a binary link message: `undefined` unless it is a gossip or direct frame whose `bin`
 * matches the bytes that follow it (length, then hash), with a header of at most `maxHeader`
 * bytes. The payload returned is a view of `bytes`.
 */
export const decodeBinary = (bytes: Uint8Array, maxHeader: number): GossipFrame | DirectFrame | undefined => {
  if (bytes.byteLength < PREFIX || bytes[0] !== BINARY_FRAME) return undefined
  const headLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(1)
  if (headLength > maxHeader || PREFIX + headLength > bytes.byteLength) return undefined
  let text: string
  try {
    text = decoder.decode(bytes.subarray(PREFIX, PREFIX + headLength))
  } catch {
    return undefined
  }
  const frame = decodeHeader(text)
  if (frame === undefined || (frame.t !== "gossip" && frame.t !== "direct") || frame.bin === undefined) return undefined
  const payload = bytes.subarray(PREFIX + headLength)
  const colon = frame.bin.indexOf(":")
  if (frame.bin.slice(0, colon) !== String(payload.byteLength)) return undefined
  return attachmentTag(payload) === frame.bin ? { ...frame, payload } : undefined
}
