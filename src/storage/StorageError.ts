/**
 * The one error of distributed storage (besides the DHT's own `ValueTooLarge`, `Timeout`,
 * `DhtDisabled`): `reason` says which rule refused. Records from the network that break a
 * rule are never errors of the caller; they are dropped (holders) or read as absent (readers).
 *
 * @since 2.0.0
 */
import { Schema } from "effect"

export const StorageErrorReason = Schema.Literals([
  /** Only the record's owner may do this (delete, grant, revoke, change its options). */
  "not-owner",
  /** This peer may not write the record (not the owner, not a granted writer). */
  "not-writer",
  /** A frozen record is written once and never changed or deleted. */
  "frozen",
  /** No record under the key. */
  "not-found",
  /** This peer holds no key for the record (not a reader). */
  "no-access",
  /** No encryption key is known for a peer to be given access. */
  "unknown-key",
  /** More readers (or writers) than `maxReaders`. */
  "too-many-readers",
  /** More records owned by this peer than `maxDocuments`. */
  "too-many-documents",
  /** The value is not JSON (a cycle, a bigint, too deep), or an option is out of range. */
  "invalid",
  /** A record that does not check: shape, signature, grant, or rule. */
  "forged",
  /** The record's content did not decrypt (a damaged or foreign record). */
  "decrypt-failed",
  /** The operation does not apply to this record (e.g. `getDocument` of a record without CRDT). */
  "unsupported",
  /** Others kept writing: the write lost the race every time it was retried. */
  "conflict"
])
export type StorageErrorReason = typeof StorageErrorReason.Type

export class StorageError extends Schema.TaggedError<StorageError>()("StorageError", {
  reason: StorageErrorReason,
  key: Schema.String,
  message: Schema.String
}) {}

export const storageError = (reason: StorageErrorReason, key: string, message: string) => new StorageError({ reason, key, message })
