/**
 * The `Gossip` layer: signed flooding with a TTL and a bounded seen-cache.
 *
 * A frame is checked once, on first receipt: duplicates are dropped before any crypto, a
 * forged origin is dropped and not forwarded, and a valid one is delivered and forwarded to
 * every other link. Only a hop counter travels, never a path list.
 *
 * @since 2.0.0
 */
import { Clock, Effect, Layer, PubSub } from "effect"
import { SeenCache } from "../internal/seenCache.ts"
import type { GossipFrame } from "../schema/PeerFrames.ts"
import type { PeerId } from "../schema/PeerId.ts"
import { Connections } from "../services/Connections.ts"
import { PeerKeys } from "../services/PeerKeys.ts"
import { type Delivered, Gossip, type GossipStats } from "../services/Gossip.ts"
import { Identity } from "../services/Identity.ts"
import { MeshConfig } from "../services/MeshConfig.ts"
import { checkContent, checkOrigin, signFields } from "./signedMessages.ts"

export const layer = Layer.effect(
  Gossip,
  Effect.gen(function*() {
    const config = yield* MeshConfig
    const identity = yield* Identity
    const connections = yield* Connections
    const keys = yield* PeerKeys
    const delivered = yield* Effect.acquireRelease(PubSub.unbounded<Delivered>(), PubSub.shutdown)
    const seen = new SeenCache({ maxEntries: config.seenCacheSize, ttlMs: config.seenCacheTtl })
    const stats = { published: 0, delivered: 0, duplicates: 0, forwarded: 0, dropped: 0 }

    /** Sends a frame to every connected peer except `except`. */
    const flood = Effect.fnUntraced(function*(frame: GossipFrame, except: PeerId | undefined) {
      const text = JSON.stringify(frame)
      for (const peer of yield* connections.connected) {
        if (peer === except || peer === frame.origin) continue
        if (yield* connections.send(peer, text)) stats.forwarded++
      }
    })

    const receive = Effect.fnUntraced(function*(from: PeerId, frame: GossipFrame) {
      const now = yield* Clock.currentTimeMillis
      if (frame.origin === identity.peerId || !seen.add(frame.id, now)) {
        stats.duplicates++
        return
      }
      const check = yield* checkOrigin(keys, frame)
      if (check === "forged" || frame.ttl < 1) {
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
      if (frame.ttl > 1) yield* flood({ ...frame, ttl: frame.ttl - 1, hops: frame.hops + 1 }, from)
    })

    const inbound = yield* connections.inbound
    yield* Effect.gen(function*() {
      while (true) {
        const { from, frame } = yield* PubSub.take(inbound)
        if (frame.t === "gossip") yield* receive(from, frame)
      }
    }).pipe(Effect.forkScoped)

    return Gossip.of({
      publish: (content, kind = "message") =>
        Effect.gen(function*() {
          yield* checkContent(content, config.maxMessageSize)
          const fields = yield* signFields(identity, { t: "gossip", kind }, content, config.gossipTtl)
          const frame: GossipFrame = { t: "gossip", kind, ...fields }
          seen.add(frame.id, fields.ts)
          stats.published++
          yield* flood(frame, undefined)
          return frame.id
        }),
      subscribe: PubSub.subscribe(delivered),
      stats: Effect.sync((): GossipStats => ({ ...stats }))
    })
  }).pipe(Effect.annotateLogs("module", "Gossip"))
)
