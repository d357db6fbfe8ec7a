/**
 * Helpers both signature backends (`cryptoBackend.ts`, `nodeCrypto.ts`) share: a random pool,
 * bounded key caches, strict decoding of raw keys and signatures.
 *
 * @since 2.0.0
 */
import { fromBase64Url } from "./identityProof.ts"

export const BASE64URL = /^[A-Za-z0-9_-]*$/

/**
 * Random bytes drawn from the platform's CSPRNG a pool at a time (one call per 256 nonces
 * rather than one per nonce); each byte is handed out once.
 */
export const randomPool = (fill: (bytes: Uint8Array<ArrayBuffer>) => void, size = 4096) => {
  const pool = new Uint8Array(size)
  let used = size
  return (n: number): Uint8Array => {
    if (used + n > size) {
      fill(pool)
      used = 0
    }
    const out = pool.subarray(used, used + n)
    used += n
    return out
  }
}

/** Entries a key cache holds before it starts over (a flood of fresh keys cannot grow it). */
export const CACHE_LIMIT = 10_000

export const remember = <V>(cache: Map<string, V>, key: string, value: V): V => {
  if (cache.size >= CACHE_LIMIT) cache.clear()
  cache.set(key, value)
  return value
}

/** The cached value of `key`, computed (and remembered) on a miss. */
export const cachedIn = <V>(cache: Map<string, V>, key: string, compute: () => V): V => {
  const cached = cache.get(key)
  return cached !== undefined ? cached : remember(cache, key, compute())
}

/** The raw 32-byte key of `publicKey`, or `undefined`. */
export const rawKey = (publicKey: string): Uint8Array<ArrayBuffer> | undefined => {
  const raw = fromBase64Url(publicKey)
  return raw !== undefined && raw.length === 32 ? raw : undefined
}

/** The 64-byte signature of `signature`, or `undefined`. */
export const rawSignature = (signature: string): Uint8Array<ArrayBuffer> | undefined => {
  if (signature.length < 86 || signature.length > 88) return undefined
  const sig = fromBase64Url(signature)
  return sig !== undefined && sig.length === 64 ? sig : undefined
}

