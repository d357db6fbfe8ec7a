/**
 * Making records (`record.ts`) and reading their bodies: the access list signed by the
 * owner, one sealed content key per reader, the body (plaintext, AES-256-GCM ciphertext, or
 * content-addressed chunks of either), and the writer's signature.
 *
 * @since 2.0.0
 */
import { Effect, type Schema } from "effect"
import type { CryptoError } from "../crypto/CryptoError.ts"
import type { Signer } from "../crypto/keys.ts"
import { fromBase64Url, primitives, randomBytes, toBase64Url } from "../crypto/primitives.ts"
import { seal } from "../crypto/sealedBox.ts"
import { sha256 } from "../internal/sha256.ts"
import { toHex } from "./holder.ts"
import {
  type Acl,
  aclBytes,
  type Body,
  bodyAad,
  CHUNK_BYTES,
  INLINE_BYTES,
  isChunked,
  isPlain,
  isSealed,
  recordBytes,
  type Slot,
  SLOT_INFO,
  slotAad,
  type Space,
  type StorageRecord
} from "./record.ts"

type Bytes = Uint8Array<ArrayBuffer>

/** A reader to seal the content key to: its id and X25519 key (base64url). */
export interface Reader {
  readonly peerId: string
  readonly encryptionKey: string
}

/** A chunk to publish before the record naming it. */
export interface Chunk {
  readonly hash: string
  readonly text: string
}

/** A fresh 32-byte content key. */
export const newContentKey = (): Bytes => randomBytes(32)

/** One sealed copy of `cek` per reader. */
export const sealSlots = (key: string, owner: string, epoch: number, readers: ReadonlyArray<Reader>, cek: Bytes) =>
  Effect.forEach(
    readers,
    (r): Effect.Effect<Slot, CryptoError> =>
      Effect.map(seal(r.encryptionKey, cek, slotAad(key, owner, epoch, r.peerId), SLOT_INFO), (box) => ({ to: r.peerId, box }))
  )

/** The access list, signed by `owner` (which must be the signer). */
export const signAcl = (
  owner: Signer,
  key: string,
  space: Space,
  crdt: boolean,
  fields: Pick<Acl, "epoch" | "rev" | "readers" | "writers">
): Effect.Effect<Acl> =>
  Effect.gen(function*() {
    const acl = { owner: owner.peerId, ownerKey: owner.publicKey, ...fields }
    const sig = yield* owner.sign(aclBytes(key, space, crdt, acl))
    return { ...acl, sig }
  })

/** Splits bytes into content-addressed chunks. */
export const chunksOf = (bytes: Bytes): Array<Chunk> => {
  const out: Array<Chunk> = []
  for (let at = 0; at < bytes.length; at += CHUNK_BYTES) {
    const part = bytes.subarray(at, Math.min(bytes.length, at + CHUNK_BYTES))
    out.push({ hash: toHex(sha256([part])), text: toBase64Url(part) })
  }
  return out
}

/**
 * The body for `plaintext` (UTF-8 JSON, or CRDT bytes when `crdt`): ciphertext under `cek`
 * when given (private), else the value itself; chunks when over `INLINE_BYTES`.
 */
export const makeBody = (
  plaintext: Bytes,
  crdt: boolean,
  cek: Bytes | undefined,
  aad: Bytes
): Effect.Effect<{ readonly body: Body; readonly chunks: ReadonlyArray<Chunk> }, CryptoError> =>
  Effect.gen(function*() {
    if (cek === undefined) {
      if (plaintext.length <= INLINE_BYTES) {
        const value = crdt ? toBase64Url(plaintext) : JSON.parse(new TextDecoder().decode(plaintext)) as Schema.Json
        return { body: { value }, chunks: [] }
      }
      const chunks = chunksOf(plaintext)
      return { body: { chunks: chunks.map((c) => c.hash), size: plaintext.length }, chunks }
    }
    const iv = randomBytes(12)
    const ct = yield* primitives.seal(cek, iv, plaintext, aad)
    if (ct.length <= INLINE_BYTES) return { body: { iv: toBase64Url(iv), ct: toBase64Url(ct) }, chunks: [] }
    const chunks = chunksOf(ct)
    return { body: { chunks: chunks.map((c) => c.hash), size: ct.length, iv: toBase64Url(iv) }, chunks }
  })

/** The record, signed by its writer `by`. */
export const signRecord = (by: Signer, fields: Omit<StorageRecord, "t" | "v" | "by" | "byKey" | "sig">): Effect.Effect<StorageRecord> =>
  Effect.gen(function*() {
    const unsigned = { t: "pp-st" as const, v: 1 as const, ...fields, by: by.peerId, byKey: by.publicKey }
    const sig = yield* by.sign(recordBytes(unsigned))
    return { ...unsigned, sig }
  })

export type BodyProblem = "missing-chunk" | "bad-chunk" | "decrypt-failed" | "no-key"

/**
 * The plaintext bytes of a record's body: UTF-8 JSON (or CRDT bytes); `fetch` reads a chunk
 * by hash (`undefined` when it cannot be found); `cek` opens private bodies.
 */
export const readBody = <R>(
  record: StorageRecord,
  cek: Bytes | undefined,
  fetch: (hash: string) => Effect.Effect<string | undefined, never, R>
): Effect.Effect<Bytes | BodyProblem, never, R> =>
  Effect.gen(function*() {
    const { body } = record
    if (isPlain(body)) {
      if (record.crdt) return typeof body.value === "string" ? fromBase64Url(body.value, INLINE_BYTES * 2) ?? "bad-chunk" : "bad-chunk"
      return new TextEncoder().encode(JSON.stringify(body.value))
    }
    let data: Bytes
    let iv: string | undefined
    if (isSealed(body)) {
      const ct = fromBase64Url(body.ct, INLINE_BYTES + 16)
      if (ct === undefined) return "decrypt-failed"
      data = ct
      iv = body.iv
    } else if (isChunked(body)) {
      data = new Uint8Array(body.size)
      let at = 0
      for (const hash of body.chunks) {
        const text = yield* fetch(hash)
        if (text === undefined) return "missing-chunk"
        const part = fromBase64Url(text, CHUNK_BYTES)
        if (part === undefined || toHex(sha256([part])) !== hash || at + part.length > body.size) return "bad-chunk"
        data.set(part, at)
        at += part.length
      }
      if (at !== body.size) return "bad-chunk"
      iv = body.iv
    } else {
      return "bad-chunk"
    }
    if (iv === undefined) return data
    if (cek === undefined) return "no-key"
    const ivBytes = fromBase64Url(iv, 12)!
    return yield* primitives.open(cek, ivBytes, data, bodyAad(record.key, record.acl.owner, record.version, record.acl.epoch)).pipe(
      Effect.orElseSucceed(() => "decrypt-failed" as const)
    )
  })
