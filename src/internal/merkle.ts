/**
 * Merkle trees for batch signatures: one signature over the root of a tree of message
 * hashes authenticates every message in it, each carrying its own path to the root, so each
 * message can still be checked (and forwarded) on its own.
 *
 * - leaf = H(0x00 || message bytes), inner node = H(0x01 || left || right): the prefixes keep a
 *   leaf from passing for an inner node (second-preimage attacks on the tree shape);
 * - levels pair nodes left to right; an odd node out at the end of a level moves up unchanged;
 * - a proof is the leaf's index, the leaf count and the sibling hashes from the bottom up;
 *   `rootFromProof` consumes exactly the siblings the tree shape calls for, no more, no fewer.
 *
 * `H` is given (`Hash`), taking the input in parts; SHA-256 in the mesh.
 *
 * @since 2.0.0
 */

/** A hash of the concatenation of `parts`. */
export type Hash = (parts: ReadonlyArray<Uint8Array>) => Uint8Array

const LEAF = new Uint8Array([0])
const NODE = new Uint8Array([1])

export const leafHash = (hash: Hash, message: Uint8Array): Uint8Array => hash([LEAF, message])

const nodeHash = (hash: Hash, left: Uint8Array, right: Uint8Array): Uint8Array => hash([NODE, left, right])

export interface MerkleTree {
  readonly root: Uint8Array
  /** For each leaf, its siblings from the bottom up. */
  readonly paths: ReadonlyArray<ReadonlyArray<Uint8Array>>
}

/** The tree over `leaves` (leaf hashes, at least one). */
export const merkleTree = (hash: Hash, leaves: ReadonlyArray<Uint8Array>): MerkleTree => {
  if (leaves.length === 0) throw new RangeError("a Merkle tree needs at least one leaf")
  const paths: Array<Array<Uint8Array>> = leaves.map(() => [])
  // positions[i]: where leaf i's ancestor sits in the current level
  const positions = leaves.map((_, i) => i)
  let level: ReadonlyArray<Uint8Array> = leaves
  while (level.length > 1) {
    for (let i = 0; i < leaves.length; i++) {
      const p = positions[i]!
      const sibling = p ^ 1
      if (sibling < level.length) paths[i]!.push(level[sibling]!)
      positions[i] = p >> 1
    }
    const next: Array<Uint8Array> = []
    for (let p = 0; p < level.length; p += 2) {
      next.push(p + 1 < level.length ? nodeHash(hash, level[p]!, level[p + 1]!) : level[p]!)
    }
    level = next
  }
  return { root: level[0]!, paths }
}

/**
 * The root that `leaf` at `index` of a tree of `count` leaves leads to through `path`, or
 * `undefined` when the proof does not fit that shape (bad index or count, too few or too many
 * siblings).
 */
export const rootFromProof = (
  hash: Hash,
  leaf: Uint8Array,
  index: number,
  count: number,
  path: ReadonlyArray<Uint8Array>
): Uint8Array | undefined => {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(count) || index < 0 || index >= count) return undefined
  let node = leaf
  let position = index
  let size = count
  let used = 0
  while (size > 1) {
    if (position % 2 === 1) {
      const sibling = path[used++]
      if (sibling === undefined) return undefined
      node = nodeHash(hash, sibling, node)
    } else if (position + 1 < size) {
      const sibling = path[used++]
      if (sibling === undefined) return undefined
      node = nodeHash(hash, node, sibling)
    }
    position >>= 1
    size = (size + 1) >> 1
  }
  return used === path.length ? node : undefined
}
