/**
 * The primitives the crypto modules are made of, over WebCrypto (`globalThis.crypto.subtle`,
 * so the same code runs in Node >= 22 and browsers): X25519 key pairs and agreement,
 * HKDF-SHA256 to an AES-256-GCM key, AES-256-GCM, random bytes, strict base64url and UTF-8;
 * on Node, the per-message work goes through `node:crypto` instead (`primitives`, below).
 *
 * Each returns an `Effect` whose failure is a `CryptoError`; none throws. Randomness comes from
 * the platform's CSPRNG (`crypto.getRandomValues`), not Effect's `Random`: keys, nonces and ids
 * must be unpredictable, and a test seeding `Random` must not make them so.
 *
 * @since 2.0.0
 */
import { Effect } from "effect"
import { toBase64Url as toBase64UrlJs } from "../internal/identityProof.ts"
import { type Bytes, concat } from "./bytes.ts"
import { CryptoError } from "./CryptoError.ts"
import { nodePrimitives } from "./nodePrimitives.ts"

export type WebKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>
export type { Bytes }
export { concat }

const subtle = () => globalThis.crypto.subtle
const encoder = new TextEncoder()
const decoder = new TextDecoder("utf-8", { fatal: true })

/** The Node backend (`nodePrimitives.ts`; `undefined` in browsers, whose bundles leave it out). */
const node = nodePrimitives()

/** base64url without padding (Node's encoder where there is one: native, several times the speed on a 1 KB ciphertext). */
export const toBase64Url: (bytes: Uint8Array) => string = node?.toBase64Url ?? toBase64UrlJs

/** CSPRNG output drawn 4 KiB at a time (a call costs microseconds); each byte is handed out once. */
const pool = new Uint8Array(4096)
let pooled = 0

/** `n` random bytes from the platform's CSPRNG (a fresh array, never shared). */
export const randomBytes = (n: number): Bytes => {
  if (n > 256) {
    const out = new Uint8Array(n)
    globalThis.crypto.getRandomValues(out)
    return out
  }
  if (pooled < n) {
    globalThis.crypto.getRandomValues(pool)
    pooled = pool.length
  }
  // from the end of what is left, so the bytes handed out are never handed out again
  pooled -= n
  return pool.slice(pooled, pooled + n)
}

export const utf8 = (text: string): Bytes => encoder.encode(text)

/** UTF-8 bytes as text, or `undefined` for invalid UTF-8. */
export const fromUtf8 = (bytes: Uint8Array): string | undefined => {
  try {
    return decoder.decode(bytes)
  } catch {
    return undefined
  }
}


const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
const INDEX = new Int8Array(128).fill(-1)
for (let i = 0; i < B64.length; i++) INDEX[B64.charCodeAt(i)] = i

/**
 * Decodes canonical base64url without padding (the only form `toBase64Url` writes):
 * `undefined` for any other character, a length of the form 4k+1, non-zero trailing bits, or
 * more than `maxBytes` bytes. Unlike `identityProof.fromBase64Url` it has no fixed 4096-character
 * cap, so ciphertexts of any bounded size decode.
 */
export const fromBase64Url = (text: string, maxBytes: number): Bytes | undefined => {
  const n = text.length
  if (n % 4 === 1 || Math.floor((n * 3) / 4) > maxBytes) return undefined
  return node === undefined ? decodePortable(text) : node.fromBase64Url(text)
}

/** The browsers' decoder of `fromBase64Url` (exported for the tests that hold both to one behaviour). */
export const decodePortable = (text: string): Bytes | undefined => {
  const n = text.length
  if (n % 4 === 1) return undefined
  const out = new Uint8Array(Math.floor((n * 3) / 4))
  let value = 0
  let bits = 0
  let j = 0
  for (let i = 0; i < n; i++) {
    const code = text.charCodeAt(i)
    const v = code < 128 ? INDEX[code]! : -1
    if (v < 0) return undefined
    value = ((value << 6) | v) & 0xffffff
    bits += 6
    if (bits >= 8) {
      bits -= 8
      out[j++] = (value >> bits) & 0xff
    }
  }
  // the bits left over must be zero, so each byte string has exactly one encoding
  if (bits > 0 && (value & ((1 << bits) - 1)) !== 0) return undefined
  return out
}

const unavailable = (what: string) => (cause: unknown) =>
  new CryptoError({ reason: "crypto-unavailable", message: `${what} failed: ${String(cause)}` })

/** An X25519 key pair: the private key is not extractable; the public key as raw 32 bytes. */
export interface X25519Pair {
  readonly privateKey: WebKey
  readonly publicKey: Bytes
}

export const generateX25519 = (extractable = false): Effect.Effect<X25519Pair, CryptoError> =>
  Effect.tryPromise({
    try: async () => {
      const pair = (await subtle().generateKey({ name: "X25519" }, extractable, ["deriveBits"])) as unknown as {
        readonly publicKey: WebKey
        readonly privateKey: WebKey
      }
      return { privateKey: pair.privateKey, publicKey: new Uint8Array(await subtle().exportKey("raw", pair.publicKey)) }
    },
    catch: unavailable("X25519 key generation")
  })

/** An X25519 shared secret, in the backend's own form (never exported). */
export interface SharedSecret {
  readonly secret: unknown
}

/** An AES-256-GCM key in the backend's own form (a `KeyObject`, a non-extractable `CryptoKey`). */
export interface AeadKey {
  readonly aead: unknown
}

const isAead = (key: Bytes | AeadKey): key is AeadKey => !(key instanceof Uint8Array)

/** An X25519 key pair: an opaque private key (the backend's own type) and the raw public key. */
export interface Ephemeral {
  readonly privateKey: unknown
  readonly publicKey: Bytes
}

/**
 * What the envelopes are computed with. Two backends compute exactly the same bytes:
 * WebCrypto (browsers), and `node:crypto`'s synchronous calls where the runtime has them
 * (`nodePrimitives.ts`, reached through `process.getBuiltinModule`, and left out of browser
 * bundles by package.json's `browser` field): about 5x cheaper per envelope than WebCrypto's
 * promise and thread-pool round trips. Private keys are the backend's own: a non-extractable
 * WebCrypto `CryptoKey`, or a Node `KeyObject` (Node deprecates converting non-extractable
 * CryptoKeys to KeyObjects, DEP0204, so the Node backend makes its own).
 */
export interface Primitives {
  readonly backend: "node" | "webcrypto"
  /** A long-term key pair (an encryption key); never exported by this code. */
  readonly keyPair: Effect.Effect<Ephemeral, CryptoError>
  /** A key pair for one message. */
  readonly ephemeral: Effect.Effect<Ephemeral, CryptoError>
  /**
   * The 32-byte AES-256-GCM key `HKDF-SHA256(ikm = X25519(privateKey, publicKey), salt, info)`:
   * `expand(shared(privateKey, publicKey), salt, info)`.
   * Fails with `decrypt-failed` when the agreement is refused (a small-order public key,
   * whose shared secret is all zeros).
   */
  agree(privateKey: unknown, publicKey: Bytes, salt: Bytes, info: Bytes): Effect.Effect<Bytes, CryptoError>
  /**
   * `X25519(privateKey, publicKey)` as the backend's own opaque value (a `KeyObject` in Node,
   * an HKDF `CryptoKey` in WebCrypto), for `expand` and `aeadKey`; `decrypt-failed` when the agreement is
   * refused. Kept between messages by `pairKeys.ts`, so one agreement serves many.
   */
  shared(privateKey: unknown, publicKey: Bytes): Effect.Effect<SharedSecret, CryptoError>
  /** The 32-byte key `HKDF-SHA256(ikm = secret, salt, info)`. */
  expand(secret: SharedSecret, salt: Bytes, info: Bytes): Effect.Effect<Bytes, CryptoError>
  /** `HKDF-SHA256(ikm = secret, salt, info)` as an AES-256-GCM key of the backend's own (never exported), for many messages. */
  aeadKey(secret: SharedSecret, salt: Bytes, info: Bytes): Effect.Effect<AeadKey, CryptoError>
  /** AES-256-GCM under a raw key or an `aeadKey`: ciphertext followed by the 16-byte tag (WebCrypto's layout). */
  seal(key: Bytes | AeadKey, iv: Bytes, plaintext: Bytes, aad: Bytes): Effect.Effect<Bytes, CryptoError>
  /** The plaintext, or `decrypt-failed` when the tag does not check (wrong key, ciphertext or associated data). */
  open(key: Bytes | AeadKey, iv: Bytes, ciphertext: Bytes, aad: Bytes): Effect.Effect<Bytes, CryptoError>
}

const refused = (message: string) => () => new CryptoError({ reason: "decrypt-failed", message })

/** The WebCrypto backend. */
export const makeWebPrimitives = (): Primitives => {
  /** AES keys imported once per raw key (group keys are used for many messages). */
  const aesKeys = new WeakMap<Bytes, Promise<WebKey>>()
  const aesKey = (raw: Bytes) => {
    let key = aesKeys.get(raw)
    if (key === undefined) {
      key = subtle().importKey("raw", raw, { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"])
      aesKeys.set(raw, key)
    }
    return key
  }
  const shared = (privateKey: unknown, publicKey: Bytes): Effect.Effect<SharedSecret, CryptoError> =>
    Effect.tryPromise({
      try: async () => {
        const peer = await subtle().importKey("raw", publicKey, { name: "X25519" }, true, [])
        const secret = await subtle().deriveBits({ name: "X25519", public: peer }, privateKey as WebKey, 256)
        return { secret: await subtle().importKey("raw", secret, "HKDF", false, ["deriveBits", "deriveKey"]) }
      },
      catch: refused("key agreement failed")
    })
  const expand = (secret: SharedSecret, salt: Bytes, info: Bytes): Effect.Effect<Bytes, CryptoError> =>
    Effect.tryPromise({
      try: async () => new Uint8Array(await subtle().deriveBits({ name: "HKDF", hash: "SHA-256", salt, info }, secret.secret as WebKey, 256)),
      catch: refused("key derivation failed")
    })
  const webKey = (key: Bytes | AeadKey) => (isAead(key) ? (key.aead as WebKey) : aesKey(key))
  return {
    backend: "webcrypto",
    keyPair: generateX25519(false),
    ephemeral: generateX25519(false),
    agree: (privateKey, publicKey, salt, info) => Effect.flatMap(shared(privateKey, publicKey), (secret) => expand(secret, salt, info)),
    shared,
    expand,
    aeadKey: (secret, salt, info) =>
      Effect.tryPromise({
        try: async () => ({
          aead: await subtle().deriveKey({ name: "HKDF", hash: "SHA-256", salt, info }, secret.secret as WebKey, { name: "AES-GCM", length: 256 }, false, [
            "encrypt",
            "decrypt"
          ])
        }),
        catch: refused("key derivation failed")
      }),
    seal: (key, iv, plaintext, aad) =>
      Effect.tryPromise({
        try: async () => new Uint8Array(await subtle().encrypt({ name: "AES-GCM", iv, additionalData: aad }, await webKey(key), plaintext)),
        catch: unavailable("AES-GCM encryption")
      }),
    open: (key, iv, ciphertext, aad) =>
      Effect.tryPromise({
        try: async () => new Uint8Array(await subtle().decrypt({ name: "AES-GCM", iv, additionalData: aad }, await webKey(key), ciphertext)),
        catch: refused("AES-GCM authentication failed")
      })
  }
}

/** The backend of this runtime. */
export const primitives: Primitives = node?.primitives ?? makeWebPrimitives()
