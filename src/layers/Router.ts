/**
 * The `Router` layer: direct messages over several hops.
 *
 * Each hop, in order of preference:
 * 1. the target is a neighbour: hand it over;
 * 2. reverse-path route: the neighbour through which the target's latest broadcast (its
 *    presence, say), or a routed message of its (its registration with its home landmark),
 *    first arrived is on a fast path back to it; with none known, the route towards the
 *    target's home landmark, which knows one (`router/routing.ts`, `internal/landmarks.ts`);
 * 3. greedy XOR: the neighbour XOR-closest to the target, if strictly closer than this hop
 *    (the progress check rules out loops);
 * 4. up the ring: the neighbour with the least clockwise distance to the target, if less than
 *    this hop's (ring links make sure there is one while the ring is intact);
 * 5. flooding, de-duplicated by every hop and delivered only by the target, once.
 * Relays check the origin's signature before forwarding (junk stops at the first honest hop),
 * forward each copy of an attempt once (a replay, or a route loop while links change, goes no
 * further), and give each origin a small flooding budget.
 *
 * End to end, the target acknowledges each message; the sender retransmits what is not
 * acknowledged in time, each attempt signed with its number (at most `MAX_ATTEMPT`): the first
 * retransmission is routed around the hop the message first took (it may be the one dropping
 * it), later ones flood. So a link that drops mid-flight, or a hop that swallows traffic,
 * loses nothing. The target
 * delivers each message id once. Acknowledgements are coalesced: whatever is waiting when the
 * acknowledging fiber runs goes out as one signed `ack` per origin, its content the list of
 * ids (a single id travels as a plain string, as before). An ack counts only when its
 * signature checks out and it comes from the peer the message was for, so a hop in between
 * cannot silence retransmission by forging one.
 *
 * Outgoing messages are signed in batches (see `signedMessages.ts`): under load, one
 * signature covers up to `MAX_BATCH` messages, each still checked on its own by its target.
 *
 * @since 2.0.0
 */
import { Clock, Deferred, Effect, Exit, Latch, Layer, PubSub } from "effect"
import { BoundedMap } from "../internal/boundedMap.ts"
import { SeenCache } from "../internal/seenCache.ts"
import { supervised } from "../internal/supervise.ts"
import { TokenBucket } from "../internal/tokenBucket.ts"
import { attachmentTag, encodeSigned } from "../schema/binaryFrames.ts"
import { type DirectFrame, MAX_ATTEMPT, MAX_LANDMARKS_PER_FRAME } from "../schema/PeerFrames.ts"
import type { PeerId } from "../schema/PeerId.ts"
import { Connections } from "../services/Connections.ts"
import { PeerKeys } from "../services/PeerKeys.ts"
import { type Delivered, Gossip, InvalidMessage } from "../services/Gossip.ts"
import { Identity } from "../services/Identity.ts"
import { MeshConfig } from "../services/MeshConfig.ts"
import { MeshEvents } from "../services/MeshEvents.ts"
import { Router, type RouterStats, type Undelivered } from "../services/Router.ts"
import { makeAcks } from "./router/acks.ts"
import { makeRouting, ROUTES_LIMIT } from "./router/routing.ts"
import { checkContent, checkOrigin, MAX_BATCH, signBatch, toDelivered, unsignedFields } from "./signedMessages.ts"

export { ROUTES_LIMIT }
/** Flooded direct frames forwarded per origin: 20/s, burst 200. */
export const FLOOD_BUDGET = { perSecond: 20, burst: 200 } as const

export const layer = Layer.effect(
  Router,
  Effect.gen(function*() {
    const config = yield* MeshConfig
    const identity = yield* Identity
    const connections = yield* Connections
    const gossip = yield* Gossip
    const keys = yield* PeerKeys
    const events = yield* MeshEvents
    const self = identity.peerId
    const delivered = yield* Effect.acquireRelease(PubSub.unbounded<Delivered>(), PubSub.shutdown)
    const undelivered = yield* Effect.acquireRelease(PubSub.unbounded<Undelivered>(), PubSub.shutdown)
    const seen = new SeenCache({ maxEntries: config.seenCacheSize, ttlMs: config.seenCacheTtl })
    /**
     * Ids delivered here, apart from `seen` (which every relayed copy fills), and large enough
     * to outlast retransmissions (3, 9, 21, 45 s after sending) at high rates: 60,000 ids are
     * 12 s at 5,000 messages/s. It only fills at such rates; its entries expire with `seen`'s.
     */
    const deliveredIds = new SeenCache({ maxEntries: Math.max(config.seenCacheSize, 60_000), ttlMs: config.seenCacheTtl })
    const stats = { sent: 0, delivered: 0, forwarded: 0, flooded: 0, duplicates: 0, dropped: 0, forged: 0 }
    /** Reverse-path routes and landmarks. */
    const routing = makeRouting({ self, repairWindow: config.repairWindow, xorRouting: () => config.xorRouting })
    /** Flooded frames each origin may have this hop forward. */
    const floodBudgets = new BoundedMap<PeerId, TokenBucket>(ROUTES_LIMIT)
    /**
     * Hops a direct message may take. A backstop, not a budget: every routed hop makes strict
     * progress (XOR, then clockwise) and loops are caught by `seen`, and a walk up the ring
     * can take a hundred hops and more in a network of a thousand peers with few links
     * (maxPeers 4, no presence: 129 RPC messages of one DHT bench run ran out of a bound of 128).
     */
    const DIRECT_TTL = 1024

    /**
     * Passes a frame on from this hop (`from` is the neighbour it came from, if any; `avoid` a
     * next hop not to use; `linked` the neighbours, when the caller has them). Returns the neighbour it went to, or `undefined` when it flooded.
     */
    const forward = Effect.fnUntraced(function*(
      frame: DirectFrame,
      from: PeerId | undefined,
      avoid?: PeerId,
      linked?: ReadonlyArray<PeerId>
    ) {
      const neighbours = linked ?? (yield* connections.connected)
      const now = yield* Clock.currentTimeMillis
      const { home, homeRoute, hops: choices } = routing.choices(frame, neighbours, from, avoid, now)
      for (const { peer, ring } of choices) {
        const copy = ring && frame.ring !== true
          ? { ...frame, ring: true }
          : peer === homeRoute && home !== undefined && frame.home !== home
          ? { ...frame, home }
          : frame
        if (yield* connections.send(peer, encodeSigned(copy))) {
          stats.forwarded++
          return peer
        }
      }
      // no progress possible (or XOR routing off): flood, delivered only by the target
      const text = encodeSigned({ ...frame, flood: true })
      stats.flooded++
      for (const n of neighbours) {
        if (n !== from && n !== frame.origin) yield* connections.send(n, text)
      }
      return undefined
    })

    /**
     * A message for this peer. Checked before anything else is decided, so that a forged copy
     * (another origin's message id with other content) neither gets acknowledged nor keeps the
     * genuine message out; every copy not yet delivered is checked (copies of a batch cost a
     * hash or two each, the batch's signature having been checked once).
     */
    const receiveOwn = Effect.fnUntraced(function*(from: PeerId, frame: DirectFrame, now: number) {
      if (frame.kind === "ack") return yield* acks.onAck(frame)
      if (deliveredIds.has(frame.id, now)) {
        // delivered before: a retransmission, so our ack was lost; acknowledge again, once per
        // attempt (a flooded attempt arrives many times)
        if (frame.ack === true && seen.add(`${frame.id}:${frame.attempt ?? 0}:reack`, now)) {
          acks.owe(frame.origin, frame.id)
        }
        stats.duplicates++
        return
      }
      const check = yield* checkOrigin(keys, frame, config.allowUnverifiedPeers)
      if (check === "forged") {
        stats.dropped++
        stats.forged++
        return
      }
      deliveredIds.add(frame.id, now)
      routing.fromRouted(frame.origin, from, now, yield* connections.connected)
      if (frame.ack === true) acks.owe(frame.origin, frame.id)
      stats.delivered++
      yield* PubSub.publish(delivered, toDelivered(frame, check))
    })

    /**
     * A frame passing through. Checked before it is forwarded (junk stops at the first honest
     * hop), and each of its copies (routed, up the ring, flooded) is forwarded once per
     * attempt; an attempt is signed by the origin, so a relay cannot renumber a copy.
     */
    const receive = Effect.fnUntraced(function*(from: PeerId, frame: DirectFrame) {
      const now = yield* Clock.currentTimeMillis
      if (frame.to === self) return yield* receiveOwn(from, frame, now)
      const attempt = frame.attempt ?? 0
      if (attempt < 0 || attempt > MAX_ATTEMPT || frame.ttl <= 1) {
        stats.dropped++
        return
      }
      // a flooded copy may pass hops the greedy copy already crossed: de-duplicate them apart
      // (and the ring leg of a copy may cross hops its XOR leg crossed). A copy seen before
      // is not forwarded again: a replay looks exactly like a route loop, and a loop's message
      // is retransmitted around the hop that lost it (see `retransmit`)
      const key = `${frame.id}:${attempt}${frame.flood ? ":flood" : frame.ring === true ? ":ring" : ""}`
      if (seen.has(key, now)) {
        stats.duplicates++
        return
      }
      if ((yield* checkOrigin(keys, frame, config.allowUnverifiedPeers)) === "forged") {
        stats.dropped++
        stats.forged++
        return
      }
      // flooding crosses every link of the network: each origin gets a small budget of it
      // (honest peers flood only retransmissions and the rare message greedy routing cannot place)
      if (frame.flood) {
        let budget = floodBudgets.touch(frame.origin)
        if (budget === undefined) floodBudgets.set(frame.origin, budget = new TokenBucket(FLOOD_BUDGET, now))
        if (!budget.take(now)) {
          stats.dropped++
          return
        }
      }
      // (another copy may have passed its check meanwhile)
      if (!seen.add(key, now)) {
        stats.duplicates++
        return
      }
      const neighbours = yield* connections.connected
      if (!frame.flood) routing.fromRouted(frame.origin, from, now, neighbours)
      const next = { ...frame, ttl: Math.min(frame.ttl, DIRECT_TTL) - 1, hops: frame.hops + 1 }
      yield* forward(next, from, undefined, neighbours)
    })

    // learn reverse-path routes from every broadcast's first arrival: the neighbour that
    // delivered the origin's latest broadcast first. Arrival order, not the unsigned `hops`
    // field, decides, so a neighbour cannot capture routes by lying about its distance;
    // one broadcast's first arrivals form a tree, so routes learned from it make no loops
    const broadcasts = yield* gossip.subscribe
    yield* supervised(
      "Router.routes",
      Effect.gen(function*() {
        while (true) {
          const m = yield* PubSub.take(broadcasts)
          routing.fromBroadcast(m, yield* Clock.currentTimeMillis)
        }
      })
    ).pipe(Effect.forkScoped)

    const acks = yield* makeAcks({ config, identity, keys, seen, stats, undelivered, directTtl: DIRECT_TTL, forward })

    // a new neighbour hears of the landmarks at once, not at their next presence: a peer that
    // just joined has a way towards each of them (and so towards everyone's home)
    const linkEvents = yield* PubSub.subscribe(events)
    yield* supervised(
      "Router.handoff",
      Effect.gen(function*() {
        while (true) {
          const event = yield* PubSub.take(linkEvents)
          if (event._tag !== "PeerConnected") continue
          const l = routing.handoff(yield* Clock.currentTimeMillis, MAX_LANDMARKS_PER_FRAME)
          if (l.length > 0) yield* connections.send(event.peerId, JSON.stringify({ t: "landmarks", l }))
        }
      })
    ).pipe(Effect.forkScoped)

    const inbound = yield* connections.inbound
    yield* supervised(
      "Router.inbound",
      Effect.gen(function*() {
        while (true) {
          const { from, frame } = yield* PubSub.take(inbound)
          if (frame.t === "direct") yield* receive(from, frame)
          else if (frame.t === "landmarks") routing.fromHandoff(from, frame.l, yield* Clock.currentTimeMillis)
        }
      })
    ).pipe(Effect.forkScoped)

    // Outgoing messages are signed in batches (`signBatch`): whatever is waiting when the
    // signer runs, up to MAX_BATCH under one signature; alone, a message gets its own. `send`
    // resumes once its message is handed to a link, as when it signed it itself.
    interface Outgoing {
      readonly frame: Omit<DirectFrame, "sig">
      readonly done: Deferred.Deferred<void>
    }
    let outgoing: Array<Outgoing> = []
    let stopped = false
    const wake = yield* Latch.make(false)
    const abandon = (items: ReadonlyArray<Outgoing>) => {
      for (const item of items) Deferred.doneUnsafe(item.done, Effect.interrupt)
    }
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        stopped = true
        abandon(outgoing)
        outgoing = []
      })
    )
    const signAndForward = (batch: ReadonlyArray<Outgoing>) =>
      Effect.gen(function*() {
        const sigs = yield* signBatch(identity, batch.map((item) => item.frame))
        const neighbours = yield* connections.connected
        for (let i = 0; i < batch.length; i++) {
          const frame: DirectFrame = { ...batch[i]!.frame, sig: sigs[i]! }
          seen.add(`${frame.id}:0`, frame.ts)
          stats.sent++
          // to a neighbour (the common case) straight onto its link, else routed
          const direct = neighbours.includes(frame.to) && (yield* connections.send(frame.to, encodeSigned(frame)))
          if (direct) stats.forwarded++
          const via = direct ? frame.to : yield* forward(frame, undefined)
          if (frame.ack === true) acks.track(frame, via)
          Deferred.doneUnsafe(batch[i]!.done, Exit.void)
        }
      }).pipe(Effect.ensuring(Effect.sync(() => abandon(batch))))
    yield* supervised("Router.signer", Effect.gen(function*() {
      while (true) {
        yield* wake.await
        // let the senders that are ready run first, so that their messages share a signature
        yield* Effect.yieldNow
        wake.closeUnsafe()
        while (outgoing.length > 0) yield* signAndForward(outgoing.splice(0, MAX_BATCH))
      }
    })).pipe(Effect.forkScoped)

    return Router.of({
      send: (to, content, kind = "message", options) =>
        Effect.gen(function*() {
          if (to === self) return yield* new InvalidMessage({ message: "cannot send a direct message to self" })
          const payload = options?.payload
          yield* checkContent(content, config.maxMessageSize - (payload?.byteLength ?? 0))
          const fields = yield* unsignedFields(identity, content, Math.max(config.gossipTtl, DIRECT_TTL), options?.id)
          if (stopped) return yield* Effect.interrupt
          const attached = payload === undefined ? {} : { bin: attachmentTag(payload), payload }
          const item: Outgoing = {
            frame: { t: "direct", kind, to, flood: false, ack: options?.ack ?? true, ...fields, ...attached },
            done: Deferred.makeUnsafe<void>()
          }
          outgoing.push(item)
          wake.openUnsafe()
          yield* Deferred.await(item.done)
          return fields.id
        }),
      subscribe: PubSub.subscribe(delivered),
      undelivered: PubSub.subscribe(undelivered),
      stats: Effect.sync((): RouterStats => ({ ...stats })),
      homeOf: (target) => Effect.map(Clock.currentTimeMillis, (now) => routing.homeOf(target, now)),
      landmarkOverdue: (id) => Effect.map(Clock.currentTimeMillis, (now) => routing.landmarkOverdue(id, now))
    })
  }).pipe(Effect.annotateLogs("module", "Router"))
)
