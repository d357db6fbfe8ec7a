/**
 * Our peer-to-peer protocol (version 1): the frames that travel on a link between two
 * peers, one JSON object per message, discriminated on `t`. PeerPigeon 1.x peers only need
 * to meet us at the signaling server; this protocol is ours.
 *
 * @since 2.0.0
 */
import { Exit, Schema } from "effect"
import { KeyAnnouncement } from "../crypto/keys.ts"
import { deeperThan, MAX_CONTENT_DEPTH, parseBounded } from "../internal/jsonLimits.ts"
import { PeerId } from "./PeerId.ts"

export const PROTOCOL_VERSION = 1

/** First frame each side sends on a new link. */
export const Hello = Schema.Struct({
  t: Schema.tag("hello"),
  v: Schema.Number,
  peerId: PeerId,
  /** Raw Ed25519 public key, base64url. */
  publicKey: Schema.String,
  /** Random; the other side signs it to prove its identity. */
  nonce: Schema.String,
  networkName: Schema.String,
  /**
   * The sender's end-to-end encryption key, signed by its identity (crypto/keys.ts; every field
   * of fixed length, so bounded). Taken only once the handshake proved `publicKey`, and only
   * when it names that key. Older peers omit it.
   */
  enc: Schema.optionalKey(KeyAnnouncement)
})

/** Signature over `linkChallenge(theirNonce, myId, theirId)`. */
export const Proof = Schema.Struct({
  t: Schema.tag("proof"),
  signature: Schema.String
})

/** Fields every origin-signed message carries. */
const signed = {
  id: Schema.String.check(Schema.isBetweenLength(1, 64)),
  origin: PeerId,
  /** The origin's public key, base64url; `origin` must derive from it to count as verified. */
  key: Schema.String,
  ts: Schema.Number,
  ttl: Schema.Int,
  hops: Schema.Int,
  content: Schema.Json,
  /**
   * A binary attachment (`binaryFrames.ts`): `"<byte length>:<SHA-256, base64url>"` of the
   * bytes that follow the frame in a binary link message. Signed with the rest, so the
   * origin's signature covers the bytes.
   */
  bin: Schema.optionalKey(Schema.String.check(Schema.isMaxLength(64))),
  /** Ed25519 signature by `key` over `signedBytes(...)`. */
  sig: Schema.String
} as const

/** A broadcast, flooded to every peer of the network. */
export const Gossip = Schema.Struct({
  t: Schema.tag("gossip"),
  /** What the content is: `"message"` for user broadcasts; other values are internal. */
  kind: Schema.String,
  ...signed
})

/** A message for one peer, routed hop by hop. */
export const Direct = Schema.Struct({
  t: Schema.tag("direct"),
  /** `"message"` for user messages; other values are internal (e.g. DHT RPCs). */
  kind: Schema.String,
  to: PeerId,
  /** True once greedy routing made no progress and the message is being flooded. */
  flood: Schema.Boolean,
  /**
   * Retransmission number (0 first, at most `MAX_ATTEMPT`); each attempt is de-duplicated on
   * its own, and a retransmission is signed anew with its number (see `signedBytes`), so a
   * relay cannot renumber a copy to have it forwarded again.
   */
  attempt: Schema.optionalKey(Schema.Int),
  /** The target acknowledges delivery (with a direct message of kind `"ack"`). */
  ack: Schema.optionalKey(Schema.Boolean),
  /** Set once greedy XOR routing stalled and the message goes up the ring (clockwise distance) instead. */
  ring: Schema.optionalKey(Schema.Boolean),
  /** The target's home landmark the copy heads for, set by the first hop that knew no route to the target (not signed). */
  home: Schema.optionalKey(PeerId),
  ...signed
})

/** Sent before closing a link to make room for a closer peer. */
export const Evict = Schema.Struct({
  t: Schema.tag("evict"),
  reason: Schema.String
})

const MessageIds = Schema.Array(Schema.String.check(Schema.isBetweenLength(1, 64))).check(Schema.isMaxLength(1024))

/** Anti-entropy: ids of recent broadcasts the sender holds (and thinks we may lack). */
export const IHave = Schema.Struct({
  t: Schema.tag("ihave"),
  ids: MessageIds
})

/** Anti-entropy: ids of broadcasts the sender lacks; answered with the gossip frames. */
export const IWant = Schema.Struct({
  t: Schema.tag("iwant"),
  ids: MessageIds
})

/** Most landmarks one `landmarks` frame may name. */
export const MAX_LANDMARKS_PER_FRAME = 256

/**
 * Sent once to a new neighbour: the landmarks the sender hears (id and presence interval), so
 * a peer that just joined has a way towards each of them before their next presence. Hearsay:
 * the receiver takes them provisionally, for one interval, until their own presence comes.
 */
export const Landmarks = Schema.Struct({
  t: Schema.tag("landmarks"),
  l: Schema.Array(Schema.Tuple([PeerId, Schema.Finite])).check(Schema.isMaxLength(MAX_LANDMARKS_PER_FRAME))
})

export const PeerFrame = Schema.Union([Hello, Proof, Gossip, Direct, Evict, IHave, IWant, Landmarks]).pipe(Schema.toTaggedUnion("t"))
export type PeerFrame = typeof PeerFrame.Type
/** The bytes a frame's `bin` describes, once checked against it (never part of the JSON). */
export interface Attached {
  readonly payload?: Uint8Array
}
export type GossipFrame = typeof Gossip.Type & Attached
export type DirectFrame = typeof Direct.Type & Attached
export type IHaveFrame = typeof IHave.Type
export type IWantFrame = typeof IWant.Type
export type LandmarksFrame = typeof Landmarks.Type

const decodeFrame = Schema.decodeUnknownExit(PeerFrame)

/**
 * Decodes one link message; `undefined` when it is not a valid frame. A frame nested deeper
 * than `MAX_FRAME_DEPTH`, or whose content nests deeper than `MAX_CONTENT_DEPTH` (64), is not
 * valid: nothing recursive ever sees it.
 */
export const decodePeerFrame = (text: string): PeerFrame | undefined => {
  const frame = decodeHeader(text)
  // an attachment's bytes only ever come in a binary message (`binaryFrames.ts`)
  return frame !== undefined && "bin" in frame ? undefined : frame
}

/** `decodePeerFrame`, attachments allowed (their bytes are the caller's to check). */
export const decodeHeader = (text: string): PeerFrame | undefined => {
  const json = parseBounded(text)
  if (json === undefined) return undefined
  const fast = decodeSignedFast(json)
  if (fast !== undefined) return fast
  const exit = decodeFrame(json)
  if (Exit.isFailure(exit)) return undefined
  const frame = exit.value
  // (the schema checks the whole frame's depth only)
  return (frame.t === "gossip" || frame.t === "direct") && deeperThan(frame.content, MAX_CONTENT_DEPTH) ? undefined : frame
}

// ---------------------------------------------------------------------------------------------
// fast path: gossip and direct frames (all the traffic) checked by hand

const HEX40 = /^[0-9a-fA-F]{40}$/
const peerIdOf = (u: unknown): PeerId | undefined =>
  typeof u === "string" && HEX40.test(u) ? (u.toLowerCase() as PeerId) : undefined
const isInt = (u: unknown): u is number => typeof u === "number" && Number.isSafeInteger(u)
/** Whether `u` can be a message id: a string of 1 to 64 characters (as `Gossip`/`Direct` require). */
export const isMessageId = (u: unknown): u is string => typeof u === "string" && u.length >= 1 && u.length <= 64

/**
 * Like `Schema.Json`'s check: a tree of plain objects, arrays, strings, booleans, null and
 * finite numbers, nested at most `MAX_CONTENT_DEPTH` deep.
 */
const isJson = (u: unknown): u is Schema.Json => {
  const stack: Array<unknown> = [u]
  const depths: Array<number> = [0]
  while (stack.length > 0) {
    const v = stack.pop()
    const depth = depths.pop()!
    if (v === null || typeof v === "string" || typeof v === "boolean") continue
    if (typeof v === "number") {
      if (!Number.isFinite(v)) return false
      continue
    }
    if (typeof v !== "object" || depth >= MAX_CONTENT_DEPTH) return false
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        stack.push(v[i])
        depths.push(depth + 1)
      }
    } else {
      const proto: unknown = Object.getPrototypeOf(v)
      if (proto !== Object.prototype && proto !== null) return false
      for (const key in v) {
        stack.push((v as Record<string, unknown>)[key])
        depths.push(depth + 1)
      }
    }
  }
  return true
}

/**
 * `Gossip` or `Direct` decoded without Effect Schema (a parsed JSON tree is acyclic, so the
 * checks are simple), producing exactly what `PeerFrame` would: the same fields, excess ones
 * dropped, peer ids in lower case. `undefined` for anything else or anything in doubt; the
 * caller then runs the schema, which stays the definition of a valid frame.
 */
export const decodeSignedFast = (json: unknown): GossipFrame | DirectFrame | undefined => {
  if (typeof json !== "object" || json === null) return undefined
  const o = json as Record<string, unknown>
  const t = o.t
  if (t !== "gossip" && t !== "direct") return undefined
  const { kind, id, key, ts, ttl, hops, sig } = o
  if (typeof kind !== "string" || !isMessageId(id) || typeof key !== "string" || typeof ts !== "number") return undefined
  if (!isInt(ttl) || !isInt(hops) || typeof sig !== "string") return undefined
  const origin = peerIdOf(o.origin)
  if (origin === undefined || !("content" in o) || !isJson(o.content)) return undefined
  const content = o.content
  const bin = o.bin
  if ("bin" in o && (typeof bin !== "string" || bin.length > 64)) return undefined
  const attached = typeof bin === "string" ? { bin } : {}
  if (t === "gossip") return { t, kind, id, origin, key, ts, ttl, hops, content, ...attached, sig }
  const to = peerIdOf(o.to)
  const { flood, attempt, ack, ring } = o
  if (to === undefined || typeof flood !== "boolean") return undefined
  const hasAttempt = "attempt" in o
  const hasAck = "ack" in o
  const hasRing = "ring" in o
  if ((hasAttempt && !isInt(attempt)) || (hasAck && typeof ack !== "boolean") || (hasRing && typeof ring !== "boolean")) return undefined
  return {
    t,
    kind,
    to,
    flood,
    ...(hasAttempt ? { attempt: attempt as number } : {}),
    ...(hasAck ? { ack: ack as boolean } : {}),
    ...(hasRing ? { ring: ring as boolean } : {}),
    id,
    origin,
    key,
    ts,
    ttl,
    hops,
    content,
    ...attached,
    sig
  }
}

const encoder = new TextEncoder()

/** The bytes a link handshake signs. */
export const linkChallenge = (theirNonce: string, myId: string, theirId: string): Uint8Array<ArrayBuffer> =>
  encoder.encode(`peerpigeon-link:v1:${theirNonce}:${myId}:${theirId}`)

/** Highest retransmission number of a direct message (the first send is 0). */
export const MAX_ATTEMPT = 4

/**
 * The bytes an origin signs for a gossip or direct message: everything but ttl, hops, flood
 * and ring (which hops change). A retransmission (`attempt` > 0) signs its number too, and
 * an attachment its `bin` (before the content: no JSON text starts with `b`, so the bytes
 * stay unambiguous).
 */
export const signedBytes = (m: {
  readonly t: string
  readonly id: string
  readonly origin: string
  readonly ts: number
  readonly content: Schema.Json
  readonly kind?: string
  readonly to?: string
  readonly attempt?: number
  readonly bin?: string
}): Uint8Array<ArrayBuffer> =>
  encoder.encode(
    `peerpigeon-msg:v1:${m.t}:${m.kind ?? ""}:${m.id}:${m.origin}:${m.to ?? ""}${
      m.attempt ? `#${m.attempt}` : ""
    }:${m.ts}:${m.bin === undefined ? "" : `bin=${m.bin}:`}${JSON.stringify(m.content)}`
  )
