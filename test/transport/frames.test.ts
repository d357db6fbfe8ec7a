import { layer } from "@effect/vitest"
import { Effect, Exit, Layer, Queue, Schema, Scope } from "effect"
import { describe, expect, it } from "vitest"
import { layerWerift } from "../../src/layers/RtcPeerConnection.ts"
import * as WebRtcTransport from "../../src/layers/WebRtcTransport.ts"
import { decodeFrame, Frame } from "../../src/layers/WebRtcTransport.ts"
import { layerKeyObjects } from "../../src/platform/node.ts"
import { makePeerId } from "../../src/schema/PeerId.ts"
import { type Link, type LinkMessage, PeerTransport, type Signal, type SignalChannel } from "../../src/services/PeerTransport.ts"
import { prng } from "../support/random.ts"

const bySchema = (text: string) => {
  const exit = Schema.decodeUnknownExit(Schema.fromJsonString(Frame))(text)
  return Exit.isSuccess(exit) ? exit.value : undefined
}

const values: ReadonlyArray<unknown> = [
  undefined, null, 0, 1, -3, 1.5, 2 ** 60, "x", "", true, [], ["m"], ["a", "b"], ["a", 1], [null], {}, { b: [] }
]

describe("WebRtcTransport decodeFrame", () => {
  it("decodes as Schema.fromJsonString(Frame) does", () => {
    const random = prng(11)
    const keys = ["a", "b", "c", "k", "z"]
    for (let i = 0; i < 5000; i++) {
      const o: Record<string, unknown> = {}
      const n = Math.floor(random() * 4)
      for (let j = 0; j < n; j++) {
        const key = keys[Math.floor(random() * keys.length)]!
        const value = values[Math.floor(random() * values.length)]
        if (value !== undefined) o[key] = value
      }
      const text = JSON.stringify(o)
      expect(decodeFrame(text)).toStrictEqual(bySchema(text))
    }
    for (const text of ["", "x", "[]", "null", "1", '"s"', '{"b":["m"]', '{"a":1e999}', '[{"b":[]}]']) {
      expect(decodeFrame(text)).toStrictEqual(bySchema(text))
    }
  })
})

// ---- over a real werift link: both batch encodings arrive intact, in order

const A = makePeerId("a".repeat(40))
const B = makePeerId("b".repeat(40))

const pair = Effect.gen(function*() {
  const transport = yield* PeerTransport
  const toB = yield* Queue.unbounded<Signal>()
  const toA = yield* Queue.unbounded<Signal>()
  const channel = (out: Queue.Queue<Signal>, incoming: Queue.Queue<Signal>): SignalChannel => ({
    send: (signal) => Queue.offer(out, signal).pipe(Effect.asVoid),
    incoming
  })
  const scope = yield* Scope.make()
  yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
  const [linkA, linkB] = yield* Effect.all([
    transport.open(B, { initiator: true, signals: channel(toB, toA), timeoutMs: 10_000 }).pipe(Scope.provide(scope)),
    transport.open(A, { initiator: false, signals: channel(toA, toB), timeoutMs: 10_000 }).pipe(Scope.provide(scope))
  ], { concurrency: 2 })
  return { linkA, linkB }
})

const takeN = (link: Link, n: number) =>
  Effect.gen(function*() {
    const out: Array<LinkMessage> = []
    while (out.length < n) out.push(...(yield* Queue.takeBetween(link.messages, 1, n - out.length)))
    return out
  })

layer(WebRtcTransport.layer().pipe(Layer.provide(layerKeyObjects), Layer.provide(layerWerift())), { excludeTestServices: true })(
  "WebRtcTransport frames (werift, loopback, DTLS keys as KeyObjects)",
  (it) => {
    it.effect("delivers length-prefixed batches, JSON batches (lone surrogates) and pieces, in order", () =>
      Effect.gen(function*() {
        const { linkA, linkB } = yield* pair
        const sent = Array.from({ length: 600 }, (_, i) =>
          i % 97 === 5 ? `lone \ud800 surrogate ${i}` : i % 151 === 7 ? `big ${i} ${"z".repeat(70_000)}` : `#${i}:{"m":${i}}`)
        for (const m of sent) yield* linkA.send(m)
        const got = yield* takeN(linkB, sent.length).pipe(Effect.timeout("20 seconds"))
        expect(got).toStrictEqual(sent)
        // and back
        yield* linkB.send("pong")
        expect(yield* takeN(linkA, 1)).toStrictEqual(["pong"])
      }).pipe(Effect.scoped), 30_000)

    it.effect("delivers binary messages as sent (whole and in pieces), interleaved with text, in order", () =>
      Effect.gen(function*() {
        const { linkA, linkB } = yield* pair
        const random = prng(5)
        const bytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(random() * 256))
        const sent: Array<LinkMessage> = Array.from({ length: 300 }, (_, i) =>
          i % 3 === 0 ? `text ${i}` : i % 50 === 1 ? bytes(200_000 + i) : bytes(i % 7 === 0 ? 0 : 16_384 + i))
        for (const m of sent) yield* linkA.send(m)
        const got = yield* takeN(linkB, sent.length).pipe(Effect.timeout("30 seconds"))
        expect(got.length).toBe(sent.length)
        for (let i = 0; i < sent.length; i++) {
          const want = sent[i]!
          const have = got[i]!
          if (typeof want === "string") expect(have).toBe(want)
          else expect(Buffer.from(have as Uint8Array).equals(Buffer.from(want))).toBe(true)
        }
        // a binary message over maxMessageBytes is refused at the sender
        const refused = yield* Effect.flip(linkA.send(new Uint8Array(1024 * 1024 + 1)))
        expect(refused.reason).toBe("refused")
      }).pipe(Effect.scoped), 40_000)
  }
)
