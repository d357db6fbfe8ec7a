/**
 * Our peer-to-peer protocol (version 1): the frames that travel on a link between two
 * peers, one JSON object per message, discriminated on `t`. PeerPigeon 1.x peers only need
 * to meet us at the signaling server; this protocol is ours.
 *
 * @since 2.0.0
 */
import { Exit, Schema } from "effect"
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
  networkName: Schema.String
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
  /** Retransmission number (0 first); each attempt is de-duplicated on its own. */
  attempt: Schema.optionalKey(Schema.Int),
  /** The target acknowledges delivery (with a direct message of kind `"ack"`). */
  ack: Schema.optionalKey(Schema.Boolean),
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

export const PeerFrame = Schema.Union([Hello, Proof, Gossip, Direct, Evict, IHave, IWant]).pipe(Schema.toTaggedUnion("t"))
export type PeerFrame = typeof PeerFrame.Type
export type GossipFrame = typeof Gossip.Type
export type DirectFrame = typeof Direct.Type
export type IHaveFrame = typeof IHave.Type
export type IWantFrame = typeof IWant.Type

const decodeFrame = Schema.decodeUnknownExit(PeerFrame)

/** Decodes one link message; `undefined` when it is not a valid frame. */
export const decodePeerFrame = (text: string): PeerFrame | undefined => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return undefined
  }
  const exit = decodeFrame(json)
  return Exit.isSuccess(exit) ? exit.value : undefined
}

const encoder = new TextEncoder()

/** The bytes a link handshake signs. */
export const linkChallenge = (theirNonce: string, myId: string, theirId: string): Uint8Array<ArrayBuffer> =>
  encoder.encode(`peerpigeon-link:v1:${theirNonce}:${myId}:${theirId}`)

/** The bytes an origin signs for a gossip or direct message (everything but ttl, hops, flood). */
export const signedBytes = (m: {
  readonly t: string
  readonly id: string
  readonly origin: string
  readonly ts: number
  readonly content: Schema.Json
  readonly kind?: string
  readonly to?: string
}): Uint8Array<ArrayBuffer> =>
  encoder.encode(`peerpigeon-msg:v1:${m.t}:${m.kind ?? ""}:${m.id}:${m.origin}:${m.to ?? ""}:${m.ts}:${JSON.stringify(m.content)}`)
