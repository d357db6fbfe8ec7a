/**
 * End-to-end encrypted direct messages: a JSON envelope only the recipient can open and only
 * the sender can have made.
 *
 * Sealing (ephemeral-static, HPKE base mode in shape): the sender holds an X25519 key pair `e`
 * for the recipient's key `R` (a fresh one without `pairKeys`; with it, one per recipient key
 * for up to `ttlMs`, see `pairKeys.ts`); `k = HKDF-SHA256(ikm = X25519(e, R), salt = epk || R,
 * info)`; `ct = AES-256-GCM(k, iv, utf8(JSON(content)), aad = header)` with a fresh random `iv`
 * and a fresh random 16-byte `id` in the header. Two kinds:
 *
 * - `"dm"` (`encrypt`): info `"peerpigeon/v1/dm:" + from + ":" + to + ":" + id` (a key per
 *   envelope), and the sender's Ed25519 identity signs header + ct. An envelope to carry any way.
 * - `"dm-routed"` (`encryptRouted`): info `"peerpigeon/v1/dm-routed:" + from + ":" + to` (a key
 *   per ephemeral key and pair of peers, kept), no signature: it is the content of a routed
 *   direct message, whose origin signature covers it whole, and opens only through
 *   `decryptRouted` given that frame's verified origin.
 *
 * Ephemeral rather than static-static because then the sender needs no X25519 key of its own
 * to send and the recipient needs none of the sender's to open; authenticity comes from a
 * signature (the envelope's or the frame's), not from the key agreement, so a leak of the
 * recipient's key does not let anyone forge senders. What it does not give: forward secrecy
 * against a leak of the recipient's X25519 key (rotate it with `generateKeyPair`; a ratchet is
 * the later upgrade), nor, for the `ttlMs` an ephemeral key is kept, against a leak of the
 * sender's memory.
 *
 * `from` and `to` are bound in the HKDF info and the AAD (and the signature or the frame's), and
 * the kind in both, so an envelope re-signed by someone else as their own ("surreptitious
 * forwarding"), re-wrapped in another origin's frame or relabelled as the other kind fails to
 * decrypt, and one sent to another peer is refused before any crypto.
 *
 * Opening checks, cheapest first: shape and bounds (untrusted input), recipient, expected
 * sender (the frame's origin for a routed one), age and skew, that `from` derives from
 * `fromKey`, the signature of a signed one, the replay cache, then the AES-GCM tag. Every
 * refusal is a `CryptoError` with its `reason`; nothing throws.
 *
 * @since 2.0.0
 */
import { Clock, Effect, type Option, Schema } from "effect"
import { deeperThan, MAX_CONTENT_DEPTH, parseBounded } from "../internal/jsonLimits.ts"
import { peerIdMatchesKey, verifySignature } from "../services/Identity.ts"
import { CryptoError } from "./CryptoError.ts"
import { type EncryptionKeyPair, fromJsonInput, Key32, keyIdOf, Millis, PeerIdHex, Signature64, type Signer, tryDecode } from "./keys.ts"
import { Held, type PairKeys } from "./pairKeys.ts"
import { type AeadKey, type Bytes, concat, fromBase64Url, fromUtf8, primitives, randomBytes, toBase64Url, utf8 } from "./primitives.ts"
import type { ReplayGuard } from "./replay.ts"

/** Largest plaintext (UTF-8 JSON) any envelope may carry: 256 KiB. `maxPlaintextBytes` lowers it. */
export const MAX_PLAINTEXT_BYTES = 256 * 1024
/** Largest ciphertext field, in base64url characters (the plaintext bound plus the 16-byte tag). */
export const MAX_CT_CHARS = Math.ceil(((MAX_PLAINTEXT_BYTES + 16) * 4) / 3)
/** Largest envelope JSON read (a string input longer than this is refused unparsed). */
export const MAX_ENVELOPE_CHARS = MAX_CT_CHARS + 1024

export interface EnvelopeOptions {
  /** Oldest envelope accepted, in ms from its `ts`. Default 300,000 (5 minutes). */
  readonly maxAgeMs?: number
  /** Furthest in the future an envelope's `ts` may be, in ms (clock skew). Default 60,000. */
  readonly maxSkewMs?: number
  /** Largest content, as UTF-8 JSON bytes. Default 65,536; at most `MAX_PLAINTEXT_BYTES`. */
  readonly maxPlaintextBytes?: number
}

export const envelopeDefaults: Required<EnvelopeOptions> = { maxAgeMs: 300_000, maxSkewMs: 60_000, maxPlaintextBytes: 65_536 }

/** A 16-byte random id, base64url (22 characters). */
export const Id16 = Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_-]{21}[AQgw]$/))
/** A 12-byte AES-GCM nonce, base64url (16 characters). */
export const Iv12 = Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_-]{16}$/))
/** A ciphertext with its tag: at least 17 bytes (one byte of JSON), at most `MAX_CT_CHARS` characters. */
export const Ciphertext = Schema.String.check(Schema.isBetweenLength(23, MAX_CT_CHARS), Schema.isPattern(/^[A-Za-z0-9_-]*$/))

/** The fields both kinds of envelope have, `t` and `sig` apart. */
const envelopeFields = {
  v: Schema.Literal(1),
  id: Id16,
  from: PeerIdHex,
  /** The sender's Ed25519 identity key; `from` must derive from it. */
  fromKey: Key32,
  to: PeerIdHex,
  /** Which of the recipient's encryption keys it was sealed to (`keyIdOf`). */
  kid: Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_-]{11}$/)),
  ts: Millis,
  /** The ephemeral X25519 public key. */
  epk: Key32,
  iv: Iv12,
  ct: Ciphertext
}

export const Envelope = Schema.Struct({ ...envelopeFields, t: Schema.Literal("dm"), sig: Signature64 })
export type Envelope = typeof Envelope.Type

/**
 * The envelope of a routed direct message (`encryptRouted`): the same fields but `t` and no
 * `sig`. It is authenticated by the signature of the frame that carries it (the frame's
 * origin signs its whole content), so it opens only through `decryptRouted`, given the
 * verified origin of that frame; `decrypt` refuses it.
 */
export const RoutedEnvelope = Schema.Struct({ ...envelopeFields, t: Schema.Literal("dm-routed") })
export type RoutedEnvelope = typeof RoutedEnvelope.Type

type AnyEnvelope = Envelope | RoutedEnvelope

/** An opened envelope. */
export interface Decrypted {
  readonly id: string
  readonly from: string
  readonly to: string
  readonly ts: number
  readonly content: Schema.Json
}

/** What opening needs of the recipient: its id, its private keys by key id, its replay cache. */
export interface Recipient {
  readonly peerId: string
  /** The current key pair, or a recent one kept after a rotation; `undefined` when unknown. */
  readonly keyFor: (kid: string) => EncryptionKeyPair | undefined
  readonly replay: ReplayGuard
  /** Secrets kept between envelopes (`pairKeys.ts`); without it, each envelope costs a key agreement. */
  readonly pairKeys?: PairKeys
}

/** Sealing's options: the envelope limits, and the agreements the sender keeps between envelopes. */
export interface SealOptions extends EnvelopeOptions {
  /** Secrets kept between envelopes (`pairKeys.ts`); without it, a fresh ephemeral key per envelope. */
  readonly pairKeys?: PairKeys
}

const fail = (reason: CryptoError["reason"], message: string) => Effect.fail(new CryptoError({ reason, message }))

type Header = Omit<Envelope, "ct" | "sig" | "v" | "t"> & { readonly t: "dm" | "dm-routed" }

/**
 * The associated data (and signed prefix) of an envelope: every field but `ct` and `sig`. Its
 * first word names the kind (`dm` signed, `dm-routed` not), as does the HKDF info, so an
 * envelope cannot be passed off as the other kind: stripping a signed envelope's `sig` and
 * relabelling it makes it fail to decrypt.
 */
const header = (e: Header): string =>
  `peerpigeon-${e.t}:v1:${e.id}:${e.from}:${e.fromKey}:${e.to}:${e.kid}:${e.ts}:${e.epk}:${e.iv}`

const signedBytes = (head: string, ct: string) => utf8(`${head}:${ct}`)

/**
 * The AES-256-GCM key of an envelope, `HKDF-SHA256(ikm = X25519(e, R), salt = epk || R, info)`:
 * for a signed one, info `"peerpigeon/v1/dm:" + from + ":" + to + ":" + id` (a key per
 * envelope, as this format always had); for a routed one, `"peerpigeon/v1/dm-routed:" + from +
 * ":" + to`, one key per ephemeral key and pair of peers, made once (`pairKeys.ts`), each
 * envelope with its own random nonce and id in the associated data.
 */
const messageKey = (held: Held, h: Pick<Header, "t" | "from" | "to" | "id">, salt: Bytes): Effect.Effect<Bytes | AeadKey, CryptoError> => {
  if (h.t === "dm") return primitives.expand(held.secret, salt, utf8(`peerpigeon/v1/dm:${h.from}:${h.to}:${h.id}`))
  const label = `${h.from}:${h.to}`
  return held.aeadKey(label, salt, utf8(`peerpigeon/v1/dm-routed:${label}`))
}

/**
 * Content as the UTF-8 JSON an envelope carries, or `invalid-content` when it is not JSON,
 * nests deeper than `MAX_CONTENT_DEPTH` or exceeds `maxBytes`.
 */
export const encodeContent = (content: Schema.Json, maxBytes: number): Effect.Effect<Uint8Array<ArrayBuffer>, CryptoError> => {
  let text: string | undefined
  try {
    text = deeperThan(content, MAX_CONTENT_DEPTH) ? undefined : JSON.stringify(content)
  } catch {
    text = undefined
  }
  if (typeof text !== "string") return fail("invalid-content", `content is not JSON nested at most ${MAX_CONTENT_DEPTH} deep`)
  const bytes = utf8(text)
  return bytes.length > Math.min(maxBytes, MAX_PLAINTEXT_BYTES)
    ? fail("invalid-content", `content of ${bytes.length} bytes exceeds the limit of ${maxBytes}`)
    : Effect.succeed(bytes)
}

/** Content back from UTF-8 JSON, or `malformed`. */
export const decodeContent = (bytes: Uint8Array): Effect.Effect<Schema.Json, CryptoError> => {
  const text = fromUtf8(bytes)
  const json = text === undefined ? undefined : parseBounded(text, MAX_CONTENT_DEPTH)
  return json === undefined ? fail("malformed", "decrypted content is not JSON") : Effect.succeed(json as Schema.Json)
}

/** The header and ciphertext of an envelope of kind `t` (not yet signed). */
const seal = (
  t: Header["t"],
  content: Schema.Json,
  recipientId: string,
  recipientKey: string,
  sender: Pick<Signer, "peerId" | "publicKey">,
  options: SealOptions
): Effect.Effect<{ readonly head: Header; readonly aad: string; readonly ct: string }, CryptoError> =>
  Effect.gen(function*() {
    const recipientRaw = fromBase64Url(recipientKey, 32)
    if (recipientRaw?.length !== 32 || !/^[0-9a-f]{40}$/.test(recipientId)) {
      return yield* fail("malformed", "recipient id or key is malformed")
    }
    const plaintext = yield* encodeContent(content, options.maxPlaintextBytes ?? envelopeDefaults.maxPlaintextBytes)
    const ts = yield* Clock.currentTimeMillis
    const { held, publicKey: epk } = options.pairKeys === undefined
      ? yield* Effect.flatMap(primitives.ephemeral, (e) => Effect.map(primitives.shared(e.privateKey, recipientRaw), (secret) => ({ publicKey: e.publicKey, held: new Held(secret, ts) })))
      : yield* options.pairKeys.sealing(recipientKey, recipientRaw, ts)
    const id = toBase64Url(randomBytes(16))
    const iv = randomBytes(12)
    const head: Header = {
      t,
      id,
      from: sender.peerId,
      fromKey: sender.publicKey,
      to: recipientId,
      kid: keyIdOf(recipientKey),
      ts,
      epk: toBase64Url(epk),
      iv: toBase64Url(iv)
    }
    const aad = header(head)
    const key = yield* messageKey(held, head, concat(epk, recipientRaw))
    return { head, aad, ct: toBase64Url(yield* primitives.seal(key, iv, plaintext, utf8(aad))) }
  })

/**
 * Seals `content` for `recipientId`, whose X25519 key is `recipientKey` (base64url, from its
 * verified announcement), signed by `sender`: an envelope to carry any way.
 */
export const encrypt = (
  content: Schema.Json,
  recipientId: string,
  recipientKey: string,
  sender: Signer,
  options: SealOptions = {}
): Effect.Effect<Envelope, CryptoError> =>
  Effect.gen(function*() {
    const { aad, ct, head } = yield* seal("dm", content, recipientId, recipientKey, sender, options)
    const sig = yield* sender.sign(signedBytes(aad, ct))
    return { v: 1 as const, ...head, t: "dm" as const, ct, sig }
  })

/**
 * Seals `content` for `recipientId` without a signature: for the content of a direct message
 * that `sender` signs as the frame's origin (the frame's signature covers the whole envelope,
 * and the recipient opens it with `decryptRouted` given that verified origin).
 */
export const encryptRouted = (
  content: Schema.Json,
  recipientId: string,
  recipientKey: string,
  sender: Pick<Signer, "peerId" | "publicKey">,
  options: SealOptions = {}
): Effect.Effect<RoutedEnvelope, CryptoError> =>
  Effect.map(seal("dm-routed", content, recipientId, recipientKey, sender, options), ({ ct, head }) => ({ v: 1 as const, ...head, t: "dm-routed" as const, ct }))

const decodeSigned = Schema.decodeUnknownOption(Envelope)
const decodeRouted = Schema.decodeUnknownOption(RoutedEnvelope)
/** The schema its `t` names (rather than a union, which would check every field twice for a routed one). */
const decodeEnvelope = (input: unknown): Option.Option<AnyEnvelope> =>
  typeof input === "object" && input !== null && (input as { readonly t?: unknown }).t === "dm-routed" ? decodeRouted(input) : decodeSigned(input)

/** An envelope (signed or routed) from untrusted input (an object, or its JSON text), or `malformed`. */
const parseAny = (input: unknown): Effect.Effect<AnyEnvelope, CryptoError> => {
  const envelope = tryDecode(decodeEnvelope, fromJsonInput(input, MAX_ENVELOPE_CHARS))
  return envelope === undefined ? fail("malformed", "not an encrypted envelope") : Effect.succeed(envelope)
}

/** A signed envelope from untrusted input (an object, or its JSON text): `malformed` for anything else, `bad-signature` for a routed one. */
export const parseEnvelope = (input: unknown): Effect.Effect<Envelope, CryptoError> =>
  Effect.flatMap(parseAny(input), (e) =>
    e.t === "dm" ? Effect.succeed(e) : fail("bad-signature", "an unsigned (routed) envelope opens only as the content of a verified direct message"))

/** The checks on a signed message's time, against `now`. */
export const checkTime = (ts: number, now: number, options: EnvelopeOptions): Effect.Effect<void, CryptoError> => {
  const maxAge = options.maxAgeMs ?? envelopeDefaults.maxAgeMs
  const maxSkew = options.maxSkewMs ?? envelopeDefaults.maxSkewMs
  if (now - ts > maxAge) return fail("stale", `sent ${now - ts} ms ago, more than the ${maxAge} ms accepted`)
  if (ts - now > maxSkew) return fail("future", `dated ${ts - now} ms ahead, more than the ${maxSkew} ms skew accepted`)
  return Effect.void
}

/** The checks of a sender's identity key and signature over `bytes`. */
export const checkSender = (from: string, fromKey: string, sig: string, bytes: Uint8Array<ArrayBuffer>): Effect.Effect<void, CryptoError> =>
  Effect.gen(function*() {
    if (!(yield* peerIdMatchesKey(from, fromKey))) {
      return yield* fail("bad-sender-key", `${from} does not derive from the key it carries`)
    }
    if (!(yield* verifySignature(fromKey, sig, bytes))) return yield* fail("bad-signature", `not signed by ${from}`)
  })

/**
 * Opens an envelope addressed to `recipient`; with `expectedSender`, refuses one from anyone
 * else. The envelope's (sender, id) is recorded in the replay cache once its signature checks,
 * so a second copy is refused even if the first is still being opened.
 */
export const decrypt = (
  input: unknown,
  recipient: Recipient,
  expectedSender?: string,
  options: EnvelopeOptions = {}
): Effect.Effect<Decrypted, CryptoError> =>
  Effect.flatMap(parseEnvelope(input), (e) => open(e, recipient, expectedSender, options))

/**
 * Opens the envelope of a direct message whose origin signature this peer verified, `origin`
 * being that origin (its id derives from the key that signed). The frame's signature covers
 * the envelope, so a routed envelope needs none of its own; it must name `origin` as sender
 * (`wrong-sender` otherwise). A signed envelope is checked as `decrypt` checks it.
 */
export const decryptRouted = (
  input: unknown,
  recipient: Recipient,
  origin: string,
  options: EnvelopeOptions = {}
): Effect.Effect<Decrypted, CryptoError> =>
  Effect.flatMap(parseAny(input), (e) => open(e, recipient, origin, options))

const open = (
  e: AnyEnvelope,
  recipient: Recipient,
  expectedSender: string | undefined,
  options: EnvelopeOptions
): Effect.Effect<Decrypted, CryptoError> =>
  Effect.gen(function*() {
    if (e.to !== recipient.peerId) return yield* fail("wrong-recipient", `addressed to ${e.to}`)
    if (expectedSender !== undefined && e.from !== expectedSender.toLowerCase()) {
      return yield* fail("wrong-sender", `from ${e.from}, expected ${expectedSender}`)
    }
    const maxCt = Math.ceil(((Math.min(options.maxPlaintextBytes ?? envelopeDefaults.maxPlaintextBytes, MAX_PLAINTEXT_BYTES) + 16) * 4) / 3)
    if (e.ct.length > maxCt) return yield* fail("malformed", `ciphertext over the ${maxCt} characters accepted`)
    const now = yield* Clock.currentTimeMillis
    yield* checkTime(e.ts, now, options)
    const own = recipient.keyFor(e.kid)
    if (own === undefined) return yield* fail("unknown-key", `no encryption key ${e.kid} here`)
    const epk = fromBase64Url(e.epk, 32)
    const ownRaw = fromBase64Url(own.publicKey, 32)
    const iv = fromBase64Url(e.iv, 12)
    const ct = fromBase64Url(e.ct, MAX_PLAINTEXT_BYTES + 16)
    if (epk === undefined || ownRaw === undefined || iv === undefined || ct === undefined) {
      return yield* fail("malformed", "a field is not canonical base64url")
    }
    const aad = header(e)
    if (e.t === "dm") {
      yield* checkSender(e.from, e.fromKey, e.sig, signedBytes(aad, e.ct))
    } else if (!(yield* peerIdMatchesKey(e.from, e.fromKey))) {
      // the frame's verified origin is `from` (checked above); its key must be the one named here
      return yield* fail("bad-sender-key", `${e.from} does not derive from the key it carries`)
    }
    if (!recipient.replay.add(`${e.from}:${e.id}`, e.ts, now)) return yield* fail("replay", `envelope ${e.id} from ${e.from} was seen before`)
    const held = recipient.pairKeys === undefined
      ? new Held(yield* primitives.shared(own.privateKey, epk), now)
      : yield* recipient.pairKeys.opening(own.publicKey, own.privateKey, e.epk, epk, now)
    const key = yield* messageKey(held, e, concat(epk, ownRaw))
    const content = yield* decodeContent(yield* primitives.open(key, iv, ct, utf8(aad)))
    return { id: e.id, from: e.from, to: e.to, ts: e.ts, content }
  })
