import { Exit, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { decodePeerFrame, decodeSignedFast, PeerFrame } from "../../src/schema/PeerFrames.ts"
import { prng } from "../support/random.ts"

const decodeBySchema = (json: unknown) => {
  const exit = Schema.decodeUnknownExit(PeerFrame)(json)
  return Exit.isSuccess(exit) ? exit.value : undefined
}

const A = "0123456789abcdef0123456789abcdef01234567"
const B = "89ABCDEF0123456789abcdef0123456789ABCDEF"

const direct = {
  t: "direct",
  kind: "message",
  to: B,
  flood: false,
  attempt: 0,
  ack: true,
  id: "nonce-1",
  origin: A,
  key: "k".repeat(43),
  ts: 1_700_000_000_000,
  ttl: 32,
  hops: 0,
  content: { seq: 1, pad: "x".repeat(100), nested: [1, "two", null, true, { deep: [] }] },
  sig: "s".repeat(86)
}
const gossip = { ...direct, t: "gossip" } as Record<string, unknown>
delete gossip.to
delete gossip.flood
delete gossip.attempt
delete gossip.ack

/** Values a field may be given when mutating a frame. */
const oddities: ReadonlyArray<unknown> = [
  undefined,
  null,
  0,
  -1,
  1.5,
  2 ** 60,
  "__inf__",
  "-__inf__",
  NaN,
  "",
  "x",
  "y".repeat(64),
  "y".repeat(65),
  A,
  B,
  A.slice(1),
  A + "0",
  "g".repeat(40),
  true,
  false,
  [],
  [1, 2],
  {},
  { a: "__inf__" },
  [{ b: ["-__inf__"] }],
  "gossip",
  "direct",
  "hello"
]

describe("decodePeerFrame fast path", () => {
  it("decodes direct and gossip frames exactly as the schema does", () => {
    for (const frame of [direct, gossip]) {
      const fast = decodeSignedFast(JSON.parse(JSON.stringify(frame)))
      expect(fast).toBeDefined()
      expect(fast).toStrictEqual(decodeBySchema(JSON.parse(JSON.stringify(frame))))
      expect(Object.keys(fast!)).toStrictEqual(Object.keys(decodeBySchema(frame)!))
    }
  })

  it("never accepts what the schema rejects, and agrees with it on what it accepts (mutated frames)", () => {
    const random = prng(7)
    const fields = [...new Set([...Object.keys(direct), "extra", "__proto__"])]
    let accepted = 0
    for (let i = 0; i < 20_000; i++) {
      const frame: Record<string, unknown> = { ...(random() < 0.5 ? direct : gossip) }
      const changes = 1 + Math.floor(random() * 3)
      for (let c = 0; c < changes; c++) {
        const field = fields[Math.floor(random() * fields.length)]!
        const value = oddities[Math.floor(random() * oddities.length)]
        if (value === undefined) delete frame[field]
        else frame[field] = value
      }
      // through JSON, as on the wire ("__inf__" stands for 1e999, Infinity once parsed)
      const text = JSON.stringify(frame).replace(/"(-?)__inf__"/g, (_, sign: string) => `${sign}1e999`)
      const fast = decodeSignedFast(JSON.parse(text))
      const slow = decodeBySchema(JSON.parse(text))
      if (fast !== undefined) {
        accepted++
        expect(fast).toStrictEqual(slow)
      }
      expect(decodePeerFrame(text)).toStrictEqual(slow)
    }
    expect(accepted).toBeGreaterThan(1000)
  })

  it("rejects non-finite numbers in content, ts and counters as the schema does", () => {
    for (const text of [
      JSON.stringify(direct).replace('"seq":1', '"seq":1e999'),
      JSON.stringify(direct).replace('"ttl":32', '"ttl":1e999'),
      JSON.stringify(direct).replace('"hops":0', '"hops":-1e999')
    ]) {
      expect(decodeSignedFast(JSON.parse(text))).toBeUndefined()
      expect(decodePeerFrame(text)).toStrictEqual(decodeBySchema(JSON.parse(text)))
    }
    const ts = JSON.stringify(direct).replace('"ts":1700000000000', '"ts":1e999')
    expect(decodePeerFrame(ts)).toStrictEqual(decodeBySchema(JSON.parse(ts)))
  })

  it("treats an own __proto__ key in content as the schema does", () => {
    const text = JSON.stringify(direct).replace('"seq":1', '"__proto__":{"x":1e999},"seq":1')
    expect(decodePeerFrame(text)).toStrictEqual(decodeBySchema(JSON.parse(text)))
    const ok = JSON.stringify(direct).replace('"seq":1', '"__proto__":{"x":1},"seq":1')
    expect(decodeSignedFast(JSON.parse(ok))).toStrictEqual(decodeBySchema(JSON.parse(ok)))
  })

  it("leaves other frames to the schema", () => {
    const hello = { t: "hello", v: 1, peerId: A, publicKey: "k", nonce: "n", networkName: "x" }
    expect(decodeSignedFast(hello)).toBeUndefined()
    expect(decodePeerFrame(JSON.stringify(hello))).toStrictEqual(decodeBySchema(hello))
    expect(decodePeerFrame("not json")).toBeUndefined()
  })
})
