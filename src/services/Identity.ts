/**
 * A peer's identity: an Ed25519 key pair (WebCrypto, so it runs in Node and browsers) and the
 * peer id derived from its public key exactly as the signaling server verifies it
 * (`internal/identityProof.ts`). A caller may bring a custom 40-hex id instead; such a peer
 * still signs, but its id is not bound to its key, so others mark it unverified.
 *
 * @since 2.0.0
 */
import { Context, Effect, Layer, Schema } from "effect"
import { fromBase64Url, peerIdFromPublicKey, toBase64Url } from "../internal/identityProof.ts"
import { isPeerIdString, type PeerId } from "../schema/PeerId.ts"

export class IdentityError extends Schema.TaggedError<IdentityError>()("IdentityError", {
  reason: Schema.Literals(["invalid-peer-id", "crypto-unavailable"]),
  message: Schema.String
}) {}

type Key = Awaited<ReturnType<typeof crypto.subtle.importKey>>

export class Identity extends Context.Service<Identity, {
  readonly peerId: PeerId
  /** Raw Ed25519 public key, base64url. */
  readonly publicKey: string
  /** True when `peerId` derives from `publicKey`. */
  readonly verified: boolean
  sign(bytes: Uint8Array<ArrayBuffer>): Effect.Effect<string>
}>()("peerpigeon/Identity") {
  /** A fresh key pair; the peer id derives from it, or is `customPeerId` (then unverified). */
  static readonly layer = (customPeerId?: string): Layer.Layer<Identity, IdentityError> =>
    Layer.effect(Identity, make(customPeerId))
}

export const make = Effect.fnUntraced(function*(customPeerId?: string) {
  if (customPeerId !== undefined && !isPeerIdString(customPeerId)) {
    return yield* new IdentityError({ reason: "invalid-peer-id", message: `peerId must be 40 hexadecimal characters, got ${JSON.stringify(customPeerId)}` })
  }
  const pair = yield* Effect.tryPromise({
    try: () => crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]) as unknown as Promise<{ publicKey: Key; privateKey: Key }>,
    catch: (cause) => new IdentityError({ reason: "crypto-unavailable", message: `Ed25519 WebCrypto is unavailable: ${String(cause)}` })
  })
  const raw = new Uint8Array(yield* Effect.promise(() => crypto.subtle.exportKey("raw", pair.publicKey)))
  const derived = (yield* Effect.promise(() => peerIdFromPublicKey(raw))) as PeerId
  const peerId = customPeerId === undefined ? derived : (customPeerId.toLowerCase() as PeerId)
  return Identity.of({
    peerId,
    publicKey: toBase64Url(raw),
    verified: peerId === derived,
    sign: (bytes) =>
      Effect.promise(() => crypto.subtle.sign({ name: "Ed25519" }, pair.privateKey, bytes)).pipe(
        Effect.map((sig) => toBase64Url(new Uint8Array(sig)))
      )
  })
})

const keyCache = new Map<string, Promise<Key | undefined>>()

const importKey = (publicKey: string): Promise<Key | undefined> => {
  let cached = keyCache.get(publicKey)
  if (cached === undefined) {
    const raw = fromBase64Url(publicKey)
    cached = raw === undefined || raw.length !== 32
      ? Promise.resolve(undefined)
      : crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]).catch(() => undefined)
    if (keyCache.size > 10_000) keyCache.clear()
    keyCache.set(publicKey, cached)
  }
  return cached
}

/** Verifies an Ed25519 signature (base64url) by `publicKey` (base64url) over `bytes`; never fails. */
export const verifySignature = (publicKey: string, signature: string, bytes: Uint8Array<ArrayBuffer>): Effect.Effect<boolean> =>
  Effect.promise(async () => {
    const key = await importKey(publicKey)
    const sig = fromBase64Url(signature)
    if (key === undefined || sig === undefined || sig.length !== 64) return false
    return crypto.subtle.verify({ name: "Ed25519" }, key, sig, bytes).catch(() => false)
  })

/** True when `peerId` is the id derived from `publicKey`. */
export const peerIdMatchesKey = (peerId: string, publicKey: string): Effect.Effect<boolean> =>
  Effect.promise(async () => {
    const raw = fromBase64Url(publicKey)
    return raw !== undefined && raw.length === 32 && (await peerIdFromPublicKey(raw)) === peerId
  })
