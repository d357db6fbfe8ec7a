/**
 * A peer's identity: an Ed25519 key pair (made with WebCrypto, so it runs in Node and browsers)
 * and the peer id derived from its public key exactly as the signaling server verifies it
 * (`internal/identityProof.ts`). Signing and verifying go through `internal/cryptoBackend.ts`:
 * Node's synchronous `node:crypto` where it exists, WebCrypto otherwise. A caller may bring a custom 40-hex id instead; such a peer
 * still signs, but its id is not bound to its key, so others mark it unverified.
 *
 * @since 2.0.0
 */
import { Context, Effect, Layer, Schema } from "effect"
import { cryptoBackend, type MaybePromise } from "../internal/cryptoBackend.ts"
import { peerIdFromPublicKey, toBase64Url } from "../internal/identityProof.ts"
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

/** An Ed25519 key pair as WebCrypto makes it. */
export interface KeyPair {
  readonly publicKey: Key
  readonly privateKey: Key
}

/** A fresh Ed25519 key pair; `extractable` false keeps the private key out of reach of scripts (it can still be stored in IndexedDB). */
export const generateKeyPair = (extractable = true): Effect.Effect<KeyPair, IdentityError> =>
  Effect.tryPromise({
    try: () => crypto.subtle.generateKey({ name: "Ed25519" }, extractable, ["sign", "verify"]) as unknown as Promise<KeyPair>,
    catch: (cause) => new IdentityError({ reason: "crypto-unavailable", message: `Ed25519 WebCrypto is unavailable: ${String(cause)}` })
  })

/** The identity of a key pair (one kept from an earlier run); the peer id derives from it, or is `customPeerId` (then unverified). */
export const fromKeyPair = Effect.fnUntraced(function*(pair: KeyPair, customPeerId?: string) {
  if (customPeerId !== undefined && !isPeerIdString(customPeerId)) {
    return yield* new IdentityError({ reason: "invalid-peer-id", message: `peerId must be 40 hexadecimal characters, got ${JSON.stringify(customPeerId)}` })
  }
  const raw = new Uint8Array(yield* Effect.promise(() => crypto.subtle.exportKey("raw", pair.publicKey)))
  const derived = (yield* Effect.promise(() => peerIdFromPublicKey(raw))) as PeerId
  const peerId = customPeerId === undefined ? derived : (customPeerId.toLowerCase() as PeerId)
  const sign = cryptoBackend.signer(pair.privateKey)
  return Identity.of({
    peerId,
    publicKey: toBase64Url(raw),
    verified: peerId === derived,
    sign: (bytes) => Effect.suspend(() => lift(sign(bytes)))
  })
})

export const make = Effect.fnUntraced(function*(customPeerId?: string) {
  if (customPeerId !== undefined && !isPeerIdString(customPeerId)) {
    return yield* new IdentityError({ reason: "invalid-peer-id", message: `peerId must be 40 hexadecimal characters, got ${JSON.stringify(customPeerId)}` })
  }
  return yield* fromKeyPair(yield* generateKeyPair(), customPeerId)
})

/** A plain value as a synchronous effect, a promise as an asynchronous one. */
const lift = <A>(value: MaybePromise<A>): Effect.Effect<A> =>
  value instanceof Promise ? Effect.promise(() => value) : Effect.succeed(value)

/** Verifies an Ed25519 signature (base64url) by `publicKey` (base64url) over `bytes`; never fails. */
export const verifySignature = (publicKey: string, signature: string, bytes: Uint8Array<ArrayBuffer>): Effect.Effect<boolean> =>
  Effect.suspend(() => lift(cryptoBackend.verify(publicKey, signature, bytes)))

/** True when `peerId` is the id derived from `publicKey`. */
export const peerIdMatchesKey = (peerId: string, publicKey: string): Effect.Effect<boolean> =>
  Effect.suspend(() => {
    const derived = cryptoBackend.peerIdOf(publicKey)
    return derived instanceof Promise
      ? Effect.promise(() => derived.then((id) => id === peerId))
      : Effect.succeed(derived === peerId)
  })
