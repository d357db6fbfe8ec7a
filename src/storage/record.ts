/**
 * The wire format of a storage record: the JSON value held in the DHT under `pp/st/<key>`.
 *
 *   {t: "pp-st", v: 1, key, space, crdt, acl, version, by, byKey, ts, body, sig}
 *   acl  = {owner, ownerKey, epoch, rev, readers: [{to, box}], writers: [peerId], sig}
 *   body = {value} (public, frozen) | {iv, ct} (private) | {chunks, size, iv?} (large) | {deleted: true}
 *
 * Two signatures. The owner signs the access list (`acl`): who reads (one sealed copy of the
 * record's content key per reader, the owner included), who else writes (the write grants),
 * the key epoch (raised at every revocation) and its revision `rev`. The writer (`by`: the
 * owner or a granted writer) signs everything else, the access list's signature included,
 * so a holder checks both without reading the content. Private bodies are AES-256-GCM
 * under the content key with associated data binding key, owner, version and epoch.
 * `version` is the DHT record's version (one more at every write).
 *
 * @since 2.0.0
 */
import { Schema } from "effect"
import { Key32, Millis, PeerIdHex, Signature64 } from "../crypto/keys.ts"
import { utf8 } from "../crypto/primitives.ts"
import { SealedBox } from "../crypto/sealedBox.ts"

/** DHT keys of storage records start with this. */
export const RECORD_PREFIX = "pp/st/"
/** DHT keys of value chunks start with this: `pp/chunk/<writer>/<sha256 hex>` (the peer that wrote the version, owner or granted writer). */
export const CHUNK_PREFIX = "pp/chunk/"

/** Longest storage key, in characters. */
export const MAX_KEY_CHARS = 256
/** Most readers (and, separately, most granted writers) a record can list; the owner counts as a reader. */
export const MAX_READERS = 128
/** Largest body carried inside the record (bytes of JSON or of ciphertext); larger ones go to chunks. */
export const INLINE_BYTES = 24 * 1024
/** Bytes per chunk (a chunk record is its base64url text, under the DHT's 64 KiB value limit). */
export const CHUNK_BYTES = 32 * 1024
/** Largest value, as bytes of UTF-8 JSON (or of a CRDT document): 1 MiB. Larger ones are refused with `ValueTooLarge`. */
export const MAX_VALUE_BYTES = 1024 * 1024
/** Most chunks a record may name. */
export const MAX_CHUNKS = Math.ceil((MAX_VALUE_BYTES + 16) / CHUNK_BYTES)

export const StorageKey = Schema.String.check(Schema.isBetweenLength(1, MAX_KEY_CHARS))
export const Space = Schema.Literals(["private", "public", "frozen"])
export type Space = typeof Space.Type

const Count = Schema.Number.check(Schema.isInt(), Schema.isBetween({ minimum: 0, maximum: 2 ** 32 }))
const Version = Schema.Number.check(Schema.isInt(), Schema.isBetween({ minimum: 1, maximum: 2 ** 32 }))
const Iv12 = Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_-]{16}$/))
const Sha256Hex = Schema.String.check(Schema.isPattern(/^[0-9a-f]{64}$/))
const InlineCiphertext = Schema.String.check(
  Schema.isBetweenLength(22, Math.ceil(((INLINE_BYTES + 16) * 4) / 3)),
  Schema.isPattern(/^[A-Za-z0-9_-]*$/)
)

export const Slot = Schema.Struct({ to: PeerIdHex, box: SealedBox })
export type Slot = typeof Slot.Type

export const Acl = Schema.Struct({
  owner: PeerIdHex,
  /** The owner's Ed25519 identity key; `owner` derives from it. */
  ownerKey: Key32,
  /** Raised at every revocation: a new content key, sealed to the remaining readers only. */
  epoch: Count,
  /** Raised at every change of the list: a holder never takes an older list back. */
  rev: Count,
  /** One sealed content key per reader (private records only). */
  readers: Schema.Array(Slot).check(Schema.isMaxLength(MAX_READERS)),
  /** Peers besides the owner that may write (write grants). */
  writers: Schema.Array(PeerIdHex).check(Schema.isMaxLength(MAX_READERS)),
  sig: Signature64
})
export type Acl = typeof Acl.Type

export const PlainBody = Schema.Struct({ value: Schema.Json })
export const SealedBody = Schema.Struct({ iv: Iv12, ct: InlineCiphertext })
export const ChunkedBody = Schema.Struct({
  chunks: Schema.Array(Sha256Hex).check(Schema.isBetweenLength(1, MAX_CHUNKS)),
  /** Bytes of the whole (the ciphertext when private). */
  size: Schema.Number.check(Schema.isInt(), Schema.isBetween({ minimum: 1, maximum: MAX_VALUE_BYTES + 16 })),
  /** Present when the chunks are ciphertext. */
  iv: Schema.optionalKey(Iv12)
})
export const Tombstone = Schema.Struct({ deleted: Schema.Literal(true) })
export const Body = Schema.Union([PlainBody, SealedBody, ChunkedBody, Tombstone])
export type Body = typeof Body.Type

export const StorageRecord = Schema.Struct({
  t: Schema.Literal("pp-st"),
  v: Schema.Literal(1),
  key: StorageKey,
  space: Space,
  /** The value is a CRDT document (Yjs update bytes) rather than JSON. */
  crdt: Schema.Boolean,
  acl: Acl,
  version: Version,
  by: PeerIdHex,
  byKey: Key32,
  ts: Millis,
  body: Body,
  sig: Signature64
})
export type StorageRecord = typeof StorageRecord.Type

/** Characters of record JSON read at most (the DHT bounds values at 64 KiB anyway). */
export const MAX_RECORD_CHARS = 96 * 1024

export const isTombstone = (b: Body): b is typeof Tombstone.Type => "deleted" in b
export const isPlain = (b: Body): b is typeof PlainBody.Type => "value" in b
export const isSealed = (b: Body): b is typeof SealedBody.Type => "ct" in b
export const isChunked = (b: Body): b is typeof ChunkedBody.Type => "chunks" in b

/** The DHT key of a storage key. */
export const dhtKeyOf = (key: string): string => RECORD_PREFIX + key
/** The DHT key of a chunk. */
export const chunkKeyOf = (owner: string, hash: string): string => `${CHUNK_PREFIX}${owner}/${hash}`

const slotText = (s: Slot) => `${s.to}.${s.box.kid}.${s.box.epk}.${s.box.iv}.${s.box.ct}`

/** The bytes the owner signs: every field of the access list but its signature, with the record's key, space and kind. */
export const aclBytes = (key: string, space: Space, crdt: boolean, acl: Omit<Acl, "sig">): Uint8Array<ArrayBuffer> =>
  utf8(
    `peerpigeon-st-acl:v1:${key}:${space}:${crdt}:${acl.owner}:${acl.ownerKey}:${acl.epoch}:${acl.rev}:` +
      `${acl.readers.map(slotText).join(",")}:${acl.writers.join(",")}`
  )

const bodyText = (b: Body): string => {
  if (isTombstone(b)) return "d"
  if (isPlain(b)) return `v:${JSON.stringify(b.value)}`
  if (isSealed(b)) return `e:${b.iv}:${b.ct}`
  return `c:${b.size}:${b.iv ?? ""}:${b.chunks.join(",")}`
}

/** The bytes the writer signs: every field but `sig` (the access list by its signature). */
export const recordBytes = (r: Omit<StorageRecord, "sig">): Uint8Array<ArrayBuffer> =>
  utf8(
    `peerpigeon-st:v1:${r.key}:${r.space}:${r.crdt}:${r.acl.sig}:${r.version}:${r.by}:${r.byKey}:${r.ts}:${bodyText(r.body)}`
  )

/** Associated data of a private body (inline or chunked ciphertext). */
export const bodyAad = (key: string, owner: string, version: number, epoch: number): Uint8Array<ArrayBuffer> =>
  utf8(`peerpigeon-st-body:v1:${key}:${owner}:${version}:${epoch}`)

/** Associated data of a reader's content-key slot. */
export const slotAad = (key: string, owner: string, epoch: number, reader: string): Uint8Array<ArrayBuffer> =>
  utf8(`peerpigeon-st-slot:v1:${key}:${owner}:${epoch}:${reader}`)

/** HKDF info of a reader's content-key slot. */
export const SLOT_INFO = "st-slot"
