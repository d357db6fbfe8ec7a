/**
 * What a DHT holder checks, beyond the DHT's own owner and version rules, before it keeps a
 * record under a storage key (`pp/st/...`) or a chunk key (`pp/chunk/...`). It reads no
 * content: it checks signatures, grants and the space rules (`rules.ts`).
 *
 * - Storage records: a valid record (`verify.ts`) for that very key, published by its writer
 *   (`by`), at the DHT record's version, owned by the DHT key's owner, and a valid successor
 *   of the record held (`checkSuccession`: nothing replaces a frozen record). DHT-level
 *   deletes are refused: storage deletes with a tombstone the owner signs.
 * - Chunks: `pp/chunk/<publisher>/<sha256>` holds base64url text whose SHA-256 is the name,
 *   at version 1 only, written by the peer named in the key.
 *
 * @since 2.0.0
 */
import { Effect } from "effect"
import { fromBase64Url } from "../crypto/primitives.ts"
import { ownerOf } from "../internal/dhtRecords.ts"
import { sha256 } from "../internal/sha256.ts"
import { CHUNK_BYTES, CHUNK_PREFIX, dhtKeyOf, RECORD_PREFIX, type StorageRecord } from "./record.ts"
import { checkSuccession } from "./rules.ts"
import { verifyRecord } from "./verify.ts"

/** The fields of a DHT record the checks read. */
export interface DhtRecordLike {
  readonly key: string
  readonly value: unknown
  readonly publisher: string
  readonly owner?: string | undefined
  readonly version: number
  readonly deleted: boolean
  readonly expiresAt: number
  readonly ts: number
  readonly writable: boolean
}

export const toHex = (bytes: Uint8Array): string => {
  let out = ""
  for (const b of bytes) out += b.toString(16).padStart(2, "0")
  return out
}

/** True when `text` is base64url of at most `CHUNK_BYTES` bytes whose SHA-256 is `hash`. */
export const chunkMatches = (text: unknown, hash: string): boolean => {
  if (typeof text !== "string") return false
  const bytes = fromBase64Url(text, CHUNK_BYTES)
  return bytes !== undefined && bytes.length > 0 && toHex(sha256([bytes])) === hash
}

/** The storage record a DHT record holds, when it is one that verifies for its key; otherwise undefined. */
export const storedRecord = (r: DhtRecordLike): Effect.Effect<StorageRecord | undefined> =>
  Effect.map(verifyRecord(r.value), (v) => (v.ok && dhtKeyOf(v.record.key) === r.key ? v.record : undefined))

/**
 * True when a holder may keep `incoming` over `held` (which it already kept, so checked
 * before). Keys outside the storage prefixes are not its business (always true).
 */
export const holderAccepts = (held: DhtRecordLike | undefined, incoming: DhtRecordLike): Effect.Effect<boolean> =>
  Effect.gen(function*() {
    const ours = incoming.key.startsWith(CHUNK_PREFIX) || incoming.key.startsWith(RECORD_PREFIX)
    if (!ours) return true
    // a republish of the version held must be the same record (else a frozen one could change under version 1)
    if (held !== undefined && incoming.version === held.version) {
      return incoming.deleted === held.deleted && JSON.stringify(incoming.value) === JSON.stringify(held.value)
    }
    if (incoming.key.startsWith(CHUNK_PREFIX)) {
      const [publisher, hash, ...rest] = incoming.key.slice(CHUNK_PREFIX.length).split("/")
      if (rest.length > 0 || publisher !== incoming.publisher || hash === undefined) return false
      if (incoming.deleted) return held !== undefined && ownerOf(held) === incoming.publisher
      return incoming.version === 1 && chunkMatches(incoming.value, hash)
    }
    if (incoming.deleted) return false
    const record = yield* storedRecord(incoming)
    if (record === undefined) return false
    if (record.by !== incoming.publisher || record.version !== incoming.version || record.acl.owner !== ownerOf(incoming)) return false
    if (held === undefined || held.deleted) return true
    const before = yield* storedRecord(held)
    // what is held was checked on arrival; if it no longer reads, the new one cannot be judged against it
    return before !== undefined && checkSuccession(before, record) === undefined
  })
