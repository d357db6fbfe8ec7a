/**
 * Hostile peers against the transport: a werift link whose far end writes raw frames on its
 * data channel (bypassing its own sender), a slow reader, and a MemoryNetwork receiver that
 * never reads. Each must leave the receiver with bounded memory: the link closes with a
 * protocol error, or the sender is paced.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { Cause, Effect, Layer, Logger, Queue } from "effect"
import { MemoryNetwork } from "../../src/layers/MemoryNetwork.ts"
import { type DataChannelLike, layerWerift, RtcPeerConnectionCtor } from "../../src/layers/RtcPeerConnection.ts"
import * as WebRtcTransport from "../../src/layers/WebRtcTransport.ts"
import { makePeerId } from "../../src/schema/PeerId.ts"
import { Identity } from "../../src/services/Identity.ts"
import { MeshConfig } from "../../src/services/MeshConfig.ts"
import { type LinkMessage, PeerTransport, type Signal, type SignalChannel } from "../../src/services/PeerTransport.ts"

const A = makePeerId("a".repeat(40))
const B = makePeerId("b".repeat(40))

/** werift, with every data channel this side creates (the initiator's) kept for raw writes. */
const created: Array<DataChannelLike> = []
const CapturingWerift = Layer.effect(
  RtcPeerConnectionCtor,
  Effect.gen(function*() {
    const werift = yield* RtcPeerConnectionCtor
    return RtcPeerConnectionCtor.of({
      make: (config) => {
        const pc = werift.make(config)
        const create = pc.createDataChannel.bind(pc)
        pc.createDataChannel = (label, options) => {
          const dc = create(label, options)
          created.push(dc)
          return dc
        }
        return pc
      }
    })
  })
).pipe(Layer.provide(layerWerift()))

/** Waits for a state (polling it), failing after `ms`. */
const waitFor = (what: string, check: Effect.Effect<boolean>, ms = 10_000) =>
  Effect.gen(function*() {
    while (!(yield* check)) yield* Effect.sleep("10 millis")
  }).pipe(Effect.timeoutOrElse({ duration: ms, orElse: () => Effect.die(new Error(`timed out waiting for ${what}`)) }))

const signalPair = Effect.gen(function*() {
  const toB = yield* Queue.unbounded<Signal>()
  const toA = yield* Queue.unbounded<Signal>()
  const channel = (out: Queue.Queue<Signal>, incoming: Queue.Queue<Signal>): SignalChannel => ({
    send: (signal) => Queue.offer(out, signal).pipe(Effect.asVoid),
    incoming
  })
  return { a: channel(toB, toA), b: channel(toA, toB) }
})

interface Raw {
  readonly dc: DataChannelLike
  /** Credit the victim returned (sum of its `{"a":n}`). */
  readonly acked: () => number
  /** Data frames the attacker's own link sent (its sender, not the raw writes). */
  readonly sentFrames: () => number
}

/**
 * A link from the attacker (initiator, options `attacker`) to the victim (responder, options
 * `victim`), and the attacker's raw data channel.
 */
const hostilePair = (
  victim: Partial<WebRtcTransport.WebRtcTransportOptions>,
  attacker: Partial<WebRtcTransport.WebRtcTransportOptions> = {}
) =>
  Effect.gen(function*() {
    const attackerTransport = yield* WebRtcTransport.make(attacker)
    const victimTransport = yield* WebRtcTransport.make(victim)
    const { a, b } = yield* signalPair
    const before = created.length
    const [attackerLink, victimLink] = yield* Effect.all([
      attackerTransport.open(B, { initiator: true, signals: a, timeoutMs: 10_000 }),
      victimTransport.open(A, { initiator: false, signals: b, timeoutMs: 10_000 })
    ], { concurrency: 2 })
    const dc = created[before]!
    let acked = 0
    let sentFrames = 0
    dc.addEventListener("message", (event) => {
      const data = (event as { data?: unknown }).data
      if (typeof data === "string" && data.startsWith(`{"a":`)) acked += (JSON.parse(data) as { a: number }).a
    })
    const send = dc.send.bind(dc)
    dc.send = (frame) => {
      if (typeof frame !== "string" || frame.startsWith("#") || frame.startsWith("+") || frame.startsWith("$")) sentFrames++
      send(frame)
    }
    const raw: Raw = { dc, acked: () => acked, sentFrames: () => sentFrames }
    return { attackerLink, victimLink, raw }
  })

layer(CapturingWerift, { excludeTestServices: true })("hostile peers over a werift link", (it) => {
  it.effect("a flood of pieces beyond maxMessageBytes closes the link with a protocol error", () =>
    Effect.gen(function*() {
      const maxMessageBytes = 16 * 1024
      const { attackerLink, raw, victimLink } = yield* hostilePair({ maxMessageBytes })
      const piece = "+" + "x".repeat(4000)
      // one piece at a time, each acknowledged before the next: the victim took every one in,
      // so what stops the flood is the reassembly bound, not the credit
      let sent = 0
      while (sent < 1000) {
        const acked = raw.acked()
        raw.dc.send(piece)
        sent++
        const closedOrAcked = yield* Effect.raceFirst(
          victimLink.closed.pipe(Effect.as(true)),
          waitFor("an ack", Effect.sync(() => raw.acked() > acked)).pipe(Effect.as(false))
        )
        if (closedOrAcked) break
      }
      const reason = yield* victimLink.closed
      assert.match(reason, /^protocol error: pieces longer than/)
      // it stopped at the first piece past one message plus framing: the victim never held more
      assert.strictEqual(sent, Math.floor((maxMessageBytes + 32) / 4000) + 1)
      assert.match(yield* attackerLink.closed, /^remote: protocol error: pieces longer than/)
      assert.isTrue(Cause.isDone(yield* Effect.flip(Queue.take(victimLink.messages))))
    }).pipe(Effect.scoped), 30_000)

  it.effect("frames sent without credit beyond the window close the link", () =>
    Effect.gen(function*() {
      const { attackerLink, raw, victimLink } = yield* hostilePair({ receiveBuffer: 16 })
      // the victim's consumer reads nothing, so after 16 messages it returns no more credit;
      // the attacker writes on regardless
      for (let i = 0; i < 400 && raw.dc.readyState === "open"; i++) raw.dc.send(`#${String(i).length}:${i}`)
      const reason = yield* victimLink.closed
      assert.match(reason, /^protocol error: more than 80 frames or \d+ characters sent without credit$/)
      assert.match(yield* attackerLink.closed, /^remote: protocol error: more than 80 frames/)
      assert.isAtMost(raw.acked(), 16)
      // what was handed on before stays readable, in order
      const got = yield* Queue.takeAll(victimLink.messages)
      assert.deepStrictEqual(got, Array.from({ length: got.length }, (_, i): LinkMessage => String(i)))
    }).pipe(Effect.scoped), 30_000)

  it.effect("a consumer that never takes paces the sender: the receiver holds about window * maxMessagesPerFrame", () =>
    Effect.gen(function*() {
      const options = { window: 4, maxMessagesPerFrame: 8, receiveBuffer: 8, keepaliveMs: 100 }
      const { attackerLink: sender, raw, victimLink: receiver } = yield* hostilePair(options, options)
      const n = 2000
      for (let i = 0; i < n; i++) yield* sender.send(`m${i}`)
      // messages on the wire or at the receiver: at most a full `messages` plus a window of frames
      const bound = options.receiveBuffer + options.window * options.maxMessagesPerFrame
      const outstanding = Effect.map(sender.pending, (pending) => n - pending)
      const check = Effect.gen(function*() {
        assert.isAtMost(yield* outstanding, bound)
        assert.isAtMost(yield* Queue.size(receiver.messages), options.receiveBuffer)
      })
      yield* waitFor("the receiver's messages to fill", Effect.map(Queue.size(receiver.messages), (s) => s === options.receiveBuffer))
      // the sender is stopped by credit: a full window unacknowledged
      yield* waitFor("the sender to stall", Effect.sync(() => raw.sentFrames() - raw.acked() === options.window))
      // and stays stopped while the receiver's keepalives keep arriving (the channel is alive)
      let keepalives = 0
      raw.dc.addEventListener("message", (event) => {
        if ((event as { data?: unknown }).data === `{"k":1}`) keepalives++
      })
      yield* waitFor("five keepalives", Effect.gen(function*() {
        yield* check
        return keepalives >= 5
      }))
      yield* check
      assert.isAtLeast(yield* sender.pending, n - bound)
      assert.strictEqual(raw.sentFrames() - raw.acked(), options.window)
      // reading resumes the flow: everything arrives, in order
      const got: Array<LinkMessage> = []
      while (got.length < n) got.push(...(yield* Queue.takeBetween(receiver.messages, 1, n - got.length)))
      assert.deepStrictEqual(got, Array.from({ length: n }, (_, i) => `m${i}`))
      yield* waitFor("the sender to drain", Effect.map(sender.pending, (p) => p === 0))
    }).pipe(Effect.scoped), 30_000)

  it.effect("a sender fiber that dies logs its cause and closes the link with a reason, both sides", () =>
    Effect.gen(function*() {
      const logged: Array<{ readonly message: unknown; readonly cause: Cause.Cause<unknown> }> = []
      const recorder = Logger.make(({ cause, message }) => void logged.push({ message, cause }))
      // maxFrameChars 1 leaves no room for a message in a frame: batchFrames throws (a defect)
      const { attackerLink: broken, victimLink: other } = yield* hostilePair({}, { maxFrameChars: 1 }).pipe(
        Effect.provide(Logger.layer([recorder]))
      )
      yield* broken.send("anything")
      const reason = yield* broken.closed
      assert.match(reason, /^sender failed: maxFrameBytes must be positive/)
      assert.strictEqual(yield* other.closed, `remote: ${reason}`)
      const entry = logged.find((l) => String(l.message).includes("sender died"))
      assert.isDefined(entry)
      assert.isTrue(Cause.hasDies(entry!.cause))
      assert.strictEqual((yield* Effect.flip(broken.send("late"))).reason, "closed")
    }).pipe(Effect.scoped), 30_000)
})

describe("hostile peers over a MemoryNetwork link", () => {
  it.effect("a receiver that never reads holds at most inboxCapacity messages; the rest wait at the sender", () =>
    Effect.gen(function*() {
      const inboxCapacity = 100
      const network = new MemoryNetwork({ inboxCapacity })
      const transport = (peerId: typeof A) =>
        Effect.gen(function*() {
          return yield* PeerTransport
        }).pipe(
          Effect.provide(network.layer.pipe(
            Layer.provide(Layer.succeed(Identity, { peerId } as unknown as Identity["Service"])),
            Layer.provide(Layer.succeed(MeshConfig, {} as MeshConfig["Service"]))
          ))
        )
      const ta = yield* transport(A)
      const tb = yield* transport(B)
      const { a, b } = yield* signalPair
      const [sender, receiver] = yield* Effect.all([
        ta.open(B, { initiator: true, signals: a, timeoutMs: 5_000 }),
        tb.open(A, { initiator: false, signals: b, timeoutMs: 5_000 })
      ], { concurrency: 2 })
      const n = 10_000
      for (let i = 0; i < n; i++) yield* sender.send(`m${i}`)
      // delivery stops once the inbox is full: one message held by the delivery, the rest queued
      yield* waitFor("delivery to stop", Effect.map(sender.pending, (p) => p === n - inboxCapacity))
      assert.strictEqual(yield* Queue.size(receiver.messages), inboxCapacity)
      assert.strictEqual(network.stats.delivered, inboxCapacity + 1)
      const got: Array<LinkMessage> = []
      while (got.length < n) got.push(...(yield* Queue.takeBetween(receiver.messages, 1, n - got.length)))
      assert.deepStrictEqual(got, Array.from({ length: n }, (_, i) => `m${i}`))
      assert.strictEqual(yield* sender.pending, 0)
    }).pipe(Effect.scoped))
})
