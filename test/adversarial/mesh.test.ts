/**
 * One hostile neighbour on a memory network of honest nodes, writing hand-made frames onto
 * its links. After each attack, honest broadcast and direct delivery are checked; "nothing
 * else happened" is read after a barrier (a later message that must arrive), never a sleep.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { MemoryNetwork } from "../../src/layers/MemoryNetwork.ts"
import type { PeerId } from "../../src/schema/PeerId.ts"
import { Connections } from "../../src/services/Connections.ts"
import { Mesh } from "../../src/services/Mesh.ts"
import { directFrame, gossipFrame, identityOf, madeUpId, neighboursOf, relayed, sendRaw, throwawayIdentity } from "../support/hostile.ts"
import { connectedOf, received, startNodes, type TestNode, waitFor } from "../support/memoryMesh.ts"

const HONEST = 9
const options = { enableWebDHT: false, maxPeers: 3, minPeers: 2 }

/** 9 honest nodes and a hostile one, all linked into one mesh. */
const network = (extra: Parameters<typeof startNodes>[2] = {}) =>
  Effect.gen(function*() {
    const net = new MemoryNetwork({ latencyMs: 1 })
    const honest = yield* startNodes(net, HONEST, { ...options, ...extra })
    const [hostile] = yield* startNodes(net, 1, { ...options, ...extra })
    const victims = yield* neighboursOf(hostile!)
    return { net, honest, hostile: hostile!, victims }
  })

/**
 * Stops the optimizer reshaping the links (no new links, no evictions): frames queued on a link
 * that closes are lost with it, so an attack counted at its victims needs the links to stay.
 */
const freeze = (nodes: ReadonlyArray<TestNode>) =>
  Effect.gen(function*() {
    yield* Effect.forEach(nodes, (n) => n.run(Mesh.use((m) => m.configure({ autoDiscovery: false, evictionStrategy: false }))), { discard: true })
    // and the links being set up are up (or gone) before the attack starts
    yield* waitFor(
      "no link still connecting",
      Effect.map(
        Effect.forEach(nodes, (n) => n.run(Connections.use((c) => c.links))),
        (all) => all.every((links) => links.every((l) => l.status === "connected"))
      )
    )
  })

let barriers = 0
/** A broadcast and a direct message between honest nodes, waited for at every honest node. */
const honestDelivery = (honest: ReadonlyArray<TestNode>) =>
  Effect.gen(function*() {
    const tag = `barrier-${++barriers}`
    const [from, to] = [honest[0]!, honest[honest.length - 1]!]
    yield* from.run(Mesh.use((m) => m.sendMessage({ tag })))
    yield* waitFor(
      `${tag} broadcast reaches every honest node`,
      Effect.sync(() => honest.slice(1).every((n) => received(n).some((e) => !e.direct && (e.content as { tag?: string }).tag === tag)))
    )
    yield* from.run(Mesh.use((m) => m.sendDirectMessage(to.peerId, { tag })))
    yield* waitFor(
      `${tag} direct message arrives`,
      Effect.sync(() => received(to).some((e) => e.direct && (e.content as { tag?: string }).tag === tag))
    )
  })

describe("a hostile neighbour", () => {
  it.live("deeply nested content (60,000 levels) is dropped at the first hop; gossip keeps working", () =>
    Effect.gen(function*() {
      const { honest, hostile } = yield* network()
      yield* freeze([...honest, hostile])
      const victims = yield* neighboursOf(hostile)
      const deep = "[".repeat(60_000) + "]".repeat(60_000)
      const frame = yield* gossipFrame(identityOf(hostile), "placeholder")
      const text = JSON.stringify(frame).replace(`"content":"placeholder"`, `"content":${deep}`)
      for (const v of victims) assert.isTrue(yield* sendRaw(hostile, v, text))
      const direct = yield* directFrame(identityOf(hostile), honest[0]!.peerId, "placeholder", { flood: true })
      const directText = JSON.stringify(direct).replace(`"content":"placeholder"`, `"content":${deep}`)
      for (const v of victims) assert.isTrue(yield* sendRaw(hostile, v, directText))
      // several rounds: a loop killed by the first would miss the later ones
      for (let i = 0; i < 3; i++) yield* honestDelivery(honest)
      // dropped at the first hop, and counted there
      for (const v of victims) {
        const node = honest.find((n) => n.peerId === v)!
        assert.isAtLeast((yield* node.run(Connections.use((c) => c.stats))).invalidFrames, 2)
      }
    }).pipe(Effect.scoped), 60_000)

  it.live("junk direct floods (bad signatures, random targets) are not forwarded by anyone", () =>
    Effect.gen(function*() {
      const { honest, hostile, victims } = yield* network()
      yield* honestDelivery(honest)
      const before = yield* relayed(honest)
      const template = yield* directFrame(identityOf(hostile), madeUpId(), { junk: true }, { flood: true })
      const junk = 3000
      for (let i = 0; i < junk; i++) {
        const frame = { ...template, id: `junk-${i}`, to: madeUpId(), sig: template.sig.replace(/^./, "A") }
        yield* sendRaw(hostile, victims[i % victims.length]!, JSON.stringify(frame))
      }
      yield* honestDelivery(honest)
      const after = yield* relayed(honest)
      assert.strictEqual(after.flooded - before.flooded, 0)
      // what honest nodes forwarded is the barrier's own traffic only (a direct message and its ack)
      assert.isAtMost(after.forwarded - before.forwarded, 2 * HONEST)
      assert.isAtLeast(after.forged - before.forged, junk / 2) // the rest may have hit the rate limit
    }).pipe(Effect.scoped), 60_000)

  it.live("validly signed floods to made-up targets cost each honest hop a bounded budget", () =>
    Effect.gen(function*() {
      const { honest, hostile, victims } = yield* network()
      yield* honestDelivery(honest)
      const before = yield* relayed(honest)
      const started = Date.now()
      const sent = 1000
      for (let i = 0; i < sent; i++) {
        const frame = yield* directFrame(identityOf(hostile), madeUpId(), { i }, { flood: true })
        yield* sendRaw(hostile, victims[i % victims.length]!, JSON.stringify(frame))
      }
      yield* honestDelivery(honest)
      const after = yield* relayed(honest)
      // each honest node floods at most the per-origin budget (burst 200, then 20/s), not 1000
      const budget = 200 + 20 * Math.ceil((Date.now() - started) / 1000)
      assert.isAtMost(after.flooded - before.flooded, (budget + 2) * HONEST)
      assert.isBelow(after.flooded - before.flooded, sent * HONEST / 2)
    }).pipe(Effect.scoped), 60_000)

  it.live("replays and renumbered attempts of a relayed message are not forwarded again", () =>
    Effect.gen(function*() {
      const { honest, hostile, victims } = yield* network()
      const target = honest.find((n) => !victims.includes(n.peerId))!
      const frame = yield* directFrame(identityOf(hostile), target.peerId, { once: true })
      yield* sendRaw(hostile, victims[0]!, JSON.stringify(frame))
      yield* waitFor("the genuine copy arrives", Effect.sync(() => received(target).some((e) => (e.content as { once?: boolean }).once === true)))
      yield* honestDelivery(honest)
      const before = yield* relayed(honest)
      for (let i = 0; i < 50; i++) yield* sendRaw(hostile, victims[0]!, JSON.stringify(frame))
      for (let attempt = 1; attempt <= 4; attempt++) yield* sendRaw(hostile, victims[0]!, JSON.stringify({ ...frame, attempt }))
      yield* sendRaw(hostile, victims[0]!, JSON.stringify({ ...frame, attempt: 99, flood: true }))
      yield* honestDelivery(honest)
      const after = yield* relayed(honest)
      assert.isAtMost(after.forwarded - before.forwarded, 2 * HONEST)
      assert.strictEqual(after.flooded - before.flooded, 0)
      assert.strictEqual(received(target).filter((e) => (e.content as { once?: boolean }).once === true).length, 1)
    }).pipe(Effect.scoped), 60_000)

  it.live("a broadcast forging an honest origin, or a made-up unverified one, is delivered nowhere", () =>
    Effect.gen(function*() {
      const { honest, hostile, victims } = yield* network()
      const posing = yield* gossipFrame(identityOf(hostile), { forged: "as honest" }, { origin: honest[0]!.peerId })
      const unverified = yield* gossipFrame(identityOf(hostile), { forged: "made up" }, { origin: madeUpId() })
      for (const v of victims) {
        yield* sendRaw(hostile, v, JSON.stringify(posing))
        yield* sendRaw(hostile, v, JSON.stringify(unverified))
      }
      yield* honestDelivery(honest)
      for (const n of honest) assert.isFalse(received(n).some((e) => typeof (e.content as { forged?: string }).forged === "string"))
    }).pipe(Effect.scoped), 60_000)

  it.live("fake presence from throwaway keys: honest nodes dial few of them, and not for long", () =>
    Effect.gen(function*() {
      const { honest, hostile, victims } = yield* network()
      const fakes = yield* Effect.forEach(Array.from({ length: 40 }), () => throwawayIdentity)
      let worst = 0
      const sample = Effect.gen(function*() {
        for (const n of honest) {
          const links = yield* n.run(Connections.use((c) => c.links))
          const fake = links.filter((l) => fakes.some((f) => f.peerId === l.peerId)).length
          worst = Math.max(worst, fake)
        }
      })
      for (let round = 0; round < 3; round++) {
        for (const f of fakes) {
          const presence = yield* gossipFrame(f, { d: 0, m: 8 }, { kind: "presence" })
          for (const v of victims) yield* sendRaw(hostile, v, JSON.stringify(presence))
        }
        yield* honestDelivery(honest)
        yield* sample
      }
      const dialledAtOnce = worst
      // a dial to an id the server does not know fails at once (unknown-peer), and at most
      // maxHearsayDials (2) run at a time
      yield* waitFor("no honest node is still dialling a fake id", Effect.gen(function*() {
        worst = 0
        yield* sample
        return worst === 0
      }), 10_000)
      assert.isAtMost(dialledAtOnce, 2)
      yield* honestDelivery(honest)
    }).pipe(Effect.scoped), 60_000)

  it.live("a neighbour flooding over its rate limit is told why, disconnected and refused", () =>
    Effect.gen(function*() {
      const limits = { rateLimits: { gossip: { perSecond: 50, burst: 100 }, strikes: { perSecond: 1, burst: 50 } } }
      const { honest, hostile } = yield* network(limits)
      // signed beforehand, then sent in one go: well over 50/s whatever the machine's load
      const frames = yield* Effect.forEach(Array.from({ length: 600 }, (_, i) => i), (i) => gossipFrame(identityOf(hostile), { spam: i }))
      const cutOff = (n: TestNode) =>
        n.events.some((e) => e._tag === "PeerDisconnected" && e.peerId === hostile.peerId && e.reason === "rate-limit: gossip")
      for (const frame of frames) {
        const text = JSON.stringify(frame)
        for (const v of yield* connectedOf(hostile)) yield* sendRaw(hostile, v, text)
        if (honest.some(cutOff)) break
      }
      yield* waitFor("a victim drops the hostile link", Effect.sync(() => honest.some(cutOff)))
      const victim = honest.find(cutOff)!
      assert.isTrue(victim.events.some((e) => e._tag === "PeerEvicted" && e.peerId === hostile.peerId && e.reason === "rate-limit: gossip"))
      // the hostile node was told why (the link's close carries the reason)
      yield* waitFor("the hostile node learns why", Effect.sync(() =>
        hostile.events.some((e) => e._tag === "PeerDisconnected" && e.peerId === victim.peerId && e.reason.includes("rate-limit: gossip"))))
      const until = yield* victim.run(Connections.use((c) => Effect.sync(() => c.cooldownUntil(hostile.peerId))))
      assert.isAbove(until ?? 0, Date.now() + 60_000)
      const stats = yield* victim.run(Connections.use((c) => c.stats))
      assert.strictEqual(stats.rateLimitDisconnects, 1)
      assert.isAtLeast(stats.rateLimitedFrames, 1)
      yield* honestDelivery(honest)
    }).pipe(Effect.scoped), 60_000)

  it.live("oversize frames are dropped unread", () =>
    Effect.gen(function*() {
      const { honest, hostile, victims } = yield* network()
      const big = yield* gossipFrame(identityOf(hostile), "x".repeat(600 * 1024))
      for (const v of victims) yield* sendRaw(hostile, v, JSON.stringify(big))
      yield* honestDelivery(honest)
      for (const n of honest) assert.isFalse(received(n).some((e) => typeof e.content === "string" && e.content.length > 1000))
      for (const v of victims) {
        const node = honest.find((n) => n.peerId === v)!
        assert.isAtLeast((yield* node.run(Connections.use((c) => c.stats))).invalidFrames, 1)
      }
    }).pipe(Effect.scoped), 60_000)
})

export type { PeerId }
