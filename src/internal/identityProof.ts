/**
 * The identity proof of the signaling protocol, shared by server and client so both sign and
 * verify exactly the same bytes (see PROTOCOL.md, "Identity extension"):
 *
 * - peer id = lowercase hex of the first 20 bytes of SHA-256(raw 32-byte Ed25519 public key)
 * - signed bytes = UTF-8 of `peerpigeon-announce:v1:<networkName>:<peerId>:<nonce>`
 *   where `nonce` is the one the server sent in this connection's `connected` frame
 * - public key and signature travel as base64url without padding
 *
 * WebCrypto only, so it runs in Node and in browsers.
 *
 * @since 2.0.0
 */
import { toHex } from "../schema/PeerId.ts"

const subtle = () => globalThis.crypto.subtle
const encoder = new TextEncoder()

/** The exact bytes an announcing peer signs. */
export const announceChallenge = (networkName: string, peerId: string, nonce: string): Uint8Array<ArrayBuffer> =>
  encoder.encode(`peerpigeon-announce:v1:${networkName}:${peerId}:${nonce}`)

/** Derives the peer id of a raw 32-byte Ed25519 public key. */
export const peerIdFromPublicKey = async (raw: Uint8Array<ArrayBuffer>): Promise<string> => {
  const digest = new Uint8Array(await subtle().digest("SHA-256", raw))
  return toHex(digest.subarray(0, 20))
}

/** A fresh random nonce: 16 bytes, base64url. */
export const makeNonce = (): string => {
  const bytes = new Uint8Array(16)
  globalThis.crypto.getRandomValues(bytes)
  return toBase64Url(bytes)
}

export type ProofFailure = "bad-encoding" | "bad-key" | "id-mismatch" | "bad-signature"

/**
 * Checks an announce proof; resolves to `undefined` when valid, or the reason it is not.
 * Never rejects: malformed input is a failure reason, not an exception.
 */
export const verifyAnnounceProof = async (proof: {
  readonly peerId: string
  readonly networkName: string
  readonly nonce: string
  readonly publicKey: string
  readonly signature: string
}): Promise<ProofFailure | undefined> => {
  const raw = fromBase64Url(proof.publicKey)
  const signature = fromBase64Url(proof.signature)
  if (raw === undefined || signature === undefined) return "bad-encoding"
  if (raw.length !== 32 || signature.length !== 64) return "bad-encoding"
  if ((await peerIdFromPublicKey(raw)) !== proof.peerId) return "id-mismatch"
  const key = await subtle().importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]).catch(() => undefined)
  if (key === undefined) return "bad-key"
  try {
    const ok = await subtle().verify(
      { name: "Ed25519" },
      key,
      signature,
      announceChallenge(proof.networkName, proof.peerId, proof.nonce)
    )
    return ok ? undefined : "bad-signature"
  } catch {
    return "bad-signature"
  }
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
const B64_INDEX = new Map([...B64].map((c, i) => [c, i] as const))

/** base64url without padding (no Node Buffer, so it runs in browsers). */
export const toBase64Url = (bytes: Uint8Array): string => {
  let out = ""
  let i = 0
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!
    out += B64[(n >> 18) & 63]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]! + B64[n & 63]!
  }
  const rest = bytes.length - i
  if (rest === 1) {
    const n = bytes[i]! << 16
    out += B64[(n >> 18) & 63]! + B64[(n >> 12) & 63]!
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8)
    out += B64[(n >> 18) & 63]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]!
  }
  return out
}

/** Decodes base64url (padding tolerated); `undefined` for anything malformed. */
export const fromBase64Url = (text: string): Uint8Array<ArrayBuffer> | undefined => {
  const s = text.replace(/=+$/, "")
  if (s.length % 4 === 1 || s.length > 4096) return undefined
  const out = new Uint8Array(Math.floor((s.length * 3) / 4))
  let bits = 0
  let value = 0
  let j = 0
  for (const c of s) {
    const v = B64_INDEX.get(c)
    if (v === undefined) return undefined
    value = (value << 6) | v
    bits += 6
    if (bits >= 8) {
      bits -= 8
      out[j++] = (value >> bits) & 0xff
    }
  }
  return out
}
