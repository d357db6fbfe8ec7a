/**
 * The rules a DHT holder applies to an incoming record, as pure functions: which copy wins,
 * and who may write. Signatures are checked by the caller; these only compare.
 *
 * @since 2.0.0
 */

export interface RecordHeader {
  readonly key: string
  readonly publisher: string
  readonly version: number
  readonly ts: number
  readonly expiresAt: number
  readonly writable: boolean
}

export type Verdict = "accept" | "refresh" | "same" | "stale" | "unauthorized"

/**
 * What a holder does with `incoming` given what it holds:
 * - `accept`: a new key, or a higher version by someone allowed to write (the publisher of
 *   the held copy, or anyone when it is writable)
 * - `refresh`: the same version republished later by its publisher (extends the expiry)
 * - `same`: nothing new
 * - `stale`: an older version (or the same version with different content from another writer)
 * - `unauthorized`: a newer version by someone who may not write this key
 */
export const judge = (held: RecordHeader | undefined, incoming: RecordHeader): Verdict => {
  if (held === undefined) return "accept"
  const mayWrite = incoming.publisher === held.publisher || held.writable
  if (incoming.version > held.version) return mayWrite ? "accept" : "unauthorized"
  if (incoming.version < held.version) return "stale"
  if (incoming.publisher !== held.publisher) return "stale"
  return incoming.ts > held.ts ? "refresh" : "same"
}

/** Orders copies of one key: the newest version first, then the latest signature. */
export const newer = <A extends RecordHeader>(a: A | undefined, b: A | undefined): A | undefined => {
  if (a === undefined) return b
  if (b === undefined) return a
  if (a.version !== b.version) return a.version > b.version ? a : b
  return a.ts >= b.ts ? a : b
}

/** The bytes a publisher signs for a record. */
export const recordBytes = (r: RecordHeader & { readonly value: unknown; readonly deleted: boolean }): Uint8Array<ArrayBuffer> =>
  new TextEncoder().encode(
    `peerpigeon-dht:v1:${r.key}:${r.publisher}:${r.version}:${r.ts}:${r.expiresAt}:${r.writable}:${r.deleted}:${JSON.stringify(r.value)}`
  )
