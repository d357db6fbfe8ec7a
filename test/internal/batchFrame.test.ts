import { describe, expect, it } from "vitest"
import { canEncode, decodeBatch, encodeBatch, encodedLength } from "../../src/internal/batchFrame.ts"
import { prng } from "../support/random.ts"

const pieces = ["", "a", "0", "12:", ":", "#", "{\"t\":\"direct\"}", "é", "😀", "\"\\", "9".repeat(12), "x".repeat(1024)]

describe("batch frames", () => {
  it("round-trip any well-formed messages, in order, at the length encodedLength counts", () => {
    const random = prng(9)
    for (let i = 0; i < 2000; i++) {
      const n = 1 + Math.floor(random() * 12)
      const messages = Array.from({ length: n }, () => {
        let m = ""
        const parts = Math.floor(random() * 4)
        for (let j = 0; j < parts; j++) m += pieces[Math.floor(random() * pieces.length)]
        return m
      })
      const frame = encodeBatch(messages)
      expect(frame.length).toBe(1 + messages.reduce((sum, m) => sum + encodedLength(m), 0))
      expect(decodeBatch(frame)).toStrictEqual(messages)
    }
  })

  it("rejects what is not a batch frame", () => {
    for (const frame of ["", "#", "x1:a", "#1a", "#:a", "#2:a", "#1:a2", "#1:a:", "#-1:a", "#1 :a", "#1234567890:a", "{\"b\":[]}"]) {
      expect(decodeBatch(frame)).toBeUndefined()
    }
    expect(decodeBatch("#0:")).toStrictEqual([""])
    expect(decodeBatch("#01:a")).toStrictEqual(["a"])
  })

  it("canEncode refuses lone surrogates only", () => {
    expect(canEncode("plain")).toBe(true)
    expect(canEncode("😀é")).toBe(true)
    expect(canEncode("a\ud800")).toBe(false)
    expect(canEncode("\udc00a")).toBe(false)
    expect(canEncode("\ud83d\ude00\ud83d")).toBe(false)
  })
})
