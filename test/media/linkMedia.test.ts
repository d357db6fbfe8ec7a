/**
 * The link engine (`layers/media/linkMedia.ts`) over two scripted connections that follow the
 * JSEP signaling states strictly (an offer in `have-local-offer` is an error unless rolled back
 * first), wired to each other through their media frames. Deterministic glare: both sides
 * publish before either's offer arrives.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Queue } from "effect"
import { type LinkMedia, type LinkPublication, makeLinkMedia } from "../../src/layers/media/linkMedia.ts"
import type { MediaFrame } from "../../src/schema/MediaFrames.ts"
import type { PeerId } from "../../src/schema/PeerId.ts"
import type { MediaEvent, MediaPeerConnectionLike, MediaTrackLike, RtpTransceiverLike } from "../../src/services/Media.ts"

interface FakeTransceiver extends RtpTransceiverLike {
  mid: string | null
  direction: string
  readonly kind: string
  readonly sender: RtpTransceiverLike["sender"] & { track: unknown }
  readonly receiver: { readonly track: unknown }
}

/** A connection that keeps the signaling state machine and the m-lines, nothing else. */
class FakePc implements MediaPeerConnectionLike {
  signalingState = "stable"
  readonly transceivers: Array<FakeTransceiver> = []
  rollbacks = 0
  #next = 0
  #pendingMids: Array<FakeTransceiver> = []
  /** mids an offer proposed for unassociated transceivers (JSEP: chosen by createOffer) */
  #proposed = new Map<FakeTransceiver, string>()
  readonly name: string
  constructor(name: string) {
    this.name = name
  }

  addTransceiver(track: unknown, init: { direction: string }): FakeTransceiver {
    const kind = typeof track === "string" ? track : (track as MediaTrackLike).kind
    const t: FakeTransceiver = {
      mid: null,
      direction: init.direction,
      kind,
      sender: {
        track: typeof track === "string" ? null : track,
        replaceTrack(next: unknown) {
          this.track = next
          return Promise.resolve()
        },
        getParameters: () => ({ encodings: [{}] }),
        setParameters: () => undefined
      },
      receiver: { track: { kind, remote: true } }
    }
    this.transceivers.push(t)
    return t
  }
  getTransceivers = () => this.transceivers
  #describe = () => JSON.stringify(this.transceivers.filter((t) => t.mid !== null).map((t) => ({ mid: t.mid, kind: t.kind, direction: t.direction })))
  /** The offer lists every m-line, proposing a mid for each new one. */
  createOffer() {
    const lines = this.transceivers.map((t) => {
      if (t.mid === null && !this.#proposed.has(t)) this.#proposed.set(t, `${this.name}${this.#next++}`)
      return { mid: t.mid ?? this.#proposed.get(t)!, kind: t.kind }
    })
    return Promise.resolve({ type: "offer", sdp: JSON.stringify(lines) })
  }
  createAnswer() {
    if (this.signalingState !== "have-remote-offer") return Promise.reject(new Error(`createAnswer in ${this.signalingState}`))
    return Promise.resolve({ type: "answer", sdp: this.#describe() })
  }
  setLocalDescription(d: { type: string }) {
    if (d.type === "rollback") {
      if (this.signalingState !== "have-local-offer") return Promise.reject(new Error(`rollback in ${this.signalingState}`))
      for (const t of this.#pendingMids) t.mid = null
      this.#pendingMids = []
      this.rollbacks++
      this.signalingState = "stable"
    } else if (d.type === "offer") {
      if (this.signalingState !== "stable") return Promise.reject(new Error(`local offer in ${this.signalingState}`))
      this.#pendingMids = this.transceivers.filter((t) => t.mid === null)
      for (const t of this.#pendingMids) t.mid = this.#proposed.get(t) ?? `${this.name}${this.#next++}`
      this.signalingState = "have-local-offer"
    } else {
      if (this.signalingState !== "have-remote-offer") return Promise.reject(new Error(`local answer in ${this.signalingState}`))
      this.signalingState = "stable"
    }
    return Promise.resolve()
  }
  setRemoteDescription(d: { type: "offer" | "answer"; sdp: string }) {
    if (d.type === "offer") {
      if (this.signalingState !== "stable") return Promise.reject(new Error(`remote offer in ${this.signalingState}`))
      this.signalingState = "have-remote-offer"
    } else {
      if (this.signalingState !== "have-local-offer") return Promise.reject(new Error(`remote answer in ${this.signalingState}`))
      this.#pendingMids = []
      this.signalingState = "stable"
    }
    return Promise.resolve()
  }
  /** The other side's offer, as it carries its m-lines (the engine sends the SDP as is). */
  applyOffer(sdp: string) {
    for (const m of JSON.parse(sdp || "[]") as Array<{ mid: string; kind: string }>) {
      if (!this.transceivers.some((t) => t.mid === m.mid)) {
        const t = this.addTransceiver(m.kind, { direction: "recvonly" })
        t.mid = m.mid
      }
    }
  }
  getStats() {
    return Promise.resolve({ forEach: () => undefined })
  }
}

const track = (kind: string): MediaTrackLike => ({ kind, id: kind, enabled: true, stop: () => undefined })

describe("linkMedia engine, scripted connections", () => {
  it.effect("glare: both publish at once; the polite side rolls back once, both end stable and each gets the other's stream once", () =>
    Effect.scoped(Effect.gen(function*() {
      const pcs = { polite: new FakePc("p"), impolite: new FakePc("i") }
      const events = { polite: [] as Array<MediaEvent>, impolite: [] as Array<MediaEvent> }
      const wires = { polite: yield* Queue.unbounded<MediaFrame>(), impolite: yield* Queue.unbounded<MediaFrame>() }
      const published: LinkPublication = {
        camera: { audio: track("audio"), video: track("video") },
        audioEnabled: true,
        videoEnabled: true,
        screen: undefined,
        maxBitrate: undefined
      }
      const make = (side: "polite" | "impolite") =>
        makeLinkMedia({
          peerId: side as PeerId,
          polite: side === "polite",
          pc: pcs[side],
          send: (frame) => Queue.offer(wires[side === "polite" ? "impolite" : "polite"], frame),
          publication: () => published,
          emit: (e) => Effect.sync(() => events[side].push(e)),
          makeStream: (tracks) => ({ tracks }),
          accepts: () => "yes"
        })
      const engines: Record<"polite" | "impolite", LinkMedia> = { polite: yield* make("polite"), impolite: yield* make("impolite") }
      // both publish, and both offers are out before either side reads a frame
      yield* engines.polite.sync
      yield* engines.impolite.sync
      yield* Effect.promise(async () => {
        const deadline = Date.now() + 5000
        while (pcs.polite.signalingState !== "have-local-offer" || pcs.impolite.signalingState !== "have-local-offer") {
          if (Date.now() > deadline) throw new Error("the offers did not go out")
          await new Promise((r) => setTimeout(r, 1))
        }
      })
      assert.strictEqual(yield* Queue.size(wires.polite), 1)
      assert.strictEqual(yield* Queue.size(wires.impolite), 1)
      // deliver frames both ways until quiet
      const pump = (side: "polite" | "impolite") =>
        Effect.forever(Effect.gen(function*() {
          const frame = yield* Queue.take(wires[side])
          if (frame.op === "neg" && frame.desc.type === "offer") {
            const pc = pcs[side]
            // the scripted pc learns the offer's m-lines once the engine sets it
            const set = pc.setRemoteDescription.bind(pc)
            pc.setRemoteDescription = (d) => set(d).then(() => pc.applyOffer(d.sdp)).finally(() => (pc.setRemoteDescription = set))
          }
          yield* engines[side].frame(frame)
        }))
      const pumps = [yield* Effect.forkChild(pump("polite")), yield* Effect.forkChild(pump("impolite"))]
      yield* Effect.promise(async () => {
        const deadline = Date.now() + 5000
        while (!(events.polite.some((e) => e._tag === "RemoteStreamAdded") && events.impolite.some((e) => e._tag === "RemoteStreamAdded"))) {
          if (Date.now() > deadline) throw new Error(`no streams: ${JSON.stringify({ events })}`)
          await new Promise((r) => setTimeout(r, 5))
        }
      })
      for (const f of pumps) yield* Fiber.interrupt(f)
      assert.strictEqual(pcs.polite.rollbacks, 1)
      assert.strictEqual(pcs.impolite.rollbacks, 0)
      assert.strictEqual(pcs.polite.signalingState, "stable")
      assert.strictEqual(pcs.impolite.signalingState, "stable")
      for (const side of ["polite", "impolite"] as const) {
        const added = events[side].filter((e) => e._tag === "RemoteStreamAdded")
        assert.strictEqual(added.length, 1)
        assert.isFalse(events[side].some((e) => e._tag === "MediaFailed"), JSON.stringify(events[side]))
        // its own two, and the other side's two
        assert.strictEqual(pcs[side].transceivers.length, 4)
        assert.strictEqual(engines[side].state().offers, side === "polite" ? 2 : 1)
      }
    })))

  it.effect("an offer with more m-lines than a link can use is refused (MediaFailed), and the connection stays stable", () =>
    Effect.scoped(Effect.gen(function*() {
      const pc = new FakePc("x")
      const events: Array<MediaEvent> = []
      const sent: Array<MediaFrame> = []
      const engine = yield* makeLinkMedia({
        peerId: "remote" as PeerId,
        polite: true,
        pc,
        send: (frame) => Effect.sync(() => sent.push(frame)),
        publication: () => ({ camera: undefined, audioEnabled: true, videoEnabled: true, screen: undefined, maxBitrate: undefined }),
        emit: (e) => Effect.sync(() => events.push(e)),
        makeStream: (tracks) => tracks,
        accepts: () => "yes"
      })
      yield* engine.frame({ t: "media", op: "neg", desc: { type: "offer", sdp: `v=0${"\nm=audio 9 UDP/TLS/RTP/SAVPF 111".repeat(9)}` } })
      yield* engine.frame({ t: "media", op: "neg", desc: { type: "offer", sdp: `v=0${"\nm=audio 9 UDP/TLS/RTP/SAVPF 111".repeat(8)}` } })
      yield* Effect.promise(async () => {
        const deadline = Date.now() + 5000
        while (sent.length === 0) {
          if (Date.now() > deadline) throw new Error("the second offer was not answered")
          await new Promise((r) => setTimeout(r, 1))
        }
      })
      assert.strictEqual(events.length, 1)
      const failed = events[0]!
      assert.strictEqual(failed._tag, "MediaFailed")
      if (failed._tag === "MediaFailed") assert.include(failed.error.message, "9 m-lines")
      // the refused offer was never set; the one within bounds was answered
      assert.strictEqual(sent[0]?.op === "neg" && sent[0].desc.type, "answer")
      assert.strictEqual(pc.signalingState, "stable")
    })))
})
