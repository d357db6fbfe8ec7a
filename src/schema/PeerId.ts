/**
 * Peer ids: 40 hexadecimal characters (160 bits), normalised to lowercase, and the
 * XOR metric of the id space (Kademlia's distance) with its ordering helpers.
 *
 * @since 2.0.0
 */
import { Schema, SchemaTransformation } from "effect"

const hex40 = /^[0-9a-fA-F]{40}$/

/** A peer id as it travels: 40 hex characters, upper case accepted, decoded to lower case. */
export const PeerId = Schema.String.pipe(
  Schema.check(Schema.isPattern(hex40, { message: "a peer id is 40 hexadecimal characters" })),
  Schema.decode(SchemaTransformation.toLowerCase()),
  Schema.brand("PeerId")
)
export type PeerId = typeof PeerId.Type

/** True when `s` is a 40-hex peer id in any case. */
export const isPeerIdString = (s: unknown): s is string => typeof s === "string" && hex40.test(s)

/** Normalises a 40-hex string to a `PeerId`; throws on anything else (use `PeerId` to decode untrusted input). */
export const makePeerId = (s: string): PeerId => {
  if (!hex40.test(s)) throw new TypeError(`invalid peer id: ${JSON.stringify(s)}`)
  return s.toLowerCase() as PeerId
}

/** A peer id as an unsigned 160-bit integer. */
export const toBigInt = (id: string): bigint => BigInt("0x" + id)

/** The bigint of a 160-bit id back to its 40-hex form. */
export const fromBigInt = (n: bigint): PeerId => n.toString(16).padStart(40, "0") as PeerId

/** XOR distance between two ids, as a non-negative bigint. */
export const distance = (a: string, b: string): bigint => toBigInt(a) ^ toBigInt(b)

/** Compares `a` and `b` by XOR distance to `target`: negative when `a` is closer. */
export const compareDistance = (target: string) => (a: string, b: string): number => {
  const t = toBigInt(target)
  const da = toBigInt(a) ^ t
  const db = toBigInt(b) ^ t
  return da < db ? -1 : da > db ? 1 : 0
}

/** `ids` sorted by XOR distance to `target`, closest first (a new array). */
export const sortByDistance = <A extends string>(target: string, ids: Iterable<A>): Array<A> => {
  const t = toBigInt(target)
  return [...ids]
    .map((id) => [id, toBigInt(id) ^ t] as const)
    .sort((x, y) => (x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0))
    .map(([id]) => id)
}

/** The `k` ids of `ids` closest to `target` by XOR distance. */
export const closest = <A extends string>(target: string, ids: Iterable<A>, k: number): Array<A> =>
  sortByDistance(target, ids).slice(0, Math.max(0, k))

/**
 * Number of leading bits `a` and `b` share (0-160): the Kademlia bucket index is
 * `159 - commonPrefixLength`.
 */
export const commonPrefixLength = (a: string, b: string): number => {
  const d = distance(a, b)
  return d === 0n ? 160 : 160 - d.toString(2).length
}

/** PeerPigeon's initiation rule: the lexicographically greater id makes the offer. */
export const isInitiator = (self: string, other: string): boolean => self > other

/** 20 random bytes as a peer id (for unverified ids; verified ids come from a key). */
export const randomPeerId = (): PeerId => {
  const bytes = new Uint8Array(20)
  globalThis.crypto.getRandomValues(bytes)
  return toHex(bytes) as PeerId
}

/** Lowercase hex of bytes. */
export const toHex = (bytes: Uint8Array): string => {
  let s = ""
  for (const b of bytes) s += b.toString(16).padStart(2, "0")
  return s
}
