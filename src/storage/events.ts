/**
 * Which storage events a new version of a record makes, from the version seen before it:
 * pure, so every peer (owner, writer, subscriber) derives the same events from the same two
 * records, whoever wrote them.
 *
 * @since 2.0.0
 */
import type { Schema } from "effect"
import type { KeyInfo, StorageEvent } from "../services/DistributedStorage.ts"
import { isTombstone, type StorageRecord } from "./record.ts"

export interface Seen {
  readonly record: StorageRecord
  /** The value as this peer reads it (null when deleted or not readable). */
  readonly value: Schema.Json | null
  readonly readable: boolean
}

/** Readers (private) and writers of a record, as peer id -> may write. */
const access = (r: StorageRecord): Map<string, boolean> => {
  const out = new Map<string, boolean>()
  for (const s of r.acl.readers) if (s.to !== r.acl.owner) out.set(s.to, false)
  for (const w of r.acl.writers) out.set(w, true)
  return out
}

/** The events of `next` over `prev` (undefined: nothing was known of the key). */
export const eventsOf = (prev: Seen | undefined, next: Seen): ReadonlyArray<StorageEvent> => {
  const { record } = next
  const key = record.key
  const version = record.version
  if (isTombstone(record.body)) {
    return prev === undefined || isTombstone(prev.record.body) ? [] : [{ _tag: "Deleted", key, version, by: record.by }]
  }
  if (prev === undefined || isTombstone(prev.record.body)) {
    return [{ _tag: "Stored", key, version, value: next.value, by: record.by, space: record.space }]
  }
  const out: Array<StorageEvent> = []
  const before = access(prev.record)
  const after = access(record)
  for (const [peerId, write] of after) {
    if (before.get(peerId) !== write && !(before.get(peerId) === true && !write)) out.push({ _tag: "AccessGranted", key, version, peerId, write })
  }
  for (const [peerId, write] of before) {
    const now = after.get(peerId)
    if (now === undefined || (write && !now)) out.push({ _tag: "AccessRevoked", key, version, peerId })
  }
  if (next.readable && JSON.stringify(next.value) !== JSON.stringify(prev.value)) {
    out.push({ _tag: "Updated", key, version, value: next.value, by: record.by })
  }
  return out
}

/** What `getKeyInfo` says of a record as `self` saw it. */
export const keyInfoOf = (s: Seen, self: string): KeyInfo => {
  const r = s.record
  return {
    key: r.key,
    owner: r.acl.owner,
    space: r.space,
    isPublic: r.space !== "private",
    isImmutable: r.space === "frozen",
    enableCRDT: r.crdt,
    allowedPeers: r.acl.readers.map((x) => x.to).filter((p) => p !== r.acl.owner),
    writers: r.acl.writers,
    version: r.version,
    epoch: r.acl.epoch,
    updatedAt: r.ts,
    owned: r.acl.owner === self,
    accessible: s.readable
  }
}
