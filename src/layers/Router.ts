/**
 * The `Router` layer: direct messages over several hops.
 *
 * Greedy XOR routing: each hop hands the message to the neighbour XOR-closest to the target,
 * but only if that neighbour is strictly closer than the hop itself (the progress check
 * makes loops impossible). A hop that cannot make progress switches the message to flooding;
 * flooded copies are de-duplicated by every hop and delivered only by the target, once.
 *
 * @since 2.0.0
 */
import { Clock, Effect, Layer, PubSub } from "effect"
import { SeenCache } from "../internal/seenCache.ts"
import type { DirectFrame } from "../schema/PeerFrames.ts"
import { distance, type PeerId } from "../schema/PeerId.ts"
import { Connections } from "../services/Connections.ts"
import { PeerKeys } from "../services/PeerKeys.ts"
import { type Delivered, InvalidMessage } from "../services/Gossip.ts"
import { Identity } from "../services/Identity.ts"
import { MeshConfig } from "../services/MeshConfig.ts"
import { Router, type RouterStats } from "../services/Router.ts"
import { checkContent, checkOrigin, signFields } from "./signedMessages.ts"

export const layer = Layer.effect(
  Router,
  Effect.gen(function*() {
    const config = yield* MeshConfig
    const identity = yield* Identity
    const connections = yield* Connections
    const keys = yield* PeerKeys
    const self = identity.peerId
    const delivered = yield* Effect.acquireRelease(PubSub.unbounded<Delivered>(), PubSub.shutdown)
    const seen = new SeenCache({ maxEntries: config.seenCacheSize, ttlMs: config.seenCacheTtl })
    const stats = { sent: 0, delivered: 0, forwarded: 0, flooded: 0, duplicates: 0, dropped: 0 }

    /** Passes a frame on from this hop (`from` is the neighbour it came from, if any). */
    const forward = Effect.fnUntraced(function*(frame: DirectFrame, from: PeerId | undefined) {
      const neighbours = yield* connections.connected
      if (neighbours.includes(frame.to)) {
        if (yield* connections.send(frame.to, JSON.stringify(frame))) {
          stats.forwarded++
          return
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
      if (!seen.add(frame.flood ? `${frame.id}:flood` : frame.id, now)) {
        stats.duplicates++
        return
      }
      if (frame.to === self) {
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
        yield* PubSub.publish(delivered, {
          id: frame.id,
          kind: frame.kind,
          origin: frame.origin,
          content: frame.content,
          hops: frame.hops + 1,
          timestamp: frame.ts,
          verified: check === "verified"
        })
        return
      }
      if (frame.ttl <= 1) {
        stats.dropped++
        return
      }
      yield* forward({ ...frame, ttl: frame.ttl - 1, hops: frame.hops + 1 }, from)
    })

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
          const frame: DirectFrame = { t: "direct", kind, to, flood: false, ...fields }
          seen.add(frame.id, fields.ts)
          stats.sent++
          yield* forward(frame, undefined)
          return frame.id
        }),
      subscribe: PubSub.subscribe(delivered),
      stats: Effect.sync((): RouterStats => ({ ...stats }))
    })
  }).pipe(Effect.annotateLogs("module", "Router"))
)
