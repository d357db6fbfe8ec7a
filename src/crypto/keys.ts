/**
 * A peer's encryption key: an X25519 key pair beside its Ed25519 identity. It is generated on
 * its own (`primitives.keyPair`), never derived from the identity key, and its private half is
 * never exported, with the identity or otherwise (in browsers it is a non-extractable
 * WebCrypto key; in Node a `KeyObject` no code here exports). It rotates freely: the identity vouches for the current one with a signed announcement
 *
 *   `{v: 1, peerId, identityKey, encryptionKey, ts, sig}`
 *   sig = Ed25519(identity, "peerpigeon-enckey:v1:" + peerId + ":" + identityKey + ":" + encryptionKey + ":" + ts)
 *
 * which anyone can check without a prior exchange: `peerId` must derive from `identityKey`
 * (as the link handshake and the signaling proof require), and `sig` must verify under it.
 * Of two valid announcements for one peer, the one with the larger `ts` is current.
 *
 * @since 2.0.0
 */
import { Effect, Schema } from "effect"
import { parseBounded } from "../internal/jsonLimits.ts"
import type { PeerId } from "../schema/PeerId.ts"
import { type Identity, peerIdMatchesKey, verifySignature } from "../services/Identity.ts"
import { CryptoError } from "./CryptoError.ts"
import { primitives, toBase64Url, utf8 } from "./primitives.ts"

/** What the crypto modules need of an identity: its id, its public key and its signature. */
export type Signer = Pick<Identity["Service"], "peerId" | "publicKey" | "sign">

/** 40 lowercase hex characters: the only form a peer id takes inside a signed crypto message. */
export const PeerIdHex = Schema.String.check(Schema.isPattern(/^[0-9a-f]{40}$/))
/** A raw 32-byte key in base64url (43 characters). */
export const Key32 = Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/))
/** A raw 64-byte Ed25519 signature in base64url (86 characters). */
export const Signature64 = Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_-]{85}[AQgw]$/))
/** Milliseconds since the epoch, as a safe non-negative integer. */
export const Millis = Schema.Number.check(Schema.isInt(), Schema.isBetween({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }))

export const KeyAnnouncement = Schema.Struct({
  v: Schema.Literal(1),
  peerId: PeerIdHex,
  /** The Ed25519 identity key `peerId` derives from. */
  identityKey: Key32,
  /** The X25519 public key messages to `peerId` are sealed to. */
  encryptionKey: Key32,
  ts: Millis,
  sig: Signature64
})
export type KeyAnnouncement = typeof KeyAnnouncement.Type

/** Characters the JSON of an announcement can take (bounds input read before decoding). */
export const MAX_ANNOUNCEMENT_CHARS = 512

/** This peer's encryption key pair. */
export interface EncryptionKeyPair {
  /** Raw X25519 public key, base64url. */
  readonly publicKey: string
  /** The first 8 bytes of the public key, base64url (11 characters): names the key in envelopes. */
  readonly kid: string
  /** The backend's own key (`primitives.ts`): a non-extractable WebCrypto key in browsers. */
  readonly privateKey: unknown
  readonly createdAt: number
}

/** The key id of an X25519 public key (base64url): its first 11 characters, i.e. its first 8 bytes. */
export const keyIdOf = (publicKey: string): string => publicKey.slice(0, 11)

/** A fresh encryption key pair, made at `now`. */
export const generateEncryptionKeyPair = (now: number): Effect.Effect<EncryptionKeyPair, CryptoError> =>
  Effect.map(primitives.keyPair, ({ privateKey, publicKey }) => {
    const encoded = toBase64Url(publicKey)
    return { publicKey: encoded, kid: keyIdOf(encoded), privateKey, createdAt: now }
  })

/** The exact bytes an announcement's signature covers. */
export const announcementBytes = (a: Omit<KeyAnnouncement, "sig" | "v">): Uint8Array<ArrayBuffer> =>
  utf8(`peerpigeon-enckey:v1:${a.peerId}:${a.identityKey}:${a.encryptionKey}:${a.ts}`)

/** `identity`'s signed announcement of `encryptionKey` (base64url), dated `ts`. */
export const announce = (identity: Signer, encryptionKey: string, ts: number): Effect.Effect<KeyAnnouncement> =>
  Effect.gen(function*() {
    const fields = { peerId: identity.peerId, identityKey: identity.publicKey, encryptionKey, ts }
    const sig = yield* identity.sign(announcementBytes(fields))
    return { v: 1 as const, ...fields, sig }
  })

const decodeAnnouncement = Schema.decodeUnknownOption(KeyAnnouncement)

/**
 * Checks an announcement that came from anywhere (a link, the DHT, a user): its shape and
 * bounds, that `peerId` derives from `identityKey`, and the signature. Never throws; every
 * refusal is a `CryptoError` (`malformed`, `bad-sender-key`, `bad-signature`, `future` when
 * dated more than `maxSkewMs` after `now`).
 */
export const verifyAnnouncement = (
  input: unknown,
  options: { readonly now?: number; readonly maxSkewMs?: number } = {}
): Effect.Effect<KeyAnnouncement, CryptoError> =>
  Effect.gen(function*() {
    const decoded = tryDecode(decodeAnnouncement, fromJsonInput(input, MAX_ANNOUNCEMENT_CHARS))
    if (decoded === undefined) {
      return yield* new CryptoError({ reason: "malformed", message: "not a key announcement" })
    }
    if (options.now !== undefined && decoded.ts - options.now > (options.maxSkewMs ?? 60_000)) {
      return yield* new CryptoError({ reason: "future", message: `announcement of ${decoded.peerId} is dated in the future` })
    }
    if (!(yield* peerIdMatchesKey(decoded.peerId, decoded.identityKey))) {
      return yield* new CryptoError({ reason: "bad-sender-key", message: `${decoded.peerId} does not derive from the announced identity key` })
    }
    if (!(yield* verifySignature(decoded.identityKey, decoded.sig, announcementBytes(decoded)))) {
      return yield* new CryptoError({ reason: "bad-signature", message: `announcement of ${decoded.peerId} is not signed by its identity` })
    }
    return decoded
  })

/** A schema decoder applied to untrusted input: `undefined` for anything it refuses, or that makes it throw. */
export const tryDecode = <A>(
  decode: (input: unknown) => { readonly _tag: "Some"; readonly value: A } | { readonly _tag: "None" },
  input: unknown
): A | undefined => {
  try {
    const result = decode(input)
    return result._tag === "Some" ? result.value : undefined
  } catch {
    return undefined
  }
}

/** A JSON text (at most `maxChars`, nested at most `maxDepth`) parsed, or any other input as it is; `undefined` for bad text. */
export const fromJsonInput = (input: unknown, maxChars: number, maxDepth = 4): unknown =>
  typeof input === "string" ? (input.length > maxChars ? undefined : parseBounded(input, maxDepth)) : input

/** The peer id of a verified announcement, typed. */
export const announcedPeer = (a: KeyAnnouncement): PeerId => a.peerId as PeerId
