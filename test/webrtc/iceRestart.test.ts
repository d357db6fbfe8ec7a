import { assert, layer } from "@effect/vitest"
import { Effect, Exit, Layer, Option, Queue, Scope } from "effect"
import {
  layerGlobal,
  layerWerift,
  type RtcConfiguration,
  RtcPeerConnectionCtor,
  type RTCPeerConnectionLike
} from "../../src/layers/RtcPeerConnection.ts"
import { iceStateWhere } from "../../src/layers/webrtc/iceRestart.ts"
import * as WebRtcTransport from "../../src/layers/WebRtcTransport.ts"
import { makePeerId } from "../../src/schema/PeerId.ts"
import { MeshConfig } from "../../src/services/MeshConfig.ts"
import { type Link, PeerTransport, type Signal, type SignalChannel } from "../../src/services/PeerTransport.ts"
import { expireConsent, iceGeneration } from "./weriftIce.ts"

const A = makePeerId("a".repeat(40))
const B = makePeerId("b".repeat(40))
/** Bounds every wait, so a broken restart fails the test with a message instead of hanging it. */
const within = (ms: number, what: string) => <X, E, R>(self: Effect.Effect<X, E, R>) =>
  self.pipe(Effect.timeoutOrElse({ duration: ms, orElse: () => Effect.die(new Error(`${what}: not within ${ms} ms`)) }))

/** A transport whose connections (and the configuration each was made with) are kept. */
const side = (options: Partial<WebRtcTransport.WebRtcTransportOptions>) =>
  Effect.gen(function*() {
    const werift = yield* RtcPeerConnectionCtor
    const made: Array<{ readonly pc: RTCPeerConnectionLike; readonly config: RtcConfiguration }> = []
    const ctor = RtcPeerConnectionCtor.of({
      make: (config) => {
        const pc = werift.make(config)
        made.push({ pc, config })
        return pc
      }
    })
    const transport = yield* WebRtcTransport.make(options).pipe(Effect.provideService(RtcPeerConnectionCtor, ctor))
    return { transport, made }
  })

/** In-memory signaling for one pair; every signal is kept, and A's can be dropped (`mute`). */
const signalPair = Effect.gen(function*() {
  const toB = yield* Queue.unbounded<Signal>()
  const toA = yield* Queue.unbounded<Signal>()
  const sent = { a: [] as Array<Signal>, b: [] as Array<Signal> }
  const mute = { a: false, refuseRestarts: false, delayRestartsMs: 0 }
  // as Connections answers a restart offer for a link it does not hold
  const refusal: Signal = { kind: "answer", data: { refused: "no link to restart" } }
  const a: SignalChannel = {
    send: (s) =>
      Effect.suspend(() => {
        sent.a.push(s)
        const restart = typeof s.data?.["iceRestart"] === "number"
        if (mute.refuseRestarts && restart) return Queue.offer(toA, refusal).pipe(Effect.asVoid)
        // (in order: what A sends next, its candidates, waits behind the offer)
        if (restart && mute.delayRestartsMs > 0) return Queue.offer(toB, s).pipe(Effect.delay(mute.delayRestartsMs), Effect.asVoid)
        return mute.a ? Effect.void : Queue.offer(toB, s).pipe(Effect.asVoid)
      }),
    incoming: toA
  }
  const b: SignalChannel = { send: (s) => Effect.suspend(() => (sent.b.push(s), Queue.offer(toA, s).pipe(Effect.asVoid))), incoming: toB }
  return { a, b, sent, mute }
})

const restartsIn = (signals: ReadonlyArray<Signal>, kind: Signal["kind"]) =>
  signals.filter((s) => s.kind === kind && typeof s.data?.["iceRestart"] === "number").map((s) => s.data?.["iceRestart"])

/** A link A (initiator) <-> B, each in its own scope, with the options given. */
const connect = (optionsA: Partial<WebRtcTransport.WebRtcTransportOptions>, optionsB = optionsA) =>
  Effect.gen(function*() {
    const [sideA, sideB, pair] = [yield* side(optionsA), yield* side(optionsB), yield* signalPair]
    const scopeA = yield* Scope.make()
    const scopeB = yield* Scope.make()
    yield* Effect.addFinalizer(() => Effect.andThen(Scope.close(scopeA, Exit.void), Scope.close(scopeB, Exit.void)))
    const [linkA, linkB] = yield* Effect.all([
      sideA.transport.open(B, { initiator: true, signals: pair.a, timeoutMs: 10_000 }).pipe(Scope.provide(scopeA)),
      sideB.transport.open(A, { initiator: false, signals: pair.b, timeoutMs: 10_000 }).pipe(Scope.provide(scopeB))
    ], { concurrency: 2 })
    return { linkA, linkB, pcA: sideA.made[0]!.pc, pcB: sideB.made[0]!.pc, sideA, sideB, pair }
  })

const take = (link: Link, n: number) =>
  Effect.gen(function*() {
    const out: Array<unknown> = []
    while (out.length < n) out.push(...(yield* Queue.takeBetween(link.messages, 1, n - out.length)))
    return out
  }).pipe(within(15_000, `${n} message(s) from ${link.remote.slice(0, 4)}`))

const isOpen = (link: Link) => link.closed.pipe(Effect.timeoutOption(0), Effect.map(Option.isNone))

layer(layerWerift(), { excludeTestServices: true })("ICE restart (werift, loopback)", (it) => {
  it.effect("a link whose ICE fails is restarted on the same connection: same Link, no new handshake, messages both ways", () =>
    Effect.gen(function*() {
      const { linkA, linkB, pair, pcA, pcB, sideA, sideB } = yield* connect({})
      yield* linkA.send("before")
      yield* linkB.send("before, back")
      assert.deepStrictEqual(yield* take(linkB, 1), ["before"])
      assert.deepStrictEqual(yield* take(linkA, 1), ["before, back"])
      assert.strictEqual(iceGeneration(pcA), 0)

      const statesA: Array<string> = []
      pcA.addEventListener("iceconnectionstatechange", () => statesA.push(pcA.iceConnectionState))
      expireConsent(pcA)
      expireConsent(pcB)
      // sent while the path is down: they wait in SCTP and arrive once it is back
      yield* linkA.send("while down")
      yield* linkB.send("while down, back")

      yield* iceStateWhere(pcA, (s) => s === "connected").pipe(within(10_000, "A reconnected"))
      yield* iceStateWhere(pcB, (s) => s === "connected").pipe(within(10_000, "B reconnected"))
      assert.deepStrictEqual(yield* take(linkB, 1), ["while down"])
      assert.deepStrictEqual(yield* take(linkA, 1), ["while down, back"])
      const burst = Array.from({ length: 50 }, (_, i) => `after ${i}`)
      for (const m of burst) yield* linkA.send(m)
      for (const m of burst) yield* linkB.send(m)
      assert.deepStrictEqual(yield* take(linkB, 50), burst)
      assert.deepStrictEqual(yield* take(linkA, 50), burst)

      // one restart: one marked offer from the initiator, its answer from the responder, on the
      // connections of the first setup (none made since)
      assert.deepStrictEqual(statesA.slice(0, 1), ["failed"])
      assert.strictEqual(statesA.at(-1), "connected")
      assert.deepStrictEqual(restartsIn(pair.sent.a, "offer"), [1])
      assert.deepStrictEqual(restartsIn(pair.sent.b, "answer"), [1])
      assert.deepStrictEqual(restartsIn(pair.sent.b, "offer"), [])
      assert.strictEqual(iceGeneration(pcA), 1)
      assert.deepStrictEqual([sideA.made.length, sideB.made.length], [1, 1])
      assert.isTrue(yield* isOpen(linkA))
      assert.isTrue(yield* isOpen(linkB))
    }), 40_000)

  it.effect("the keepalive does not close a link while its ICE is being restarted, however long the silence", () =>
    Effect.gen(function*() {
      // silence for 2 s would close a link ("peer silent"); the restart offer takes 4 s to arrive
      const options = { deadAfterMs: 2_000, keepaliveMs: 100, iceRestartTimeoutMs: 8_000 }
      const { linkA, linkB, pair, pcA, pcB } = yield* connect(options)
      pair.mute.delayRestartsMs = 4_000
      expireConsent(pcA)
      expireConsent(pcB)
      const up = (s: string) => s === "connected" || s === "completed" || s === "closed"
      yield* iceStateWhere(pcA, up).pipe(within(20_000, "A back"))
      yield* iceStateWhere(pcB, up).pipe(within(20_000, "B back"))
      assert.notStrictEqual(pcA.iceConnectionState, "closed")
      assert.deepStrictEqual(restartsIn(pair.sent.a, "offer"), [1])
      yield* linkA.send("after a long silence")
      assert.deepStrictEqual(yield* take(linkB, 1), ["after a long silence"])
      // and once ICE is up the keepalive watches again: the peer got a fresh deadAfterMs
      assert.isTrue(yield* isOpen(linkA))
      assert.isTrue(yield* isOpen(linkB))
    }), 40_000)

  it.effect("a link whose restarts fail closes with the reason, on both sides", () =>
    Effect.gen(function*() {
      const options = { iceRestarts: 2, iceRestartTimeoutMs: 400, disconnectedGraceMs: 300 }
      const { linkA, linkB, pair, pcA, pcB } = yield* connect(options)
      pair.mute.a = true // the restart offers never reach B
      expireConsent(pcA)
      expireConsent(pcB)
      const reasonA = yield* linkA.closed.pipe(within(10_000, "A closed"))
      const reasonB = yield* linkB.closed.pipe(within(10_000, "B closed"))
      assert.strictEqual(reasonA, "ice restart failed (ICE failed, 2 attempts): not reconnected within 400 ms")
      // B waits the grace and both attempts for A to restart, then gives up
      assert.strictEqual(reasonB, "connection failed, not restarted within 1100 ms")
      assert.deepStrictEqual(restartsIn(pair.sent.a, "offer"), [1, 2])
    }), 30_000)

  it.effect("a refused restart gives the link up at once, without a second attempt", () =>
    Effect.gen(function*() {
      const { linkA, pair, pcA } = yield* connect({ iceRestarts: 2, iceRestartTimeoutMs: 5_000 })
      pair.mute.refuseRestarts = true
      expireConsent(pcA)
      const reason = yield* linkA.closed.pipe(within(4_000, "A closed"))
      assert.strictEqual(reason, "ice restart failed (ICE failed, 1 attempt): refused: no link to restart")
      assert.deepStrictEqual(restartsIn(pair.sent.a, "offer"), [1])
    }), 30_000)

  it.effect("with iceRestarts: 0 a failed link is given up at once, as before", () =>
    Effect.gen(function*() {
      const { linkA, pair, pcA } = yield* connect({ iceRestarts: 0 })
      expireConsent(pcA)
      assert.strictEqual(yield* linkA.closed.pipe(within(5_000, "A closed")), "connection failed")
      assert.deepStrictEqual(restartsIn(pair.sent.a, "offer"), [])
    }), 30_000)

  it.effect("iceTransportPolicy reaches the RTCPeerConnection (option, MeshConfig, werift and the browser global)", () =>
    Effect.gen(function*() {
      const signals = (yield* signalPair).a
      const policyOf = (options: Partial<WebRtcTransport.WebRtcTransportOptions>) =>
        Effect.gen(function*() {
          const { made, transport } = yield* side(options)
          // nobody answers: the open times out, after the connection was made
          const exit = yield* Effect.exit(Effect.scoped(transport.open(B, { initiator: true, signals, timeoutMs: 300 })))
          assert.isTrue(Exit.isFailure(exit))
          const pc = made[0]!.pc as RTCPeerConnectionLike & { getConfiguration(): { iceTransportPolicy: string } }
          return [made[0]!.config.iceTransportPolicy, pc.getConfiguration().iceTransportPolicy]
        })
      assert.deepStrictEqual(yield* policyOf({}), ["all", "all"])
      assert.deepStrictEqual(yield* policyOf({ iceTransportPolicy: "relay" }), ["relay", "relay"])

      // the mesh option, through layerConfig
      const werift = yield* RtcPeerConnectionCtor
      const configs: Array<RtcConfiguration> = []
      const recording = Layer.succeed(RtcPeerConnectionCtor)(RtcPeerConnectionCtor.of({
        make: (config) => (configs.push(config), werift.make(config))
      }))
      yield* Effect.gen(function*() {
        const transport = yield* PeerTransport
        yield* Effect.exit(Effect.scoped(transport.open(B, { initiator: true, signals, timeoutMs: 100 })))
      }).pipe(
        Effect.provide(
          WebRtcTransport.layerConfig().pipe(
            Layer.provide(recording),
            Layer.provide(MeshConfig.layer({ iceTransportPolicy: "relay" }))
          )
        )
      )
      assert.deepStrictEqual(configs.map((c) => c.iceTransportPolicy), ["relay"])

      // the browser's constructor gets it too
      const seen: Array<unknown> = []
      const global = globalThis as { RTCPeerConnection?: unknown }
      global.RTCPeerConnection = class {
        constructor(config: unknown) {
          seen.push(config)
        }
      }
      yield* Effect.gen(function*() {
        const ctor = yield* RtcPeerConnectionCtor
        ctor.make({ iceServers: [{ urls: "turn:127.0.0.1:3478", username: "u", credential: "p" }], iceTransportPolicy: "relay" })
      }).pipe(
        Effect.provide(layerGlobal),
        Effect.ensuring(Effect.sync(() => delete global.RTCPeerConnection))
      )
      assert.deepStrictEqual(seen, [{
        iceServers: [{ urls: "turn:127.0.0.1:3478", username: "u", credential: "p" }],
        iceTransportPolicy: "relay"
      }])
    }), 30_000)
})
