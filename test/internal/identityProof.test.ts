import { prng } from "../support/random.ts"
import { createHash } from "node:crypto"
import { describe, expect, it } from "vitest"
import {
  announceChallenge,
  fromBase64Url,
  makeNonce,
  peerIdFromPublicKey,
  toBase64Url,
  verifyAnnounceProof
} from "../../src/internal/identityProof.ts"

type KeyPair = import("node:crypto").webcrypto.CryptoKeyPair

const randomBytes = (random: () => number, n: number) =>
  Uint8Array.from({ length: n }, () => Math.floor(random() * 256))

const generate = async (): Promise<KeyPair> =>
  (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as unknown as KeyPair

const rawPublicKey = async (pair: KeyPair) => new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey))

/** A complete, valid proof for `pair` in `networkName` with `nonce`. */
const makeProof = async (pair: KeyPair, networkName: string, nonce: string) => {
  const raw = await rawPublicKey(pair)
  const peerId = await peerIdFromPublicKey(raw)
  const signature = new Uint8Array(
    await crypto.subtle.sign({ name: "Ed25519" }, pair.privateKey, announceChallenge(networkName, peerId, nonce))
  )
  return { peerId, networkName, nonce, publicKey: toBase64Url(raw), signature: toBase64Url(signature) }
}

describe("base64url", () => {
  it("round trips every length 0..70 and matches Node's base64url", () => {
    const random = prng(21)
    for (let n = 0; n <= 70; n++) {
      for (let round = 0; round < 5; round++) {
        const bytes = randomBytes(random, n)
        const text = toBase64Url(bytes)
        expect(text).toBe(Buffer.from(bytes).toString("base64url"))
        expect(text).toMatch(/^[A-Za-z0-9_-]*$/)
        expect(text.length).toBe(Math.ceil((n * 4) / 3))
        const back = fromBase64Url(text)
        expect(back).toBeInstanceOf(Uint8Array)
        expect(Array.from(back!)).toEqual(Array.from(bytes))
      }
    }
  })

  it("encodes the bytes that use - and _ (not + and /)", () => {
    expect(toBase64Url(new Uint8Array([0xfb, 0xff, 0xbf]))).toBe("-_-_")
    expect(Array.from(fromBase64Url("-_-_")!)).toEqual([0xfb, 0xff, 0xbf])
  })

  it("known vectors (RFC 4648)", () => {
    const enc = (s: string) => toBase64Url(new TextEncoder().encode(s))
    expect(enc("")).toBe("")
    expect(enc("f")).toBe("Zg")
    expect(enc("fo")).toBe("Zm8")
    expect(enc("foo")).toBe("Zm9v")
    expect(enc("foob")).toBe("Zm9vYg")
    expect(enc("fooba")).toBe("Zm9vYmE")
    expect(enc("foobar")).toBe("Zm9vYmFy")
  })

  it("tolerates trailing padding", () => {
    expect(new TextDecoder().decode(fromBase64Url("Zg=="))).toBe("f")
    expect(new TextDecoder().decode(fromBase64Url("Zm8="))).toBe("fo")
  })

  it.each([
    ["standard-alphabet +", "ab+c"],
    ["standard-alphabet /", "ab/c"],
    ["a space", "ab c"],
    ["a newline", "abcd\n"],
    ["a dot", "ab.c"],
    ["a non-ASCII letter", "abcé"],
    ["padding in the middle", "Zg==Zg"],
    ["padding only in the middle", "Z=g"]
  ])("rejects %s", (_, text) => {
    expect(fromBase64Url(text)).toBeUndefined()
  })

  it("rejects impossible lengths (4n + 1 characters)", () => {
    for (const n of [1, 5, 9, 13, 45]) expect(fromBase64Url("A".repeat(n))).toBeUndefined()
    for (const n of [0, 2, 3, 4, 6, 7, 8]) expect(fromBase64Url("A".repeat(n))).toBeDefined()
  })

  it("rejects oversized input", () => {
    expect(fromBase64Url("A".repeat(4100))).toBeUndefined()
  })

  it("makeNonce: 16 random bytes, base64url", () => {
    const a = makeNonce()
    const b = makeNonce()
    expect(a).not.toBe(b)
    expect(a).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(fromBase64Url(a)!.length).toBe(16)
  })
})

describe("peerIdFromPublicKey", () => {
  it("is the lowercase hex of the first 20 bytes of SHA-256", async () => {
    const random = prng(22)
    for (let i = 0; i < 20; i++) {
      const raw = randomBytes(random, 32)
      const expected = createHash("sha256").update(raw).digest("hex").slice(0, 40)
      expect(await peerIdFromPublicKey(raw)).toBe(expected)
    }
  })

  it("known vector: 32 zero bytes", async () => {
    // sha256(32 x 0x00) = 66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925
    expect(await peerIdFromPublicKey(new Uint8Array(32))).toBe("66687aadf862bd776c8fc18b8e9f8e2008971485")
  })
})

describe("announceChallenge", () => {
  it("is the UTF-8 of the documented string", () => {
    const bytes = announceChallenge("room ☃", "ab".repeat(20), "n0nce")
    expect(new TextDecoder().decode(bytes)).toBe(`peerpigeon-announce:v1:room ☃:${"ab".repeat(20)}:n0nce`)
    expect(bytes.length).toBe(Buffer.byteLength(`peerpigeon-announce:v1:room ☃:${"ab".repeat(20)}:n0nce`))
  })
})

describe("verifyAnnounceProof", () => {
  it("accepts a valid proof", async () => {
    const pair = await generate()
    const proof = await makeProof(pair, "global", makeNonce())
    expect(proof.peerId).toMatch(/^[0-9a-f]{40}$/)
    expect(await verifyAnnounceProof(proof)).toBeUndefined()
  })

  it("accepts a valid proof with padded base64", async () => {
    const pair = await generate()
    const proof = await makeProof(pair, "room", "nonce")
    expect(await verifyAnnounceProof({ ...proof, publicKey: proof.publicKey + "=", signature: proof.signature + "==" })).toBeUndefined()
  })

  it("bad-signature for another nonce or another network (replay)", async () => {
    const pair = await generate()
    const proof = await makeProof(pair, "global", "nonce-1")
    expect(await verifyAnnounceProof({ ...proof, nonce: "nonce-2" })).toBe("bad-signature")
    expect(await verifyAnnounceProof({ ...proof, networkName: "other" })).toBe("bad-signature")
  })

  it("bad-signature for a flipped signature bit", async () => {
    const pair = await generate()
    const proof = await makeProof(pair, "global", "n")
    const sig = fromBase64Url(proof.signature)!
    sig[10] = sig[10]! ^ 1
    expect(await verifyAnnounceProof({ ...proof, signature: toBase64Url(sig) })).toBe("bad-signature")
  })

  it("id-mismatch when the key belongs to another id", async () => {
    const [alice, mallory] = await Promise.all([generate(), generate()])
    const a = await makeProof(alice, "global", "n")
    const m = await makeProof(mallory, "global", "n")
    // mallory signs, but claims alice's id
    expect(await verifyAnnounceProof({ ...m, peerId: a.peerId })).toBe("id-mismatch")
    // alice's key with mallory's signature and id
    expect(await verifyAnnounceProof({ ...m, publicKey: a.publicKey })).toBe("id-mismatch")
  })

  it("bad-signature when the signature was made by another key for the right id", async () => {
    const [alice, mallory] = await Promise.all([generate(), generate()])
    const a = await makeProof(alice, "global", "n")
    const m = await makeProof(mallory, "global", "n")
    expect(await verifyAnnounceProof({ ...a, signature: m.signature })).toBe("bad-signature")
  })

  it.each([
    ["a garbage public key", { publicKey: "!!!not base64!!!" }],
    ["a garbage signature", { signature: "@@@" }],
    ["an impossible-length key", { publicKey: "A" }],
    ["a 31-byte key", { publicKey: toBase64Url(new Uint8Array(31)) }],
    ["a 33-byte key", { publicKey: toBase64Url(new Uint8Array(33)) }],
    ["a 63-byte signature", { signature: toBase64Url(new Uint8Array(63)) }],
    ["a 65-byte signature", { signature: toBase64Url(new Uint8Array(65)) }],
    ["an empty key", { publicKey: "" }],
    ["an empty signature", { signature: "" }]
  ])("bad-encoding for %s", async (_, change) => {
    const pair = await generate()
    const proof = await makeProof(pair, "global", "n")
    expect(await verifyAnnounceProof({ ...proof, ...change })).toBe("bad-encoding")
  })

  it("never rejects, whatever the input", async () => {
    const random = prng(23)
    for (let i = 0; i < 30; i++) {
      const raw = randomBytes(random, 32)
      const peerId = await peerIdFromPublicKey(raw)
      const result = await verifyAnnounceProof({
        peerId,
        networkName: "global",
        nonce: "n",
        publicKey: toBase64Url(raw),
        signature: toBase64Url(randomBytes(random, 64))
      })
      // a random 32-byte string may or may not be a valid point; either way it is a reason, not a throw
      expect(["bad-key", "bad-signature"]).toContain(result)
    }
  })
})
