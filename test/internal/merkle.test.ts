import { createHash, randomBytes } from "node:crypto"
import { describe, expect, it } from "vitest"
import { type Hash, leafHash, merkleTree, rootFromProof } from "../../src/internal/merkle.ts"
import { sha256 } from "../../src/internal/sha256.ts"
import { prng } from "../support/random.ts"

const nodeSha256: Hash = (parts) => {
  const h = createHash("sha256")
  for (const p of parts) h.update(p)
  return h.digest()
}
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex")
const bytes = (s: string) => new TextEncoder().encode(s)

describe("sha256 (plain TypeScript)", () => {
  it("matches the FIPS 180-4 test vectors", () => {
    expect(hex(sha256([]))).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    expect(hex(sha256([bytes("abc")]))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    expect(hex(sha256([bytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")]))).toBe(
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    )
    expect(hex(sha256([new Uint8Array(1_000_000).fill(0x61)]))).toBe(
      "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
    )
  })

  it("agrees with node:crypto on random inputs split into random parts", () => {
    const random = prng(3)
    for (let i = 0; i < 500; i++) {
      const length = Math.floor(random() * 300)
      const data = randomBytes(length)
      const parts: Array<Uint8Array> = []
      let at = 0
      while (at < length) {
        const end = Math.min(length, at + 1 + Math.floor(random() * 80))
        parts.push(data.subarray(at, end))
        at = end
      }
      expect(hex(sha256(parts))).toBe(createHash("sha256").update(data).digest("hex"))
    }
  })
})

describe("Merkle tree", () => {
  const leavesOf = (n: number) => Array.from({ length: n }, (_, i) => leafHash(nodeSha256, bytes(`message ${i}`)))

  it("every leaf's proof leads to the root, for every size up to 70", () => {
    for (let n = 1; n <= 70; n++) {
      const leaves = leavesOf(n)
      const { root, paths } = merkleTree(nodeSha256, leaves)
      expect(paths.length).toBe(n)
      for (let i = 0; i < n; i++) {
        expect(paths[i]!.length).toBeLessThanOrEqual(Math.ceil(Math.log2(n)))
        expect(hex(rootFromProof(nodeSha256, leaves[i]!, i, n, paths[i]!)!)).toBe(hex(root))
      }
    }
  })

  it("a single leaf is its own root, with an empty path", () => {
    const [leaf] = leavesOf(1)
    const { root, paths } = merkleTree(nodeSha256, [leaf!])
    expect(hex(root)).toBe(hex(leaf!))
    expect(paths[0]).toStrictEqual([])
  })

  it("rejects a wrong leaf or index, or a path too short or too long", () => {
    const leaves = leavesOf(11)
    const { root, paths } = merkleTree(nodeSha256, leaves)
    const rootHex = hex(root)
    const leadsToRoot = (leaf: Uint8Array, i: number, n: number, path: ReadonlyArray<Uint8Array>) => {
      const r = rootFromProof(nodeSha256, leaf, i, n, path)
      return r !== undefined && hex(r) === rootHex
    }
    for (let i = 0; i < 11; i++) {
      expect(leadsToRoot(leaves[i]!, i, 11, paths[i]!)).toBe(true)
      expect(leadsToRoot(leafHash(nodeSha256, bytes("forged")), i, 11, paths[i]!)).toBe(false)
      expect(leadsToRoot(leaves[i]!, (i + 1) % 11, 11, paths[i]!)).toBe(false)
      // (the count alone is not bound by the root: for leaf 0, 11 and 12 leaves have the same
      // path shape; batch signatures sign the count with the root)
      expect(leadsToRoot(leaves[i]!, i, 11, paths[i]!.slice(1))).toBe(false)
      expect(leadsToRoot(leaves[i]!, i, 11, [...paths[i]!, root])).toBe(false)
    }
    expect(rootFromProof(nodeSha256, leaves[0]!, -1, 11, paths[0]!)).toBeUndefined()
    expect(rootFromProof(nodeSha256, leaves[0]!, 11, 11, paths[0]!)).toBeUndefined()
    expect(rootFromProof(nodeSha256, leaves[0]!, 0.5, 11, paths[0]!)).toBeUndefined()
  })

  it("an inner node cannot pass for a leaf", () => {
    const leaves = leavesOf(4)
    const { root, paths } = merkleTree(nodeSha256, leaves)
    // the parent of leaves 0 and 1, presented as a leaf of a 2-leaf tree with leaf 2-3's parent
    const parent01 = nodeSha256([new Uint8Array([1]), leaves[0]!, leaves[1]!])
    const parent23 = paths[0]![1]!
    // a "leaf" whose leafHash would be parent01 cannot be found; using parent01 directly as the
    // leaf hash does reach the root, which is why verifiers hash the message themselves
    expect(hex(rootFromProof(nodeSha256, parent01, 0, 2, [parent23])!)).toBe(hex(root))
    expect(hex(leafHash(nodeSha256, parent01))).not.toBe(hex(parent01))
  })
})
