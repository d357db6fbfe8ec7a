import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { CHUNK_BYTES, decodeStreamMessage, encodeStreamMessage, ReceiveWindow, StreamDigest } from "../../src/internal/streamProtocol.ts"

describe("streamProtocol", () => {
  it("decodes what it encodes, and nothing malformed", () => {
    const sid = "abcdefgh12"
    const good = [
      { op: "open", sid, name: "f.txt", size: 10, type: "text/plain" },
      { op: "open", sid, name: "f", size: undefined, type: undefined },
      { op: "data", sid, seq: 3 },
      { op: "end", sid, chunks: 2, bytes: 20, digest: "x".repeat(43) },
      { op: "credit", sid, upto: 16, bytes: 0 },
      { op: "done", sid },
      { op: "abort", sid, reason: "why" }
    ] as const
    for (const m of good) expect(decodeStreamMessage(encodeStreamMessage(m))).toStrictEqual(m)
    const bad: Array<unknown> = [
      null, "open", [], { op: "open", sid }, { op: "open", sid: "short", name: "x" }, { op: "open", sid, name: "x".repeat(300) },
      { op: "open", sid, name: "x", size: -1 }, { op: "open", sid, name: "x", size: 1.5 }, { op: "data", sid, seq: -1 },
      { op: "data", sid }, { op: "end", sid, chunks: 1, bytes: 1, digest: "short" }, { op: "credit", sid, upto: "1", bytes: 0 },
      { op: "nope", sid }, { op: "data", sid: "bad id with spaces", seq: 1 }
    ]
    for (const m of bad) expect(decodeStreamMessage(m as never)).toBeUndefined()
    // an abort's reason is cut short, never refused
    expect(decodeStreamMessage({ op: "abort", sid, reason: "r".repeat(1000) })).toMatchObject({ reason: "r".repeat(256) })
  })

  it("property: any JSON content decodes to a message or to undefined, never throws", () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => {
      decodeStreamMessage(v as never)
    }))
    fc.assert(fc.property(fc.record({ op: fc.constantFrom("open", "data", "end", "credit", "done", "abort"), sid: fc.string(), seq: fc.anything() }), (v) => {
      decodeStreamMessage(v as never)
    }))
  })

  it("the receive window puts chunks back in order, holds at most a window, and refuses what is beyond its credit", () => {
    fc.assert(fc.property(fc.shuffledSubarray(Array.from({ length: 8 }, (_, i) => i), { minLength: 8 }), (order) => {
      const w = new ReceiveWindow(8)
      const out: Array<number> = []
      for (const seq of order) {
        const r = w.arrive(seq, Uint8Array.of(seq))
        expect(r._tag).toBe("Ready")
        if (r._tag === "Ready") out.push(...r.chunks.map((c) => c[0]!))
      }
      expect(out).toStrictEqual([0, 1, 2, 3, 4, 5, 6, 7])
      expect(w.arrive(3, Uint8Array.of(3))._tag).toBe("Duplicate")
      expect(w.arrive(8, Uint8Array.of(8))._tag).toBe("Violation")
    }))
    const w = new ReceiveWindow(16)
    expect(w.arrive(0, new Uint8Array(CHUNK_BYTES + 1))._tag).toBe("Violation")
    // credit moves in steps of half a window as the reader takes chunks
    for (let i = 0; i < 16; i++) w.arrive(i, Uint8Array.of(1))
    const credits = Array.from({ length: 16 }, () => w.take(1))
    expect(credits.filter((c) => c !== undefined)).toStrictEqual([24, 32])
    expect(w.granted).toBe(32)
  })

  it("the digest depends on every chunk and on their order", () => {
    const d = (chunks: ReadonlyArray<Uint8Array>) => {
      const digest = new StreamDigest()
      for (const c of chunks) digest.add(c)
      return digest.value
    }
    const a = Uint8Array.of(1, 2)
    const b = Uint8Array.of(3)
    expect(d([a, b])).toHaveLength(43)
    expect(d([a, b])).toBe(d([a, b]))
    expect(d([a, b])).not.toBe(d([b, a]))
    expect(d([a, b])).not.toBe(d([a]))
    expect(d([Uint8Array.of(1), Uint8Array.of(2, 3)])).not.toBe(d([Uint8Array.of(1, 2), Uint8Array.of(3)]))
  })
})
