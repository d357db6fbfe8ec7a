/**
 * Who may write which space, as pure functions over decoded records (signatures are checked
 * by `verify.ts`; these only compare). Holders run them on records they cannot read, readers
 * on every record they take.
 *
 * - `public`: plaintext body, no reader slots; written by the owner and the writers it granted.
 * - `private`: encrypted body (or ciphertext chunks), a slot for every reader, the owner among
 *   them; written by the owner and its granted writers (who are readers too).
 * - `frozen`: plaintext, no readers list, no writers, no CRDT; version 1 only, and never
 *   replaced, changed or deleted by anyone, the owner included.
 *
 * Only the owner changes the access list; a writer's record carries the owner's list as it
 * is. The list's revision and epoch never go back, so a revoked writer cannot republish
 * under the list that still named it, and no one can roll a record back to an older key.
 *
 * @since 2.0.0
 */
import { type Acl, isChunked, isPlain, isSealed, isTombstone, MAX_READERS, type StorageRecord } from "./record.ts"

export type Refusal =
  | "bad-space"
  | "not-writer"
  | "tombstone-by-writer"
  | "owner-not-reader"
  | "duplicate-peer"
  | "too-many-readers"
  | "frozen"
  | "changed-kind"
  | "old-acl"
  | "acl-forked"
  | "not-newer"

/** True when `peer` may write the record under `acl` (the owner, or a granted writer). */
export const mayWrite = (acl: Pick<Acl, "owner" | "writers">, peer: string): boolean => peer === acl.owner || acl.writers.includes(peer)

/** The rules one record must keep on its own; `undefined` when it keeps them. */
export const checkRecord = (r: StorageRecord, maxReaders: number = MAX_READERS): Refusal | undefined => {
  const { acl, body } = r
  if (acl.readers.length > maxReaders || acl.writers.length > maxReaders) return "too-many-readers"
  const readers = new Set(acl.readers.map((s) => s.to))
  if (readers.size !== acl.readers.length || new Set(acl.writers).size !== acl.writers.length || acl.writers.includes(acl.owner)) {
    return "duplicate-peer"
  }
  if (!mayWrite(acl, r.by)) return "not-writer"
  if (isTombstone(body) && r.by !== acl.owner) return "tombstone-by-writer"
  switch (r.space) {
    case "frozen":
      if (r.crdt || acl.readers.length > 0 || acl.writers.length > 0 || acl.epoch !== 0 || r.version !== 1) return "bad-space"
      if (!(isPlain(body) || (isChunked(body) && body.iv === undefined))) return "bad-space"
      return undefined
    case "public":
      if (acl.readers.length > 0 || acl.epoch !== 0) return "bad-space"
      if (isSealed(body) || (isChunked(body) && body.iv !== undefined)) return "bad-space"
      return undefined
    case "private":
      if (!readers.has(acl.owner)) return "owner-not-reader"
      // everyone who writes also reads (a writer re-encrypts under the content key)
      if (acl.writers.some((w) => !readers.has(w))) return "bad-space"
      if (isPlain(body) || (isChunked(body) && body.iv === undefined)) return "bad-space"
      return undefined
  }
}

/**
 * Whether `incoming` may replace `held` (both already checked on their own and verified):
 * same key, owner, space and kind; never over a frozen record; a higher version; an access
 * list no older than the held one (and, at the same revision, the very same list).
 */
export const checkSuccession = (held: StorageRecord, incoming: StorageRecord): Refusal | undefined => {
  if (held.space === "frozen" && !isTombstone(held.body)) return "frozen"
  if (incoming.key !== held.key || incoming.acl.owner !== held.acl.owner) return "changed-kind"
  // a deleted key may be stored again by its owner, in any space
  if (!isTombstone(held.body) && (incoming.space !== held.space || incoming.crdt !== held.crdt)) return "changed-kind"
  if (incoming.version <= held.version) return "not-newer"
  if (incoming.acl.rev < held.acl.rev || incoming.acl.epoch < held.acl.epoch) return "old-acl"
  if (incoming.acl.rev === held.acl.rev && incoming.acl.sig !== held.acl.sig) return "acl-forked"
  // only the owner changes the list; a writer's list must be the one held
  if (incoming.by !== incoming.acl.owner && incoming.acl.sig !== held.acl.sig) return "old-acl"
  return undefined
}
