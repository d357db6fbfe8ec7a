import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { encodeBatch } from "../../src/internal/batchFrame.ts"
import {
  costsCredit,
  decodeFrame,
  FrameReader,
  frameLimits,
  fragment,
  type Inbound,
  MIN_FRAME_LIMIT,
  readControl
} from "../../src/internal/linkFrames.ts"
import { ReceiveLedger, receiveLimits, SendWindow } from "../../src/internal/pacer.ts"

const limits = frameLimits({ maxFrameChars: 1024, maxMessageBytes: 4096 })
const messagesOf = (results: ReadonlyArray<Inbound>) =>
  results.flatMap((r) => (r._tag === "Messages" ? r.messages : []))

/** Frames as the sender puts them on the wire (batches cut into pieces of at most `max`). */
const wire = (frames: ReadonlyArray<string>, max: number) => frames.flatMap((f) => fragment(f, max))

describe("linkFrames: limits", () => {
  it("accepts raw frames of at least 64 KiB, and one message of maxMessageBytes reassembled", () => {
    expect(limits.maxFrameChars).toBe(MIN_FRAME_LIMIT)
    expect(limits.maxReassembledChars).toBeGreaterThanOrEqual(4096 + 10)
    expect(frameLimits({ maxFrameChars: 100_000, maxMessageBytes: 10 }).maxFrameChars).toBe(100_000)
  })
})

describe("linkFrames: FrameReader", () => {
  it("joins pieces into the batch they were cut from, and reads control frames", () => {
    const reader = new FrameReader(limits)
    const big = "é😀".repeat(1300) // 3900 characters, a surrogate pair at every other cut
    const frames = [encodeBatch(["a", "b"]), encodeBatch([big]), `{"b":["lone \\ud800"]}`]
    const results = wire(frames, 500).map((raw) => reader.read(raw))
    expect(messagesOf(results)).toStrictEqual(["a", "b", big, "lone \ud800"])
    expect(results.filter((r) => r._tag === "Piece").length).toBeGreaterThan(5)
    expect(reader.heldChars).toBe(0)
    expect(reader.read(`{"a":3}`)).toStrictEqual({ _tag: "Ack", n: 3 })
    expect(reader.read(`{"k":1}`)).toStrictEqual({ _tag: "Keepalive" })
    expect(reader.read(`{"c":"bye"}`)).toStrictEqual({ _tag: "Close", reason: "bye" })
  })

  it("stops a run of pieces longer than one message (plus framing), and holds no more than that", () => {
    const reader = new FrameReader(limits)
    const piece = "+" + "x".repeat(1000)
    let result: Inbound = { _tag: "Piece" }
    let n = 0
    while (result._tag === "Piece" && n < 1000) {
      result = reader.read(piece)
      n++
      expect(reader.heldChars).toBeLessThanOrEqual(limits.maxReassembledChars)
    }
    expect(result._tag).toBe("ProtocolError")
    expect(n).toBe(Math.floor(limits.maxReassembledChars / 1000) + 1)
    expect(reader.heldChars).toBe(0)
  })

  it("refuses frames over the raw limit, batches between pieces, unpaid batches and pieces of non-batches", () => {
    const error = (raw: ReadonlyArray<string>) => {
      const reader = new FrameReader(limits)
      return raw.map((r) => reader.read(r)).at(-1)?._tag
    }
    expect(error(["#" + "1:a".repeat(30_000)])).toBe("ProtocolError")
    expect(error(["+abc", "#1:a"])).toBe("ProtocolError")
    expect(error([`{"a":1,"b":["x"]}`])).toBe("ProtocolError")
    expect(error(["+{\"a\"", "$:1}"])).toBe("ProtocolError")
    expect(error(["#"])).toBe("ProtocolError")
    expect(error(["nonsense"])).toBe("ProtocolError")
    // a close may cut pieces short; the reader forgets them
    const reader = new FrameReader(limits)
    reader.read("+abc")
    expect(reader.read(`{"c":"x"}`)._tag).toBe("Close")
    expect(reader.heldChars).toBe(0)
  })

  it("property: random and mutated frames never throw, and what the reader holds stays bounded", () => {
    const valid = fc.array(fc.string({ maxLength: 300, unit: "grapheme" }), { minLength: 1, maxLength: 8 }).map((ms) =>
      encodeBatch(ms)
    )
    const mutated = fc.tuple(valid, fc.nat(), fc.nat(), fc.string({ maxLength: 5 })).map(([frame, at, cut, insert]) => {
      const i = at % (frame.length + 1)
      return frame.slice(0, i) + insert + frame.slice(Math.min(frame.length, i + (cut % 4)))
    })
    const truncated = fc.tuple(valid, fc.nat()).map(([frame, n]) => frame.slice(0, n % frame.length))
    const badLength = fc.tuple(fc.nat(), fc.string({ maxLength: 20 })).map(([n, m]) => `#${n}:${m}`)
    const pieceFlood = fc.tuple(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 3000 })).map(([n, size]) =>
      Array.from({ length: n }, () => "+" + "p".repeat(size)).join("\u0000")
    )
    const deep = fc.integer({ min: 60, max: 5000 }).map((d) => `{"b":${"[".repeat(d)}${"]".repeat(d)}}`)
    const deepAck = fc.integer({ min: 60, max: 5000 }).map((d) => `{"a":1,"z":${"[".repeat(d)}${"]".repeat(d)}}`)
    const json = fc.json({ maxDepth: 4 })
    const raw = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.string({ maxLength: 200 }).map((s) => "+" + s),
      fc.string({ maxLength: 200 }).map((s) => "$" + s),
      valid,
      mutated,
      truncated,
      badLength,
      deep,
      deepAck,
      json
    )
    // a piece flood is several frames; split it back
    const frames = fc.array(fc.oneof(raw, pieceFlood), { maxLength: 40 }).map((xs) => xs.flatMap((x) => x.split("\u0000")))
    fc.assert(
      fc.property(frames, (stream) => {
        const reader = new FrameReader(limits)
        for (const f of stream) {
          const result = costsCredit(f) ? reader.read(f) : readControl(f, limits)
          expect(["Messages", "Piece", "Ack", "Close", "Keepalive", "ProtocolError"]).toContain(result._tag)
          expect(reader.heldChars).toBeLessThanOrEqual(limits.maxReassembledChars)
          if (result._tag === "Messages") {
            expect(result.messages.every((m) => typeof m === "string")).toBe(true)
          }
          expect(() => decodeFrame(f)).not.toThrow()
        }
      }),
      { numRuns: 400 }
    )
  })

  it("decodeFrame refuses JSON nested past the frame depth limit", () => {
    expect(decodeFrame(`{"a":1,"z":${"[".repeat(10_000)}${"]".repeat(10_000)}}`)).toBeUndefined()
    expect(decodeFrame(`{"a":1,"z":[[1]]}`)).toStrictEqual({ a: 1 })
  })

  it("fragment keeps surrogate pairs whole and never makes a piece longer than max", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 400 }), fc.integer({ min: 3, max: 50 }), (s, max) => {
        const pieces = fragment("#" + s, max)
        expect(pieces.every((p) => p.length <= max)).toBe(true)
        if (pieces.length > 1) {
          expect(pieces.map((p) => p.slice(1)).join("")).toBe("#" + s)
          expect(pieces.every((p) => p.isWellFormed())).toBe(true)
        }
      })
    )
  })
})

describe("pacer", () => {
  it("SendWindow: frames and characters in flight; one frame may always go", () => {
    const w = new SendWindow({ frames: 3, chars: 100 })
    expect(w.tryAcquire(500)).toBe(true)
    expect(w.tryAcquire(1)).toBe(false)
    expect(w.release(1)).toBe(1)
    expect(w.tryAcquire(40)).toBe(true)
    expect(w.tryAcquire(40)).toBe(true)
    expect(w.tryAcquire(40)).toBe(false) // 120 characters
    expect(w.tryAcquire(20)).toBe(true)
    expect(w.tryAcquire(1)).toBe(false) // 3 frames
    expect(w.release(99)).toBe(3)
    expect(w.release(-1)).toBe(0)
    expect(w.inFlightChars).toBe(0)
  })

  it("ReceiveLedger: credit only for processed frames; past the window is a violation", () => {
    const ledger = new ReceiveLedger(receiveLimits({ window: 2, windowChars: 10 }, 100))
    expect(ledger.limits).toStrictEqual({ frames: 20, chars: 120 })
    for (let i = 0; i < 5; i++) expect(ledger.arrive(1)).toBe(true)
    expect(ledger.takeOwed()).toBe(0)
    ledger.processed()
    ledger.processed()
    expect(ledger.takeOwed()).toBe(2)
    expect(ledger.unacknowledged).toBe(3)
    for (let i = 0; i < 6; i++) ledger.processed() // more than arrived: owes only what arrived
    expect(ledger.takeOwed()).toBe(3)
    for (let i = 0; i < 20; i++) expect(ledger.arrive(1)).toBe(true)
    expect(ledger.arrive(1)).toBe(false)
    const chars = new ReceiveLedger({ frames: 100, chars: 50 })
    expect(chars.arrive(50)).toBe(true)
    expect(chars.arrive(1)).toBe(false)
  })
})
