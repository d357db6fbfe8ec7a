/**
 * A sealed box: bytes only the holder of one X25519 key can open, with no state between
 * sender and recipient (storage uses it to wrap a record's content key to each reader).
 *
 *   e = fresh X25519 pair; k = HKDF-SHA256(ikm = X25519(e, R), salt = epk || R, info = "peerpigeon/v1/" + info)
 *   box = {kid = keyIdOf(R), epk, iv, ct = AES-256-GCM(k, iv, plaintext, aad)}
 *
 * Unlike a direct-message envelope it carries no sender, time or id: it is not a message but
 * a key slot inside a record that is itself signed, and it must open again at every read
 * (no replay cache). Every refusal is a `CryptoError`; nothing throws.
 *
 * @since 2.0.0
 */
import { Effect, Schema } from "effect"
import { CryptoError } from "./CryptoError.ts"
import { Key32, keyIdOf } from "./keys.ts"
import { concat, fromBase64Url, primitives, randomBytes, toBase64Url, utf8 } from "./primitives.ts"

/** Largest plaintext a box holds: 1 KiB (content keys are 32 bytes). */
export const MAX_BOX_PLAINTEXT = 1024

export const SealedBox = Schema.Struct({
  /** Which of the recipient's encryption keys it is sealed to (`keyIdOf`). */
  kid: Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_-]{11}$/)),
  epk: Key32,
  iv: Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_-]{16}$/)),
  ct: Schema.String.check(Schema.isBetweenLength(22, Math.ceil(((MAX_BOX_PLAINTEXT + 16) * 4) / 3)), Schema.isPattern(/^[A-Za-z0-9_-]*$/))
})
export type SealedBox = typeof SealedBox.Type

const bad = (message: string) => new CryptoError({ reason: "malformed", message })
const hkdfInfo = (info: string) => utf8(`peerpigeon/v1/${info}`)

/** Seals `plaintext` to the X25519 public key `recipientKey` (raw, base64url). */
export const seal = (
  recipientKey: string,
  plaintext: Uint8Array<ArrayBuffer>,
  aad: Uint8Array<ArrayBuffer>,
  info: string
): Effect.Effect<SealedBox, CryptoError> =>
  Effect.gen(function*() {
    const r = fromBase64Url(recipientKey, 32)
    if (r === undefined || r.length !== 32) return yield* bad("recipient key is not a raw X25519 key")
    if (plaintext.length > MAX_BOX_PLAINTEXT) return yield* bad(`box plaintext over ${MAX_BOX_PLAINTEXT} bytes`)
    const e = yield* primitives.ephemeral
    const k = yield* primitives.agree(e.privateKey, r, concat(e.publicKey, r), hkdfInfo(info))
    const iv = randomBytes(12)
    const ct = yield* primitives.seal(k, iv, plaintext, aad)
    return { kid: keyIdOf(recipientKey), epk: toBase64Url(e.publicKey), iv: toBase64Url(iv), ct: toBase64Url(ct) }
  })

/**
 * Opens `box` with the recipient's private key (the backend's own key, see `primitives.ts`)
 * and public key; `decrypt-failed` for a box made for another key, other `aad` or `info`, or
 * tampered bytes.
 */
export const open = (
  privateKey: unknown,
  publicKey: string,
  box: SealedBox,
  aad: Uint8Array<ArrayBuffer>,
  info: string
): Effect.Effect<Uint8Array<ArrayBuffer>, CryptoError> =>
  Effect.gen(function*() {
    const r = fromBase64Url(publicKey, 32)
    const epk = fromBase64Url(box.epk, 32)
    const iv = fromBase64Url(box.iv, 12)
    const ct = fromBase64Url(box.ct, MAX_BOX_PLAINTEXT + 16)
    if (r === undefined || epk?.length !== 32 || iv?.length !== 12 || ct === undefined || ct.length < 16) {
      return yield* bad("not a sealed box")
    }
    const k = yield* primitives.agree(privateKey, epk, concat(epk, r), hkdfInfo(info))
    return yield* primitives.open(k, iv, ct, aad)
  })
