/**
 * The `node:crypto` backend of `primitives.ts`, in a module of its own so that browser bundles
 * leave it out: package.json's `browser` field maps this file to `nodePrimitives.browser.ts`
 * (bundlers for the browser honour it; Node never reads it). It computes exactly the bytes the
 * WebCrypto backend computes (tested), through `node:crypto`'s synchronous calls (reached with
 * `process.getBuiltinModule`, never imported): about 5x cheaper per envelope than WebCrypto's
 * promises and thread-pool round trips.
 *
 * Imports only types from `primitives.ts` (which calls `nodePrimitives()` as it loads).
 *
 * @since 2.0.0
 */
import { Effect } from "effect"
import { detectNode, type NodeModules } from "../internal/nodeCrypto.ts"
import { concat } from "./bytes.ts"
import { CryptoError } from "./CryptoError.ts"
import type { AeadKey, Bytes, Primitives, SharedSecret } from "./primitives.ts"

/** What `primitives.ts` takes from this backend. */
export interface NodeBackend {
  readonly primitives: Primitives
  readonly toBase64Url: (bytes: Uint8Array) => string
  /** Strict base64url decoding, as `primitives.fromBase64Url` (without its size bound). */
  readonly fromBase64Url: (text: string) => Bytes | undefined
}


const unavailable = (what: string) => (cause: unknown) =>
  new CryptoError({ reason: "crypto-unavailable", message: `${what} failed: ${String(cause)}` })
const refused = (message: string) => () => new CryptoError({ reason: "decrypt-failed", message })
const isAead = (key: Bytes | AeadKey): key is AeadKey => !(key instanceof Uint8Array)

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

const BASE64URL = /^[A-Za-z0-9_-]*$/

/** Node's decoder of `fromBase64Url`: the same acceptance as `decodePortable`, checked before it decodes (it would skip bad characters). */
export const decodeNode = (buffer: NodeModules["Buffer"], text: string): Bytes | undefined => {
  if (text.length % 4 === 1 || !BASE64URL.test(text)) return undefined
  const unused = ((text.length % 4) * 6) % 8
  if (unused > 0 && (B64.indexOf(text[text.length - 1]!) & ((1 << unused) - 1)) !== 0) return undefined
  const decoded = buffer.from(text, "base64url")
  const out = new Uint8Array(decoded.length)
  out.set(decoded)
  return out
}

/** The synchronous `node:crypto` backend. */
export const makeNodePrimitives = ({ Buffer, crypto: node }: NodeModules): Primitives => {
  type NodeSecret = ReturnType<typeof node.createSecretKey>
  const bytes = (b: Uint8Array): Bytes => {
    const out = new Uint8Array(b.length)
    out.set(b)
    return out
  }
  const generate = Effect.try({
    try: () => {
      const pair = node.generateKeyPairSync("x25519")
      // the raw key is the last 32 bytes of its 44-byte SPKI encoding
      return { privateKey: pair.privateKey, publicKey: bytes(pair.publicKey.export({ format: "der", type: "spki" }).subarray(12)) }
    },
    catch: unavailable("X25519 key generation")
  })
  const shared = (privateKey: unknown, publicKey: Bytes): Effect.Effect<SharedSecret, CryptoError> =>
    Effect.try({
      try: () => {
        const peer = node.createPublicKey({ key: { kty: "OKP", crv: "X25519", x: Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.byteLength).toString("base64url") }, format: "jwk" })
        if (!(privateKey instanceof node.KeyObject)) throw new TypeError("not a node:crypto key")
        // OpenSSL refuses a small-order key (an all-zero secret): that throws here. A KeyObject
        // rather than bytes: node:crypto checks a byte key slowly (HKDF costs half with this)
        return { secret: node.createSecretKey(node.diffieHellman({ privateKey, publicKey: peer })) }
      },
      catch: refused("key agreement failed")
    })
  const expand = (secret: SharedSecret, salt: Bytes, info: Bytes): Effect.Effect<Bytes, CryptoError> =>
    Effect.try({
      try: () => new Uint8Array(node.hkdfSync("sha256", secret.secret as NodeSecret, salt, info, 32)),
      catch: refused("key derivation failed")
    })
  // a KeyObject rather than bytes: createCipheriv takes a third of the time with one
  const nodeKey = (key: Bytes | AeadKey) => (isAead(key) ? (key.aead as NodeSecret) : node.createSecretKey(key))
  return {
    backend: "node",
    keyPair: generate,
    ephemeral: generate,
    agree: (privateKey, publicKey, salt, info) => Effect.flatMap(shared(privateKey, publicKey), (secret) => expand(secret, salt, info)),
    shared,
    expand,
    aeadKey: (secret, salt, info) =>
      Effect.try({
        try: () => ({ aead: node.createSecretKey(new Uint8Array(node.hkdfSync("sha256", secret.secret as NodeSecret, salt, info, 32))) }),
        catch: refused("key derivation failed")
      }),
    seal: (key, iv, plaintext, aad) =>
      Effect.try({
        try: () => {
          const cipher = node.createCipheriv("aes-256-gcm", nodeKey(key), iv)
          cipher.setAAD(aad)
          const head = cipher.update(plaintext)
          const tail = cipher.final()
          return concat(head, tail, cipher.getAuthTag())
        },
        catch: unavailable("AES-GCM encryption")
      }),
    open: (key, iv, ciphertext, aad) =>
      Effect.try({
        try: () => {
          if (ciphertext.length < 16) throw new Error("too short")
          const decipher = node.createDecipheriv("aes-256-gcm", nodeKey(key), iv)
          decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16))
          decipher.setAAD(aad)
          const head = decipher.update(ciphertext.subarray(0, ciphertext.length - 16))
          return concat(head, decipher.final())
        },
        catch: refused("AES-GCM authentication failed")
      })
  }
}

/** The Node backend when the runtime has `node:crypto` (`undefined` in browsers). */
export const nodePrimitives = (): NodeBackend | undefined => {
  const modules = detectNode()
  if (modules === undefined) return undefined
  const { Buffer } = modules
  return {
    primitives: makeNodePrimitives(modules),
    toBase64Url: (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64url"),
    fromBase64Url: (text) => decodeNode(Buffer, text)
  }
}
