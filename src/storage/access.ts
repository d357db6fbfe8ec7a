/**
 * Making the next version of a record (`makeDrafts`), and the versions an owner makes when it
 * grants or revokes access:
 *
 * - a grant adds a reader's slot (the content key of the current epoch, sealed to the
 *   reader's X25519 key) and/or a write grant, revision + 1;
 * - a revocation removes the peer's slot and grant; a private record is re-keyed: a new
 *   content key (epoch + 1) sealed to the remaining readers only, and the body encrypted
 *   under it, so nothing published from then on opens with a key the peer held.
 *
 * @since 2.0.0
 */
import { Clock, Effect } from "effect"
import type { Signer } from "../crypto/keys.ts"
import type { StorageFailure } from "../services/DistributedStorage.ts"
import { type Chunk, makeBody, newContentKey, type Reader, sealSlots, signAcl, signRecord } from "./build.ts"
import type { Opened } from "./open.ts"
import { type Acl, bodyAad, type Space, type StorageRecord } from "./record.ts"
import { storageError } from "./StorageError.ts"

type Bytes = Uint8Array<ArrayBuffer>
type Draft = { readonly record: StorageRecord; readonly chunks: ReadonlyArray<Chunk> }

/** What the drafts need of the storage layer. */
export interface AccessContext extends Drafts {
  readonly crdtBytes: (key: string, o: Opened) => Effect.Effect<Bytes, StorageFailure>
  readonly plainOf: (key: string, o: Opened) => Effect.Effect<Bytes, StorageFailure>
}

/** How this peer makes records: readers' keys, access lists, signed versions. */
export const makeDrafts = (d: {
  readonly self: string
  readonly identity: Signer
  readonly maxReaders: number
  /** This peer's X25519 key (base64url). */
  readonly ownKey: Effect.Effect<string, StorageFailure>
  /** A peer's X25519 key: the one held (from a link handshake) or the one in the DHT key directory, verified. */
  readonly peerKey: (peerId: string) => Effect.Effect<string, unknown>
}) => {
  /** The readers' encryption keys (this peer's own first), or `unknown-key` / `too-many-readers`. */
  const readersOf = (key: string, peers: Iterable<string>) =>
    Effect.gen(function*() {
      const out: Array<Reader> = [{ peerId: d.self, encryptionKey: yield* d.ownKey }]
      for (const raw of peers) {
        const peerId = String(raw).toLowerCase()
        if (peerId === d.self || out.some((r) => r.peerId === peerId)) continue
        const encryptionKey = yield* d.peerKey(peerId).pipe(Effect.orElseSucceed(() => undefined))
        if (encryptionKey === undefined) return yield* storageError("unknown-key", key, `no encryption key known for ${peerId}`)
        out.push({ peerId, encryptionKey })
      }
      if (out.length > d.maxReaders) return yield* storageError("too-many-readers", key, `more than ${d.maxReaders} readers`)
      return out
    })

  /** A record of `key` at `version` holding `plain` under `acl` (encrypted with `cek` when private), signed by this peer. */
  const draft = (key: string, space: Space, crdt: boolean, acl: Acl, version: number, plain: Bytes, cek: Bytes | undefined) =>
    Effect.gen(function*() {
      const { body, chunks } = yield* makeBody(plain, crdt, cek, bodyAad(key, acl.owner, version, acl.epoch))
      const ts = yield* Clock.currentTimeMillis
      const record = yield* signRecord(d.identity, { key, space, crdt, acl, version, ts, body })
      return { record, chunks } satisfies Draft
    })

  /** A new access list for `key` signed by this peer (the owner). */
  const newAcl = (
    key: string,
    space: Space,
    crdt: boolean,
    epoch: number,
    rev: number,
    readers: ReadonlyArray<Reader>,
    writers: ReadonlyArray<string>,
    cek: Bytes | undefined
  ) =>
    Effect.gen(function*() {
      const slots = space === "private" && cek !== undefined ? yield* sealSlots(key, d.self, epoch, readers, cek) : []
      return yield* signAcl(d.identity, key, space, crdt, { epoch, rev, readers: slots, writers })
    })

  return { self: d.self, identity: d.identity, maxReaders: d.maxReaders, readersOf, draft, newAcl }
}

/** The record after granting `peer` read (private records) and, with `write`, write access; `done` when it has them already. */
export const grantDraft = (c: AccessContext, key: string, peer: string, grant: { readonly write?: boolean }, o: Opened) =>
  Effect.gen(function*(): Effect.fn.Return<Draft | { readonly done: number }, StorageFailure> {
    const { record } = o
    const readers = record.acl.readers.map((s) => s.to)
    const wantRead = record.space === "private" && !readers.includes(peer)
    const wantWrite = grant.write === true && !record.acl.writers.includes(peer) && peer !== c.self
    if (!wantRead && !wantWrite) return { done: record.version }
    const writers = wantWrite ? [...record.acl.writers, peer] : record.acl.writers
    let slots = record.acl.readers
    if (wantRead) {
      const [, reader] = yield* c.readersOf(key, [peer])
      if (o.cek === undefined) return yield* storageError("no-access", key, `no content key for ${key}`)
      slots = [...slots, ...(yield* sealSlots(key, c.self, record.acl.epoch, [reader!], o.cek))]
      if (slots.length > c.maxReaders) return yield* storageError("too-many-readers", key, `more than ${c.maxReaders} readers`)
    }
    if (writers.length > c.maxReaders) return yield* storageError("too-many-readers", key, `more than ${c.maxReaders} writers`)
    const acl = yield* signAcl(c.identity, key, record.space, record.crdt, { epoch: record.acl.epoch, rev: record.acl.rev + 1, readers: slots, writers })
    const plain = record.crdt ? yield* c.crdtBytes(key, o) : yield* c.plainOf(key, o)
    return yield* c.draft(key, record.space, record.crdt, acl, record.version + 1, plain, o.cek)
  })

/** The record after taking `peer`'s access away (re-keyed when private); `done` when it had none. */
export const revokeDraft = (c: AccessContext, key: string, peer: string, o: Opened) =>
  Effect.gen(function*(): Effect.fn.Return<Draft | { readonly done: number }, StorageFailure> {
    const { record } = o
    const readers = record.acl.readers.map((s) => s.to)
    if (peer === c.self || (!readers.includes(peer) && !record.acl.writers.includes(peer))) return { done: record.version }
    const writers = record.acl.writers.filter((w) => w !== peer)
    const plain = record.crdt ? yield* c.crdtBytes(key, o) : yield* c.plainOf(key, o)
    if (record.space !== "private") {
      const acl = yield* signAcl(c.identity, key, record.space, record.crdt, { epoch: 0, rev: record.acl.rev + 1, readers: [], writers })
      return yield* c.draft(key, record.space, record.crdt, acl, record.version + 1, plain, undefined)
    }
    const cek = newContentKey()
    const remaining = yield* c.readersOf(key, readers.filter((p) => p !== peer))
    const acl = yield* c.newAcl(key, "private", record.crdt, record.acl.epoch + 1, record.acl.rev + 1, remaining, writers, cek)
    return yield* c.draft(key, "private", record.crdt, acl, record.version + 1, plain, cek)
  })

/** The record-making half of `AccessContext` (`makeDrafts`). */
export type Drafts = ReturnType<typeof makeDrafts>
