import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { BINARY_LAST, BINARY_PIECE, BINARY_WHOLE, fragment, FrameReader, frameLimits, fragmentBinary } from "../../src/internal/linkFrames.ts"

const limits = frameLimits({ maxFrameChars: 1024, maxMessageBytes: 100_000 })

const readAll = (reader: FrameReader, frames: ReadonlyArray<Uint8Array>) => frames.map((f) => reader.readBinary(f))

describe("linkFrames: binary frames", () => {
  it("cuts a binary message into frames of at most max bytes and reads it back whole", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), fc.integer({ min: 2, max: 3000 }), (message, max) => {
        const frames = fragmentBinary(message, max)
        for (const f of frames) expect(f.byteLength).toBeLessThanOrEqual(Math.max(2, max))
        const reader = new FrameReader(frameLimits({ maxFrameChars: 4096, maxMessageBytes: 10_000 }))
        const results = readAll(reader, frames)
        const last = results.at(-1)!
        expect(results.slice(0, -1).every((r) => r._tag === "Piece")).toBe(true)
        expect(last._tag).toBe("Messages")
        if (last._tag === "Messages") expect(Buffer.from(last.messages[0] as Uint8Array).equals(Buffer.from(message))).toBe(true)
        expect(reader.heldChars).toBe(0)
      })
    )
  })

  it("refuses what a hostile peer could send: unknown heads, empty, oversize frames and runs, and interleaving", () => {
    const error = (r: ReturnType<FrameReader["readBinary"]>) => expect(r._tag).toBe("ProtocolError")
    error(new FrameReader(limits).readBinary(new Uint8Array(0)))
    error(new FrameReader(limits).readBinary(Uint8Array.of(7, 1, 2)))
    error(new FrameReader(limits).readBinary(new Uint8Array(limits.maxFrameChars + 1)))
    // pieces beyond one message's bound
    const reader = new FrameReader(limits)
    const piece = new Uint8Array(60_000)
    piece[0] = BINARY_PIECE
    expect(reader.readBinary(piece)._tag).toBe("Piece")
    expect(reader.readBinary(piece)._tag).toBe("ProtocolError")
    expect(reader.heldChars).toBe(0)
    // a whole binary frame, or text, between binary pieces
    const r2 = new FrameReader(limits)
    expect(r2.readBinary(Uint8Array.of(BINARY_PIECE, 1))._tag).toBe("Piece")
    error(r2.readBinary(Uint8Array.of(BINARY_WHOLE, 1)))
    const r3 = new FrameReader(limits)
    expect(r3.readBinary(Uint8Array.of(BINARY_PIECE, 1))._tag).toBe("Piece")
    error(r3.read("#1:x"))
    // binary between text pieces
    const r4 = new FrameReader(limits)
    const [first] = fragment(`#2000:${"y".repeat(2000)}`, 1024)
    expect(r4.read(first!)._tag).toBe("Piece")
    error(r4.readBinary(Uint8Array.of(BINARY_LAST, 1)))
  })
})
