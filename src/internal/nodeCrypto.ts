/**
 * The `node:crypto` backend of the message signatures (see `cryptoBackend.ts`), in a module of
 * its own so that browser bundles leave it out: package.json's `browser` field maps this file
 * to `nodeCrypto.browser.ts`, which has no Node backend (bundlers for the browser honour it;
 * Node never reads it).
 *
 * @since 2.0.0
 */
import type * as NodeBuffer from "node:buffer"
import type * as NodeCrypto from "node:crypto"
import { toHex } from "../schema/PeerId.ts"
import type { CryptoBackend } from "./cryptoBackend.ts"
import { BASE64URL, cachedIn, randomPool, rawKey, rawSignature, remember } from "./cryptoShared.ts"
import { toBase64Url } from "./identityProof.ts"

/** The Node built-ins the Node backend uses. */
export interface NodeModules {
  readonly crypto: typeof NodeCrypto
  readonly Buffer: typeof NodeBuffer.Buffer
}

/** `node:crypto` and `node:buffer` when the runtime offers them without an import (Node >= 22.3, Deno, Bun). */
export const detectNode = (): NodeModules | undefined => {
  const proc = (globalThis as { readonly process?: { readonly getBuiltinModule?: (id: string) => unknown } }).process
  try {
    const crypto = proc?.getBuiltinModule?.("node:crypto") as typeof NodeCrypto | undefined
    const buffer = proc?.getBuiltinModule?.("node:buffer") as typeof NodeBuffer | undefined
    return crypto !== undefined && typeof crypto.sign === "function" && typeof crypto.verify === "function" &&
        typeof crypto.createPublicKey === "function" && typeof crypto.KeyObject?.from === "function" &&
        typeof buffer?.Buffer?.from === "function"
      ? { crypto, Buffer: buffer.Buffer }
      : undefined
  } catch {
    return undefined
  }
}

/** The synchronous `node:crypto` backend. */
export const makeNodeCrypto = ({ Buffer, crypto: nodeCrypto }: NodeModules): CryptoBackend => {
  const keys = new Map<string, NodeCrypto.KeyObject | null>()
  const ids = new Map<string, string | null>()
  /** Signatures that checked out, by signature, key and digest of the signed bytes. */
  const verified = new Map<string, true>()
  const digest = typeof nodeCrypto.hash === "function"
    ? (bytes: Uint8Array) => nodeCrypto.hash("sha256", bytes, "base64")
    : (bytes: Uint8Array) => nodeCrypto.createHash("sha256").update(bytes).digest("base64")
  const importKey = (publicKey: string): NodeCrypto.KeyObject | null =>
    cachedIn(keys, publicKey, () => {
      const raw = rawKey(publicKey)
      if (raw === undefined) return null
      try {
        return nodeCrypto.createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: toBase64Url(raw) }, format: "jwk" })
      } catch {
        return null
      }
    })
  return {
    backend: "node",
    signer: (privateKey) => {
      const key = nodeCrypto.KeyObject.from(privateKey)
      return (bytes) => nodeCrypto.sign(null, bytes, key).toString("base64url")
    },
    verify: (publicKey, signature, bytes) => {
      // a signature this process already checked, over the same bytes, need not be checked
      // again: a broadcast reaches every peer of a simulation, or of an app running several
      // meshes, in one process (the digest of the bytes costs ~1% of a verification)
      const memo = `${signature}.${publicKey}.${digest(bytes)}`
      if (verified.has(memo)) return true
      const sig = rawSignature(signature)
      if (sig === undefined) return false
      const key = importKey(publicKey)
      if (key === null) return false
      try {
        const ok = nodeCrypto.verify(null, bytes, key, sig)
        if (ok) remember(verified, memo, true)
        return ok
      } catch {
        return false
      }
    },

    peerIdOf: (publicKey) =>
      cachedIn(ids, publicKey, () => {
        const raw = rawKey(publicKey)
        return raw === undefined ? null : toHex(nodeCrypto.createHash("sha256").update(raw).digest().subarray(0, 20))
      }) ?? undefined,
    sha256: typeof nodeCrypto.hash === "function"
      // the one-shot `hash` (Node >= 21.7) costs about half of a `createHash` object
      ? (parts) => nodeCrypto.hash("sha256", parts.length === 1 ? parts[0]! : Buffer.concat(parts), "buffer")
      : (parts) => {
        const hash = nodeCrypto.createHash("sha256")
        for (const part of parts) hash.update(part)
        return hash.digest()
      },
    toBase64Url: (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64url"),
    fromBase64Url: (text) => {
      // the same acceptance as `fromBase64Url`: the base64url alphabet, "=" padding at the end
      // only, no length of the form 4k+1, at most 4096 characters
      const s = text.replace(/=+$/, "")
      if (s.length % 4 === 1 || s.length > 4096 || !BASE64URL.test(s)) return undefined
      const decoded = Buffer.from(s, "base64url")
      const out = new Uint8Array(decoded.length)
      out.set(decoded)
      return out
    },
    nonce: (() => {
      const random = randomPool((bytes) => nodeCrypto.randomFillSync(bytes))
      return () => Buffer.from(random(16)).toString("base64url")
    })()
  }
}

/** The Node backend when the runtime has `node:crypto` (`undefined` in browsers). */
export const nodeCryptoBackend = (): CryptoBackend | undefined => {
  const node = detectNode()
  return node === undefined ? undefined : makeNodeCrypto(node)
}
