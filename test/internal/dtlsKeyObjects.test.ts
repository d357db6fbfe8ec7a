import { createCipheriv, createSecretKey, KeyObject, randomBytes } from "node:crypto"
import { describe, expect, it } from "vitest"
import { useKeyObjects } from "../../src/internal/dtlsKeyObjects.ts"

/** The shape werift 0.25 gives a connected RTCPeerConnection. */
const fakeConnection = () => {
  const cipher = { clientWriteKey: randomBytes(16), serverWriteKey: randomBytes(16), clientNonce: randomBytes(12) }
  return { cipher, pc: { dtlsTransports: [{ dtls: { cipher: { cipher } } }, { dtls: {} }] } }
}

describe("useKeyObjects", () => {
  it("swaps werift's byte-array write keys for KeyObjects with the same key", () => {
    const { cipher, pc } = fakeConnection()
    const client = Buffer.from(cipher.clientWriteKey)
    expect(useKeyObjects(pc, createSecretKey)).toBe(2)
    expect(cipher.clientWriteKey).toBeInstanceOf(KeyObject)
    expect(cipher.serverWriteKey).toBeInstanceOf(KeyObject)
    const iv = randomBytes(12)
    const seal = (key: Buffer | KeyObject) => {
      const c = createCipheriv("aes-128-gcm", key, iv)
      return Buffer.concat([c.update("record"), c.final(), c.getAuthTag()]).toString("hex")
    }
    expect(seal(cipher.clientWriteKey as unknown as KeyObject)).toBe(seal(client))
    // already swapped: nothing more to do
    expect(useKeyObjects(pc, createSecretKey)).toBe(0)
  })

  it("leaves anything of another shape alone and never throws", () => {
    for (const pc of [undefined, null, {}, { dtlsTransports: 5 }, { dtlsTransports: [null, {}, { dtls: { cipher: null } }] }]) {
      expect(useKeyObjects(pc, createSecretKey)).toBe(0)
    }
    const throwing = { get dtlsTransports(): never { throw new Error("closed") } }
    expect(useKeyObjects(throwing, createSecretKey)).toBe(0)
    const { cipher, pc } = fakeConnection()
    expect(useKeyObjects(pc, () => { throw new Error("no") })).toBe(0)
    expect(Buffer.isBuffer(cipher.clientWriteKey)).toBe(true)
  })
})
