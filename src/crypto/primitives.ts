/**
 * The primitives the crypto modules are made of, over WebCrypto (`globalThis.crypto.subtle`,
 * so the same code runs in Node >= 22 and browsers): X25519 key pairs and agreement,
 * HKDF-SHA256 to an AES-256-GCM key, AES-256-GCM, random bytes, strict base64url and UTF-8.
 *
 * Each returns an `Effect` whose failure is a `CryptoError`; none throws. Randomness comes from
 * the platform's CSPRNG (`crypto.getRandomValues`), not Effect's `Random`: keys, nonces and ids
 * must be unpredictable, and a test seeding `Random` must not make them so.
 *
 * @since 2.0.0
 */
import { Effect } from "effect"
import { CryptoError } from "./CryptoError.ts"
import { toBase64Url } from "../internal/identityProof.ts"

export type WebKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>
export type Bytes = Uint8Array<ArrayBuffer>

const subtle = () => globalThis.crypto.subtle
const encoder = new TextEncoder()
const decoder = new TextDecoder("utf-8", { fatal: true })

export { toBase64Url }

/** `n` random bytes from the platform's CSPRNG. */
export const randomBytes = (n: number): Bytes => {
  const out = new Uint8Array(n)
  globalThis.crypto.getRandomValues(out)
  return out
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

export const concat = (...parts: ReadonlyArray<Uint8Array>): Bytes => {
  let size = 0
  for (const part of parts) size += part.length
  const out = new Uint8Array(size)
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.length
  }
  return out
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

/**
 * The AES-256-GCM key of `HKDF-SHA256(ikm = X25519(privateKey, publicKey), salt, info)`.
 * Fails with `decrypt-failed` when the agreement is refused (WebCrypto refuses small-order
 * public keys, whose shared secret is all zeros).
 */
export const agreeAesKey = (
  privateKey: WebKey,
  publicKey: Bytes,
  salt: Bytes,
  info: Bytes,
  usage: "encrypt" | "decrypt"
): Effect.Effect<WebKey, CryptoError> =>
  Effect.tryPromise({
    try: async () => {
      const peer = await subtle().importKey("raw", publicKey, { name: "X25519" }, true, [])
      const secret = await subtle().deriveBits({ name: "X25519", public: peer }, privateKey, 256)
      const base = await subtle().importKey("raw", secret, "HKDF", false, ["deriveKey"])
      return subtle().deriveKey({ name: "HKDF", hash: "SHA-256", salt, info }, base, { name: "AES-GCM", length: 256 }, false, [usage])
    },
    catch: (cause) => new CryptoError({ reason: "decrypt-failed", message: `key agreement failed: ${String(cause)}` })
  })

/** A raw 32-byte AES-256-GCM key (group keys), for both directions. */
export const importAesKey = (raw: Bytes): Effect.Effect<WebKey, CryptoError> =>
  Effect.tryPromise({
    try: () => subtle().importKey("raw", raw, { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]),
    catch: unavailable("AES-GCM key import")
  })

export const aesGcmEncrypt = (key: WebKey, iv: Bytes, plaintext: Bytes, aad: Bytes): Effect.Effect<Bytes, CryptoError> =>
  Effect.tryPromise({
    try: async () => new Uint8Array(await subtle().encrypt({ name: "AES-GCM", iv, additionalData: aad }, key, plaintext)),
    catch: unavailable("AES-GCM encryption")
  })

/** The plaintext, or `decrypt-failed` when the tag does not check (wrong key, ciphertext or associated data). */
export const aesGcmDecrypt = (key: WebKey, iv: Bytes, ciphertext: Bytes, aad: Bytes): Effect.Effect<Bytes, CryptoError> =>
  Effect.tryPromise({
    try: async () => new Uint8Array(await subtle().decrypt({ name: "AES-GCM", iv, additionalData: aad }, key, ciphertext)),
    catch: () => new CryptoError({ reason: "decrypt-failed", message: "AES-GCM authentication failed" })
  })
