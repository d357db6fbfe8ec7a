// Property tests: random and mutated client frames (random JSON, deep nesting, strings near
// the size limit, valid announce/offer frames with parts replaced or bytes flipped) never
// make the signaling server throw or stop answering. First against `decodeClientFrame`
// directly, then over a real socket to the running server, with an honest pair afterwards.
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { decodeClientFrame, isFrameProblem } from "../../src/schema/Signaling.ts"
import type { PeerPigeonServer } from "../../src/server/index.ts"
import { randomId, released, withServer } from "../support/server.ts"
import { type Frame, join, ofType, type TestClient } from "../support/wsClient.ts"

/** The server's default `maxMessageSize` (1 MiB): room for frames nested 400,000 levels deep. */
const MAX_MESSAGE_SIZE = 1024 * 1024
const ATTACKER = randomId()
const TARGET = randomId()

const types = ["announce", "offer", "answer", "ice-candidate", "goodbye", "ping", "cleanup", "peer-discovered", "teleport"]

const validFrames = [
  { type: "announce", data: { peerId: ATTACKER, name: "x" }, networkName: "fuzz" },
  { type: "announce", data: { peerId: ATTACKER, publicKey: "AAAA", signature: "BBBB" }, networkName: "fuzz" },
  { type: "offer", data: { type: "offer", sdp: "v=0\r\n" }, targetPeerId: TARGET, networkName: "fuzz" },
  { type: "ice-candidate", data: { candidate: "candidate:1", sdpMid: "0", sdpMLineIndex: 0 }, targetPeerId: TARGET },
  { type: "goodbye", data: { peerId: ATTACKER, timestamp: 1, reason: "bye" } }
]

/** Nesting `depth` levels of arrays or objects around a value, as text (no recursion). */
const nested = (depth: number, objects: boolean, inner: string): string =>
  objects ? `{"a":`.repeat(depth) + inner + "}".repeat(depth) : "[".repeat(depth) + inner + "]".repeat(depth)

const deepFrame = fc.record({
  // V8's JSON.parse takes any depth; recursive walks overflow the stack somewhere past 10^5
  // (arrays take 2 bytes a level, objects 6: both stay under the 1 MiB frame limit)
  depth: fc.oneof(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 100_000, max: 170_000 })),
  objects: fc.boolean(),
  type: fc.constantFrom(...types),
  at: fc.constantFrom("data", "data", "data", "networkName", "targetPeerId", "extra")
}).map(({ at, depth, objects, type }) => ({ at, type, objects, depth: objects || depth <= 200 ? depth : Math.floor(depth * 2.5) }))
  .map(({ at, depth, objects, type }) =>
  // inside data, under a key: where the schema's Json check walks it
  `{"type":${JSON.stringify(type)},"targetPeerId":"${TARGET}","${at}":${at === "data" ? `{"k":${nested(depth, objects, "1")}}` : nested(depth, objects, "1")}}`
)

/** `{"type":..,"data":"xxx"}` of about `maxMessageSize` bytes, some just over it. */
const nearLimit = fc.record({
  type: fc.constantFrom("ping", "announce", "offer"),
  slack: fc.integer({ min: -300, max: 20 })
}).map(({ slack, type }) => {
  const head = `{"type":"${type}","targetPeerId":"${TARGET}","data":{"blob":"`
  const tail = `"}}`
  return head + "x".repeat(Math.max(0, MAX_MESSAGE_SIZE + slack - head.length - tail.length)) + tail
})

const randomFrame = fc.record({
  type: fc.oneof(fc.constantFrom(...types), fc.string()),
  data: fc.jsonValue({ maxDepth: 4 }),
  targetPeerId: fc.oneof(fc.constant(TARGET), fc.constant(TARGET.toUpperCase()), fc.string()),
  networkName: fc.oneof(fc.constant("fuzz"), fc.string({ maxLength: 200 }), fc.jsonValue({ maxDepth: 1 })),
  fromPeerId: fc.string(),
  maxPeers: fc.jsonValue({ maxDepth: 1 })
}, { requiredKeys: ["type"] }).map((f) => JSON.stringify(f))

/** A valid frame with one key replaced, removed or added (including `__proto__`). */
const mutatedFrame = fc.record({
  base: fc.constantFrom(...validFrames),
  key: fc.constantFrom("type", "data", "targetPeerId", "networkName", "__proto__", "constructor", "peerId"),
  value: fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constant(undefined)),
  inData: fc.boolean()
}).map(({ base, inData, key, value }) => {
  const copy = JSON.parse(JSON.stringify(base)) as Record<string, unknown>
  const target = inData && typeof copy["data"] === "object" && copy["data"] !== null ? copy["data"] as Record<string, unknown> : copy
  if (value === undefined) delete target[key]
  else Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
  return JSON.stringify(copy)
})

/** A valid frame's text with a few characters replaced, cut short, or doubled. */
const flippedFrame = fc.record({
  base: fc.constantFrom(...validFrames).map((f) => JSON.stringify(f)),
  edits: fc.array(fc.record({ at: fc.nat(), ch: fc.string({ minLength: 0, maxLength: 2, unit: "binary" }) }), { minLength: 1, maxLength: 4 }),
  cut: fc.option(fc.nat())
}).map(({ base, cut, edits }) => {
  let text = base
  for (const { at, ch } of edits) {
    const i = at % (text.length + 1)
    text = text.slice(0, i) + ch + text.slice(i + 1)
  }
  return cut === null ? text : text.slice(0, cut % (text.length + 1))
})

const anyFrame = fc.oneof(
  { arbitrary: deepFrame, weight: 3 },
  fc.json({ maxDepth: 5 }),
  fc.string({ unit: "binary", maxLength: 300 }),
  nearLimit,
  randomFrame,
  mutatedFrame,
  flippedFrame
)

/** Two honest clients announce in a fresh network, discover each other and relay an offer. */
const honestPair = async (server: PeerPigeonServer) => {
  const [x, y] = [randomId(), randomId()]
  const networkName = `honest-${x.slice(0, 8)}`
  const a = await join(server.port, x)
  const b = await join(server.port, y)
  a.send({ type: "announce", data: { peerId: x }, networkName })
  b.send({ type: "announce", data: { peerId: y }, networkName })
  const discovered = (id: string) => (f: Frame) => f.type === "peer-discovered" && (f["data"] as { peerId: string }).peerId === id
  await a.next(discovered(y))
  await b.next(discovered(x))
  a.send({ type: "offer", data: { type: "offer", sdp: "v=0" }, targetPeerId: y })
  expect(await b.next(ofType("offer"))).toMatchObject({ fromPeerId: x, data: { sdp: "v=0" } })
  await Promise.all([a.close(), b.close()])
}

describe("hostile frames (property)", () => {
  it("decodeClientFrame never throws: a message or a problem for any text", () => {
    fc.assert(
      fc.property(anyFrame, (text) => {
        const decoded = decodeClientFrame(text)
        if (isFrameProblem(decoded)) expect(["invalid-json", "invalid-frame", "unknown-type"]).toContain(decoded.code)
        else expect(types).toContain(decoded.type)
      }),
      { numRuns: 500 }
    )
    // the depth limit: nesting past MAX_FRAME_DEPTH is refused before the schema walks it
    expect(decodeClientFrame(`{"type":"ping","data":${nested(100_000, false, "1")}}`)).toMatchObject({ code: "invalid-frame" })
  })

  it("the running server answers every frame, never fails internally, and keeps serving honest clients", () =>
    withServer({
      announceTimeout: 600_000,
      rateLimit: { perSecond: 1_000_000, burst: 1_000_000 },
      announceRateLimit: { perSecond: 1_000_000, burst: 1_000_000 }
    }, async (server) => {
      const errors: Array<Error> = []
      server.on("error", (e) => errors.push(e))
      const target = await join(server.port, TARGET)
      target.send({ type: "announce", data: {}, networkName: "fuzz" })
      let attacker: TestClient = await join(server.port, ATTACKER)
      let answered = 0
      await fc.assert(
        fc.asyncProperty(anyFrame, async (text) => {
          attacker.send(text)
          attacker.send({ type: "ping" })
          const pong = attacker.next(ofType("pong"))
          pong.catch(() => undefined) // left waiting when the socket closes instead
          const outcome = await Promise.race([pong, attacker.closed])
          if ("type" in outcome) answered++
          else {
            // only an oversized frame (1009) may end the attacker's connection
            expect(outcome.code).toBe(1009)
            expect(Buffer.byteLength(text)).toBeGreaterThan(MAX_MESSAGE_SIZE)
            await released(server, ATTACKER)
            attacker = await join(server.port, ATTACKER)
          }
          attacker.received.length = 0
        }),
        { numRuns: 200 }
      )
      expect(errors).toEqual([])
      const stats = server.getStats()
      expect(answered).toBeGreaterThan(150)
      expect(stats.messagesReceived).toBeGreaterThanOrEqual(2 * answered)
      expect(stats.errorsSent).toBeGreaterThan(0)
      // the attacked target is still served
      target.send({ type: "ping" })
      await target.next(ofType("pong"))
      await honestPair(server)
      await Promise.all([attacker.close(), target.close()])
    }))
})
