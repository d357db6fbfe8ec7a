/**
 * Origin signatures shared by gossip and direct messages: building a signed frame, and
 * checking one on receipt. An origin counts as verified when its id derives from the key
 * that signed; other (custom) ids are accepted unverified, with their first key pinned, so a
 * neighbour can forward a message but cannot forge its origin once that origin is known.
 *
 * @since 2.0.0
 */
import { Clock, Effect, type Schema } from "effect"
import { makeNonce } from "../internal/identityProof.ts"
import { signedBytes } from "../schema/PeerFrames.ts"
import type { PeerId } from "../schema/PeerId.ts"
import type { PeerKeys } from "../services/PeerKeys.ts"
import { type Delivered, InvalidMessage, MessageTooLarge } from "../services/Gossip.ts"
import { type Identity, peerIdMatchesKey, verifySignature } from "../services/Identity.ts"

const encoder = new TextEncoder()

/** Checks that `content` is JSON within `limit` bytes; returns its size. */
export const checkContent = (content: Schema.Json, limit: number): Effect.Effect<number, MessageTooLarge | InvalidMessage> => {
  let text: string | undefined
  try {
    text = JSON.stringify(content)
  } catch (cause) {
    return Effect.fail(new InvalidMessage({ message: `content is not JSON-serialisable: ${String(cause)}` }))
  }
  if (text === undefined) return Effect.fail(new InvalidMessage({ message: "content is not JSON-serialisable" }))
  const size = encoder.encode(text).length
  return size > limit ? Effect.fail(new MessageTooLarge({ size, limit })) : Effect.succeed(size)
}

/** The signed fields of a new message from this peer. */
export const signFields = Effect.fnUntraced(function*(
  identity: Identity["Service"],
  header: { readonly t: "gossip" | "direct"; readonly kind: string; readonly to?: PeerId },
  content: Schema.Json,
  ttl: number
) {
  const id = makeNonce()
  const ts = yield* Clock.currentTimeMillis
  const sig = yield* identity.sign(signedBytes({ ...header, id, origin: identity.peerId, ts, content }))
  return { id, origin: identity.peerId, key: identity.publicKey, ts, ttl, hops: 0, content, sig }
})

export type OriginCheck = "verified" | "unverified" | "forged"

/** Checks a received message's origin signature against what this peer knows. */
export const checkOrigin = Effect.fnUntraced(function*(
  keys: PeerKeys["Service"],
  m: {
    readonly t: string
    readonly kind?: string
    readonly to?: string
    readonly id: string
    readonly origin: PeerId
    readonly key: string
    readonly ts: number
    readonly content: Schema.Json
    readonly sig: string
  }
) {
  const valid = yield* verifySignature(m.key, m.sig, signedBytes(m))
  if (!valid) return "forged" as OriginCheck
  if (yield* peerIdMatchesKey(m.origin, m.key)) {
    keys.pin(m.origin, m.key)
    return "verified" as OriginCheck
  }
  // a custom id: trust the first key seen for it, and only that one
  return (keys.pin(m.origin, m.key) ? "unverified" : "forged") as OriginCheck
})

/** What a delivered gossip or direct frame looks like to subscribers. */
export const toDelivered = (
  frame: { readonly id: string; readonly kind: string; readonly origin: PeerId; readonly content: Schema.Json; readonly hops: number; readonly ts: number },
  check: OriginCheck,
  via?: PeerId
): Delivered => ({
  id: frame.id,
  kind: frame.kind,
  origin: frame.origin,
  content: frame.content,
  hops: frame.hops + 1,
  timestamp: frame.ts,
  verified: check === "verified",
  ...(via === undefined ? {} : { via })
})
