import { randomBytes } from "node:crypto"
import { describe, expect, it } from "vitest"
import { type CryptoBackend, makeWebCrypto } from "../../src/internal/cryptoBackend.ts"
import { detectNode, makeNodeCrypto } from "../../src/internal/nodeCrypto.ts"
import { fromBase64Url, peerIdFromPublicKey, toBase64Url } from "../../src/internal/identityProof.ts"
import { prng } from "../support/random.ts"

const node = makeNodeCrypto(detectNode()!)
const web = makeWebCrypto()
const backends: ReadonlyArray<readonly [string, CryptoBackend]> = [["node", node], ["webcrypto", web]]
const bytes = (s: string) => new TextEncoder().encode(s)

const keyPair = async () => {
  type Key = Awaited<ReturnType<typeof crypto.subtle.importKey>>
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]) as unknown as {
    readonly publicKey: Key
    readonly privateKey: Key
  }
  const publicKey = toBase64Url(new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey)))
  return { privateKey: pair.privateKey, publicKey }
}

describe("cryptoBackend", () => {
  it("finds node:crypto on Node", () => {
    expect(detectNode()).toBeDefined()
    expect(node.backend).toBe("node")
  })

  it("signatures made by either backend verify on both; anything else does not", async () => {
    const { privateKey, publicKey } = await keyPair()
    const other = await keyPair()
    const message = bytes("peerpigeon-msg:v1:direct:message:id:origin:to:1:{}")
    for (const [, signer] of backends) {
      const sig = await signer.signer(privateKey)(message)
      expect(sig).toMatch(/^[A-Za-z0-9_-]{86}$/)
      for (const [, verifier] of backends) {
        expect(await verifier.verify(publicKey, sig, message)).toBe(true)
        // checked twice (the node backend answers the second from its cache of good signatures)
        expect(await verifier.verify(publicKey, sig, message)).toBe(true)
        expect(await verifier.verify(publicKey, sig, bytes("something else"))).toBe(false)
        expect(await verifier.verify(other.publicKey, sig, message)).toBe(false)
        expect(await verifier.verify(publicKey, sig.slice(0, -2) + (sig.endsWith("AA") ? "BA" : "AA"), message)).toBe(false)
        expect(await verifier.verify(publicKey, sig.slice(1), message)).toBe(false)
        expect(await verifier.verify(publicKey, sig + "A", message)).toBe(false)
        expect(await verifier.verify(publicKey, "!".repeat(86), message)).toBe(false)
        expect(await verifier.verify("not a key", sig, message)).toBe(false)
        expect(await verifier.verify(publicKey.slice(2), sig, message)).toBe(false)
      }
    }
  })

  it("derives the same peer ids as the signaling proof", async () => {
    const { publicKey } = await keyPair()
    const expected = await peerIdFromPublicKey(fromBase64Url(publicKey)!)
    for (const [, backend] of backends) {
      expect(await backend.peerIdOf(publicKey)).toBe(expected)
      expect(await backend.peerIdOf(publicKey)).toBe(expected) // cached
      expect(await backend.peerIdOf("short")).toBeUndefined()
    }
  })

  it("hashes alike", () => {
    for (let i = 0; i < 50; i++) {
      const parts = [randomBytes(i), randomBytes(3 * i + 1)]
      expect(Buffer.from(node.sha256(parts)).toString("hex")).toBe(Buffer.from(web.sha256(parts)).toString("hex"))
    }
  })

  it("encodes and decodes base64url exactly as identityProof does", () => {
    const random = prng(5)
    for (let i = 0; i < 300; i++) {
      const b = randomBytes(Math.floor(random() * 70))
      for (const [, backend] of backends) expect(backend.toBase64Url(b)).toBe(toBase64Url(b))
    }
    const alphabet = "ABCXYZabcxyz0189-_=+/ .\n"
    for (let i = 0; i < 3000; i++) {
      let text = ""
      const length = Math.floor(random() * 12)
      for (let j = 0; j < length; j++) text += alphabet[Math.floor(random() * (random() < 0.9 ? 18 : alphabet.length))]
      const expected = fromBase64Url(text)
      for (const [, backend] of backends) expect(backend.fromBase64Url(text)).toStrictEqual(expected)
    }
    expect(node.fromBase64Url("A".repeat(4097))).toBeUndefined()
  })

  it("makes distinct 16-byte nonces", () => {
    for (const [, backend] of backends) {
      const seen = new Set<string>()
      for (let i = 0; i < 2000; i++) {
        const n = backend.nonce()
        expect(n).toMatch(/^[A-Za-z0-9_-]{22}$/)
        expect(fromBase64Url(n)!.length).toBe(16)
        seen.add(n)
      }
      expect(seen.size).toBe(2000)
    }
  })
})
