/**
 * The rules a DHT holder and a reader apply to records, as pure functions: who owns a key,
 * who may write it, how far a version may jump, and which of several copies a read returns.
 * Signatures are checked by the caller; these only compare.
 *
 * - A key's owner is its first writer, as holders judge it: the publisher of the first copy a
 *   holder accepts. Later copies keep that owner (`owner` names it when another peer updates
 *   a writable record).
 * - Only the owner writes an owned record; anyone may update a writable one, but only the
 *   owner may change `writable`.
 * - A version grows by at most `maxStep` over the copy held, and never beyond `MAX_VERSION`,
 *   so no one can freeze a key at 2^53-1.
 *
 * @since 2.0.0
 */

/** The highest version a record may carry (about 4 billion changes). */
export const MAX_VERSION = 2 ** 32

/** Default for the largest step a version may take over the copy a holder has. */
export const MAX_VERSION_STEP = 1000

export interface RecordHeader {
  readonly key: string
  readonly publisher: string
  /** The key's owner, when the publisher is not (an update of a writable record by another peer). */
  readonly owner?: string | undefined
  readonly version: number
  readonly ts: number
  readonly expiresAt: number
  readonly writable: boolean
}

export type Verdict = "accept" | "refresh" | "same" | "stale" | "unauthorized"

/** The owner of the key a record belongs to. */
export const ownerOf = (r: RecordHeader): string => r.owner ?? r.publisher

/** True when `version` is one a holder takes at all: a whole number in 1..MAX_VERSION. */
export const validVersion = (version: number): boolean => Number.isSafeInteger(version) && version >= 1 && version <= MAX_VERSION

/**
 * What a holder does with `incoming` given what it holds:
 * - `accept`: a new key (the incoming publisher becomes its owner), or a higher version, at
 *   most `maxStep` above the held one, by someone allowed to write (the owner, or anyone when
 *   the held copy is writable; the owner stays the same)
 * - `refresh`: the same version republished later by its publisher (extends the expiry)
 * - `same`: nothing new
 * - `stale`: an older version (or the same version with different content from another writer)
 * - `unauthorized`: a version no one may write here: by someone other than the owner of an
 *   owned key, naming another owner, turning `writable` off without being the owner, jumping
 *   more than `maxStep`, or out of range
 */
export const judge = (held: RecordHeader | undefined, incoming: RecordHeader, maxStep: number = MAX_VERSION_STEP): Verdict => {
  if (!validVersion(incoming.version)) return "unauthorized"
  if (incoming.owner !== undefined && incoming.owner === incoming.publisher) return "unauthorized"
  if (held === undefined) return incoming.owner === undefined ? "accept" : "unauthorized"
  const owner = ownerOf(held)
  const byOwner = incoming.publisher === owner
  if (ownerOf(incoming) !== owner) return "unauthorized"
  if (incoming.version > held.version) {
    if (!byOwner && !(held.writable && incoming.writable)) return "unauthorized"
    return incoming.version - held.version > maxStep ? "unauthorized" : "accept"
  }
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

/** One copy of a record and the peer that answered with it. */
export interface Copy<A extends RecordHeader> {
  readonly from: string
  readonly record: A
}

/** The copies held by the owner with the most holders behind it. */
const ownersCopies = <A extends RecordHeader>(copies: ReadonlyArray<Copy<A>>): ReadonlyArray<Copy<A>> => {
  const byOwner = new Map<string, Array<Copy<A>>>()
  for (const c of copies) {
    const owner = ownerOf(c.record)
    const list = byOwner.get(owner)
    if (list === undefined) byOwner.set(owner, [c])
    else list.push(c)
  }
  let best: Array<Copy<A>> | undefined
  let bestVotes = 0
  let bestLowest = Infinity
  let bestOwner = ""
  for (const [owner, list] of byOwner) {
    const votes = new Set(list.map((c) => c.from)).size
    const lowest = Math.min(...list.map((c) => c.record.version))
    // more holders win; then the owner whose copies start lower (a squatter jumps high), then the id
    const better = votes > bestVotes ||
      (votes === bestVotes && (lowest < bestLowest || (lowest === bestLowest && owner < bestOwner)))
    if (better) {
      best = list
      bestVotes = votes
      bestLowest = lowest
      bestOwner = owner
    }
  }
  return best ?? []
}

/**
 * The record a read returns from the copies peers answered with:
 * - the key's owner is the one most answering holders name (a squatter that planted its own
 *   record on a few new holders after churn is outvoted; on a tie, the owner whose copies
 *   start at the lower version, then the lower id);
 * - of that owner's copies, the newest whose version is at most `maxStep` above the version
 *   most of them hold (so one holder with a wild jump does not win over the others).
 */
export const chooseRecord = <A extends RecordHeader>(
  copies: ReadonlyArray<Copy<A>>,
  maxStep: number = MAX_VERSION_STEP
): A | undefined => {
  const own = ownersCopies(copies)
  if (own.length === 0) return undefined
  const votes = new Map<number, number>()
  for (const c of own) votes.set(c.record.version, (votes.get(c.record.version) ?? 0) + 1)
  let base = Infinity
  let baseVotes = 0
  for (const [version, n] of votes) {
    if (n > baseVotes || (n === baseVotes && version < base)) {
      base = version
      baseVotes = n
    }
  }
  let chosen: A | undefined
  for (const c of own) if (c.record.version <= base + maxStep) chosen = newer(chosen, c.record)
  return chosen
}

/** The bytes a publisher signs for a record (v2 when it names an owner other than its publisher). */
export const recordBytes = (r: RecordHeader & { readonly value: unknown; readonly deleted: boolean }): Uint8Array<ArrayBuffer> => {
  const head = r.owner === undefined ? "peerpigeon-dht:v1" : `peerpigeon-dht:v2:${r.owner}`
  return new TextEncoder().encode(
    `${head}:${r.key}:${r.publisher}:${r.version}:${r.ts}:${r.expiresAt}:${r.writable}:${r.deleted}:${JSON.stringify(r.value)}`
  )
}

/** Where each peer publishes its signed encryption key announcement: `pp/keys/<peerId>` (crypto/KeyDirectory.ts). */
export const KEY_DIRECTORY_PREFIX = "pp/keys/"

/**
 * The key directory's holder rule: a record under `pp/keys/<peerId>` is written only by the
 * peer `<peerId>` itself (its publisher, owning it, never writable by others), so no one can
 * squat or overwrite another peer's encryption key. Any other key: true. (Whether the value is
 * a valid announcement by that peer is the caller's check: it needs the signature.)
 */
export const keyDirectoryAllows = (r: RecordHeader): boolean => {
  if (!r.key.startsWith(KEY_DIRECTORY_PREFIX)) return true
  const peerId = r.key.slice(KEY_DIRECTORY_PREFIX.length)
  return r.publisher === peerId && (r.owner === undefined || r.owner === peerId) && !r.writable
}
