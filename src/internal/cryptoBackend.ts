/**
 * The crypto of the mesh's message signatures (Ed25519 signing and verification, SHA-256 for
 * batch signatures), on the fastest backend the platform has:
 *
 * - Node (and runtimes with `process.getBuiltinModule`): `node:crypto`'s synchronous
 *   `sign`/`verify` with `KeyObject`s. No thread-pool round trip and no promise per message:
 *   about 3x cheaper than WebCrypto for a signature and 1.6x for a verification.
 * - Browsers: WebCrypto (`crypto.subtle`), asynchronous; SHA-256 in plain TypeScript
 *   (`internal/sha256.ts`), as WebCrypto's is asynchronous only.
 *
 * `node:crypto` is reached through `process.getBuiltinModule` at run time, never imported, so
 * the browser bundle holds no Node built-in; and the Node backend lives in `nodeCrypto.ts`,
 * which package.json's `browser` field maps to a stub, so browser bundles hold none of its code. Both backends sign and check exactly the same
 * bytes and encodings (raw 32-byte public keys and 64-byte signatures, base64url without
 * padding, decoded strictly by `fromBase64Url`), so they interoperate.
 *
 * Imported public keys and the peer ids derived from them are cached (bounded), so a stream of
 * messages from one origin costs one verification each and nothing more.
 *
 * Results are plain values when the backend is synchronous and promises otherwise
 * (`MaybePromise`), so callers on Node pay for no promise at all.
 *
 * @since 2.0.0
 */
import { toHex } from "../schema/PeerId.ts"
import { cachedIn, randomPool, rawKey, rawSignature } from "./cryptoShared.ts"
import { fromBase64Url, toBase64Url } from "./identityProof.ts"
import { nodeCryptoBackend } from "./nodeCrypto.ts"
import { sha256 as sha256Js } from "./sha256.ts"

// where they were before the Node backend moved to its own module (the browser stub has them too)
export { detectNode, type NodeModules } from "./nodeCrypto.ts"

export type MaybePromise<A> = A | Promise<A>

type WebKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>

/** Plain functions (no `this`): callers may take them off the object. */
export interface CryptoBackend {
  /** `"node"` (synchronous `node:crypto`) or `"webcrypto"`. */
  readonly backend: "node" | "webcrypto"
  /** A signing function for `privateKey` (a WebCrypto Ed25519 private key): base64url signatures. */
  readonly signer: (privateKey: WebKey) => (bytes: Uint8Array<ArrayBuffer>) => MaybePromise<string>
  /** True when `signature` (base64url) is `publicKey`'s (raw, base64url) over `bytes`; never throws or rejects. */
  readonly verify: (publicKey: string, signature: string, bytes: Uint8Array<ArrayBuffer>) => MaybePromise<boolean>
  /** The peer id derived from `publicKey` (raw, base64url), or `undefined` when it is not a 32-byte key. */
  readonly peerIdOf: (publicKey: string) => MaybePromise<string | undefined>
  /** SHA-256 of the concatenation of `parts`, synchronously. */
  readonly sha256: (parts: ReadonlyArray<Uint8Array>) => Uint8Array
  /** base64url without padding, as `toBase64Url`. */
  readonly toBase64Url: (bytes: Uint8Array) => string
  /** Decodes base64url exactly as `fromBase64Url` does (`undefined` for anything malformed). */
  readonly fromBase64Url: (text: string) => Uint8Array<ArrayBuffer> | undefined
  /** A fresh random nonce: 16 bytes, base64url (as `makeNonce`). */
  readonly nonce: () => string
}

/** The WebCrypto backend (browsers). */
export const makeWebCrypto = (): CryptoBackend => {
  const subtle = () => globalThis.crypto.subtle
  const keys = new Map<string, Promise<WebKey | undefined>>()
  const ids = new Map<string, Promise<string | undefined>>()
  const importKey = (publicKey: string): Promise<WebKey | undefined> =>
    cachedIn(keys, publicKey, () => {
      const raw = rawKey(publicKey)
      return raw === undefined
        ? Promise.resolve(undefined)
        : subtle().importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]).catch(() => undefined)
    })
  const verify = async (publicKey: string, signature: string, bytes: Uint8Array<ArrayBuffer>): Promise<boolean> => {
    const sig = rawSignature(signature)
    if (sig === undefined) return false
    const key = await importKey(publicKey)
    if (key === undefined) return false
    return subtle().verify({ name: "Ed25519" }, key, sig, bytes).catch(() => false)
  }
  return {
    backend: "webcrypto",
    signer: (privateKey) => async (bytes) =>
      toBase64Url(new Uint8Array(await subtle().sign({ name: "Ed25519" }, privateKey, bytes))),
    verify,
    peerIdOf: (publicKey) =>
      cachedIn(ids, publicKey, () => {
        const raw = rawKey(publicKey)
        return raw === undefined
          ? Promise.resolve(undefined)
          : subtle().digest("SHA-256", raw).then((d) => toHex(new Uint8Array(d).subarray(0, 20)), () => undefined)
      }),
    sha256: sha256Js,
    toBase64Url,
    fromBase64Url,
    nonce: (() => {
      const random = randomPool((bytes) => globalThis.crypto.getRandomValues(bytes))
      return () => toBase64Url(random(16))
    })()
  }
}

/** The backend of this runtime. */
export const cryptoBackend: CryptoBackend = nodeCryptoBackend() ?? makeWebCrypto()
