/**
 * The peer frame decoder against random and mutated input (fast-check): whatever arrives on a
 * link, decoding returns a frame or `undefined`, never throws, and what it returns can be
 * re-serialised and signed-over (nothing recursive chokes on it).
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { MAX_CONTENT_DEPTH } from "../../src/internal/jsonLimits.ts"
import { decodePeerFrame, signedBytes } from "../../src/schema/PeerFrames.ts"

const valid = {
  t: "direct",
  kind: "message",
  to: "a".repeat(40),
  flood: false,
  attempt: 1,
  ack: true,
  id: "abc",
  origin: "b".repeat(40),
  key: "k",
  ts: 1,
  ttl: 10,
  hops: 0,
  content: { text: "hi", list: [1, 2, { x: null }] },
  sig: "s"
}
const gossip = { ...valid, t: "gossip" }

/** A JSON value nested `depth` levels, alternating arrays and objects. */
const nested = (depth: number): unknown => {
  let v: unknown = 0
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? [v] : { a: v }
  return v
}

const mutate = fc.oneof(
  fc.record({ key: fc.constantFrom(...Object.keys(valid)), value: fc.jsonValue() }).map(({ key, value }) => ({ ...valid, [key]: value })),
  fc.record({ key: fc.constantFrom(...Object.keys(gossip)), value: fc.anything() }).map(({ key, value }) => ({ ...gossip, [key]: value })),
  fc.integer({ min: 0, max: 200 }).map((depth) => ({ ...valid, content: nested(depth) })),
  fc.integer({ min: 0, max: 200 }).map((depth) => ({ t: "ihave", ids: nested(depth) })),
  fc.dictionary(fc.string(), fc.jsonValue())
)

const decodeSafely = (text: string) => {
  const frame = decodePeerFrame(text)
  if (frame !== undefined && (frame.t === "gossip" || frame.t === "direct")) {
    // what a relay or receiver does next must not throw either
    expect(() => signedBytes(frame)).not.toThrow()
    expect(() => JSON.stringify(frame)).not.toThrow()
  }
  return frame
}

describe("peer frame decoder (property)", () => {
  it("never throws on random text", () => {
    fc.assert(fc.property(fc.string({ maxLength: 2000 }), (text) => {
      decodeSafely(text)
    }), { numRuns: 500 })
  })

  it("never throws on mutated frames, and refuses content deeper than the limit", () => {
    fc.assert(fc.property(mutate, (frame) => {
      const decoded = decodeSafely(JSON.stringify(frame))
      if (decoded !== undefined && (decoded.t === "gossip" || decoded.t === "direct")) {
        let depth = 0
        let v: unknown = decoded.content
        while (typeof v === "object" && v !== null) {
          depth++
          v = Array.isArray(v) ? v[0] : Object.values(v)[0]
        }
        expect(depth).toBeLessThanOrEqual(MAX_CONTENT_DEPTH)
      }
    }), { numRuns: 1000 })
  })

  it("never throws on truncated or spliced valid frames", () => {
    const text = JSON.stringify(valid)
    fc.assert(fc.property(fc.integer({ min: 0, max: text.length }), fc.string({ maxLength: 20 }), (cut, insert) => {
      decodeSafely(text.slice(0, cut) + insert + text.slice(cut))
    }), { numRuns: 1000 })
  })

  it("takes a valid frame and drops one nested 60,000 levels deep", () => {
    expect(decodePeerFrame(JSON.stringify(valid))?.t).toBe("direct")
    const deep = JSON.stringify(gossip).replace(`{"text":"hi"`, `{"deep":${"[".repeat(60_000)}${"]".repeat(60_000)},"text":"hi"`)
    expect(decodePeerFrame(deep)).toBeUndefined()
    expect(decodePeerFrame(JSON.stringify(valid).replace(`{"text":"hi"`, `{"deep":${"[".repeat(65)}${"]".repeat(65)},"text":"hi"`))).toBeUndefined()
  })
})
