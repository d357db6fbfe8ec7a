/**
 * The `Router` layer: direct messages over several hops.
 *
 * Each hop, in order of preference:
 * 1. the target is a neighbour: hand it over;
 * 2. reverse-path route: the neighbour through which the target's latest broadcast (its
 *    presence, say) first arrived is on a fast path back to it;
 * 3. greedy XOR: the neighbour XOR-closest to the target, if strictly closer than this hop
 *    (the progress check rules out loops);
 * 4. up the ring: the neighbour with the least clockwise distance to the target, if less than
 *    this hop's (ring links make sure there is one while the ring is intact);
 * 5. flooding, de-duplicated by every hop and delivered only by the target, once.
 * A hop that sees a routed copy twice (a route loop while links change) floods it instead.
 *
 * End to end, the target acknowledges each message; the sender retransmits (flooded) what
 * is not acknowledged in time, so a link that drops mid-flight loses nothing. The target
 * delivers each message id once.
 *
 * @since 2.0.0
 */
import { Clock, Effect, Layer, PubSub, Schedule } from "effect"
import { clockwiseDistance } from "../internal/ring.ts"
import { SeenCache } from "../internal/seenCache.ts"
import type { DirectFrame } from "../schema/PeerFrames.ts"
import { distance, type PeerId } from "../schema/PeerId.ts"
import { Connections } from "../services/Connections.ts"
import { PeerKeys } from "../services/PeerKeys.ts"
import { type Delivered, Gossip, InvalidMessage } from "../services/Gossip.ts"
import { Identity } from "../services/Identity.ts"
import { MeshConfig } from "../services/MeshConfig.ts"
import { Router, type RouterStats } from "../services/Router.ts"
import { checkContent, checkOrigin, signFields, toDelivered } from "./signedMessages.ts"

export const layer = Layer.effect(
  Router,
  Effect.gen(function*() {
    const config = yield* MeshConfig
    const identity = yield* Identity
    const connections = yield* Connections
    const gossip = yield* Gossip
    const keys = yield* PeerKeys
    const self = identity.peerId
    const delivered = yield* Effect.acquireRelease(PubSub.unbounded<Delivered>(), PubSub.shutdown)
    const seen = new SeenCache({ maxEntries: config.seenCacheSize, ttlMs: config.seenCacheTtl })
    const stats = { sent: 0, delivered: 0, forwarded: 0, flooded: 0, duplicates: 0, dropped: 0 }
    /** Reverse-path routes: origin -> the neighbour its newest broadcast came through, and when. */
    const routes = new Map<PeerId, { readonly via: PeerId; readonly hops: number; readonly at: number }>()
    const ROUTE_STALE_MS = 15_000

    /** Passes a frame on from this hop (`from` is the neighbour it came from, if any). */
    const forward = Effect.fnUntraced(function*(frame: DirectFrame, from: PeerId | undefined) {
      const neighbours = yield* connections.connected
      if (neighbours.includes(frame.to)) {
        if (yield* connections.send(frame.to, JSON.stringify(frame))) {
          stats.forwarded++
          return
        }
      }
      if (!frame.flood) {
        const route = routes.get(frame.to)
        const now = yield* Clock.currentTimeMillis
        if (route !== undefined && route.via !== from && now - route.at < config.repairWindow && neighbours.includes(route.via)) {
          if (yield* connections.send(route.via, JSON.stringify(frame))) {
            stats.forwarded++
            return
          }
        }
      }
      if (!frame.flood && config.xorRouting) {
        const own = distance(self, frame.to)
        let best: PeerId | undefined
        let bestDistance = own
        for (const n of neighbours) {
          if (n === from) continue
          const d = distance(n, frame.to)
          if (d < bestDistance) {
            best = n
            bestDistance = d
          }
        }
        if (best !== undefined && (yield* connections.send(best, JSON.stringify(frame)))) {
          stats.forwarded++
          return
        }
      }
      if (!frame.flood && config.xorRouting) {
        // no XOR progress: go up the ring instead; every peer links its ring neighbours, so
        // some neighbour is always closer this way (clockwiseDistance), and no copy loops
        const own = clockwiseDistance(self, frame.to)
        let best: PeerId | undefined
        let bestDistance = own
        for (const n of neighbours) {
          if (n === from) continue
          const d = clockwiseDistance(n, frame.to)
          if (d < bestDistance) {
            best = n
            bestDistance = d
          }
        }
        if (best !== undefined && (yield* connections.send(best, JSON.stringify(frame)))) {
          stats.forwarded++
          return
        }
      }
      // no progress possible (or XOR routing off): flood, delivered only by the target
      const text = JSON.stringify({ ...frame, flood: true })
      stats.flooded++
      for (const n of neighbours) {
        if (n !== from && n !== frame.origin) yield* connections.send(n, text)
      }
    })

    const receive = Effect.fnUntraced(function*(from: PeerId, frame: DirectFrame) {
      const now = yield* Clock.currentTimeMillis
      // a flooded copy may pass hops the greedy copy already crossed: de-duplicate them apart
      const attempt = frame.attempt ?? 0
      if (!seen.add(`${frame.id}:${attempt}${frame.flood ? ":flood" : ""}`, now)) {
        // a routed copy back here means a route loop: flood it (once) rather than lose it
        if (!frame.flood && frame.to !== self && seen.add(`${frame.id}:${attempt}:loop`, now)) {
          return yield* forward({ ...frame, flood: true }, from)
        }
        stats.duplicates++
        return
      }
      if (frame.to === self) {
        if (frame.kind === "ack") {
          if (typeof frame.content === "string") yield* acknowledged(frame.content)
          return
        }
        if (frame.ack === true) yield* sendAck(frame.origin, frame.id)
        if (!seen.add(`${frame.id}:delivered`, now)) {
          stats.duplicates++
          return
        }
        const check = yield* checkOrigin(keys, frame)
        if (check === "forged") {
          stats.dropped++
          return
        }
        stats.delivered++
        yield* PubSub.publish(delivered, toDelivered(frame, check))
        return
      }
      if (frame.ttl <= 1) {
        stats.dropped++
        return
      }
      yield* forward({ ...frame, ttl: frame.ttl - 1, hops: frame.hops + 1 }, from)
    })

    // learn reverse-path routes from every broadcast's first arrival
    const broadcasts = yield* gossip.subscribe
    yield* Effect.gen(function*() {
      while (true) {
        const m = yield* PubSub.take(broadcasts)
        if (m.via === undefined) continue
        const now = yield* Clock.currentTimeMillis
        const current = routes.get(m.origin)
        // keep the fewest-hops route (consistent between neighbours, so no loops); refresh it
        // when the same neighbour delivers again, replace it once it is stale
        if (
          current === undefined || m.hops < current.hops || current.via === m.via ||
          now - current.at > ROUTE_STALE_MS
        ) {
          routes.set(m.origin, { via: m.via, hops: m.hops, at: now })
        }
      }
    }).pipe(Effect.forkScoped)

    /** Messages awaiting their acknowledgement: id -> the frame and its next retransmission. */
    const unacked = new Map<string, { frame: DirectFrame; attempt: number; dueAt: number }>()
    const RETRIES = 4
    // patient first: a busy network answers late, and an eager flood makes it busier
    const retryAfter = (attempt: number) => 3000 * 2 ** attempt

    const acknowledged = (id: string) => Effect.sync(() => void unacked.delete(id))

    const sendAck = Effect.fnUntraced(function*(to: PeerId, id: string) {
      const fields = yield* signFields(identity, { t: "direct", kind: "ack", to }, id, Math.max(config.gossipTtl, 32))
      yield* forward({ t: "direct", kind: "ack", to, flood: false, ...fields }, undefined)
    })

    // retransmit, flooded, what was not acknowledged in time; give up after RETRIES
    yield* Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      for (const [id, pending] of unacked) {
        if (pending.dueAt > now) continue
        if (pending.attempt >= RETRIES) {
          unacked.delete(id)
          stats.dropped++
          continue
        }
        pending.attempt++
        pending.dueAt = now + retryAfter(pending.attempt)
        // the first retransmission is routed again (links may have changed); later ones flood
        const flood = pending.attempt > 1
        if (flood) stats.flooded++
        yield* forward({ ...pending.frame, attempt: pending.attempt, flood }, undefined)
      }
    }).pipe(Effect.repeat(Schedule.spaced(250)), Effect.forkScoped)

    const inbound = yield* connections.inbound
    yield* Effect.gen(function*() {
      while (true) {
        const { from, frame } = yield* PubSub.take(inbound)
        if (frame.t === "direct") yield* receive(from, frame)
      }
    }).pipe(Effect.forkScoped)

    return Router.of({
      send: (to, content, kind = "message") =>
        Effect.gen(function*() {
          if (to === self) return yield* new InvalidMessage({ message: "cannot send a direct message to self" })
          yield* checkContent(content, config.maxMessageSize)
          const fields = yield* signFields(identity, { t: "direct", kind, to }, content, Math.max(config.gossipTtl, 32))
          const frame: DirectFrame = { t: "direct", kind, to, flood: false, ack: true, ...fields }
          seen.add(`${frame.id}:0`, fields.ts)
          unacked.set(frame.id, { frame, attempt: 0, dueAt: fields.ts + retryAfter(0) })
          stats.sent++
          yield* forward(frame, undefined)
          return frame.id
        }),
      subscribe: PubSub.subscribe(delivered),
      stats: Effect.sync((): RouterStats => ({ ...stats }))
    })
  }).pipe(Effect.annotateLogs("module", "Router"))
)
