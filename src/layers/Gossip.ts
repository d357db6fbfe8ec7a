/**
 * The `Gossip` layer: signed flooding with a TTL and a bounded seen-cache.
 *
 * A frame is checked once, on first receipt: duplicates are dropped before any crypto, a
 * forged origin is dropped and not forwarded, and a valid one is delivered and forwarded to
 * every other link. Only a hop counter travels, never a path list.
 *
 * Anti-entropy repairs what flooding loses (a link closing with frames in flight, a lossy
 * network, a link formed after the flood passed): every `repairInterval` each peer tells each
 * neighbour the ids of recent broadcasts that neighbour is not known to hold (`ihave`); the
 * neighbour asks for the ones it lacks (`iwant`) and gets the frames, which then flow on as
 * usual. Presence is left out: the next one replaces a lost one, and repairing it would cost
 * every link an `ihave` per presence interval.
 *
 * @since 2.0.0
 */
import { Clock, Effect, Layer, PubSub, Schedule } from "effect"
import { BoundedMap } from "../internal/boundedMap.ts"
import { resolveRateLimits } from "../internal/linkLimits.ts"
import { SeenCache } from "../internal/seenCache.ts"
import { TokenBucket } from "../internal/tokenBucket.ts"
import { supervised } from "../internal/supervise.ts"
import { attachmentTag, encodedSize, encodeSigned } from "../schema/binaryFrames.ts"
import type { GossipFrame } from "../schema/PeerFrames.ts"
import type { PeerId } from "../schema/PeerId.ts"
import { Connections } from "../services/Connections.ts"
import type { LinkMessage } from "../services/PeerTransport.ts"
import { PeerKeys } from "../services/PeerKeys.ts"
import { type Delivered, Gossip, type GossipStats } from "../services/Gossip.ts"
import { Identity } from "../services/Identity.ts"
import { MeshConfig } from "../services/MeshConfig.ts"
import { checkContent, checkOrigin, signFields, toDelivered } from "./signedMessages.ts"

/** Most broadcasts held for repair. */
export const RECENT_LIMIT = 2048
/** Most characters of broadcasts held for repair (8 Mi characters, 16 MiB of UTF-16 at most). */
export const RECENT_CHARS_LIMIT = 8 * 1024 * 1024

export const layer = Layer.effect(
  Gossip,
  Effect.gen(function*() {
    const config = yield* MeshConfig
    const identity = yield* Identity
    const connections = yield* Connections
    const keys = yield* PeerKeys
    const delivered = yield* Effect.acquireRelease(PubSub.unbounded<Delivered>(), PubSub.shutdown)
    const seen = new SeenCache({ maxEntries: config.seenCacheSize, ttlMs: config.seenCacheTtl })
    const stats = { published: 0, delivered: 0, duplicates: 0, forwarded: 0, dropped: 0, repaired: 0, recentChars: 0 }
    /** Recent broadcasts held for repair: id -> the frame as we forwarded it, and when. */
    const recent = new Map<string, { readonly text: LinkMessage; readonly at: number }>()
    /**
     * Per neighbour and id: how many times we advertised it there, or `HOLDS` once the
     * neighbour sent or advertised it itself. An id is advertised at most twice per neighbour
     * (the second time covers a lost `ihave` or `iwant`).
     */
    const knownBy = new Map<PeerId, Map<string, number>>()
    /** Broadcasts each origin may still have delivered and forwarded here. */
    const perOrigin = resolveRateLimits(config.rateLimits).gossipPerOrigin
    const budgets = new BoundedMap<PeerId, TokenBucket>(4096)
    const HOLDS = Number.POSITIVE_INFINITY
    const ADVERTISE_AT_MOST = 2

    const forget = (id: string) => {
      const held = recent.get(id)
      if (held === undefined) return
      recent.delete(id)
      stats.recentChars -= encodedSize(held.text)
    }
    /** Holds a frame for repair; the oldest go once over RECENT_LIMIT frames or RECENT_CHARS_LIMIT characters. */
    const remember = (id: string, text: LinkMessage, at: number) => {
      forget(id)
      recent.set(id, { text, at })
      stats.recentChars += encodedSize(text)
      while (recent.size > RECENT_LIMIT || stats.recentChars > RECENT_CHARS_LIMIT) forget(recent.keys().next().value!)
    }
    const knownAt = (peer: PeerId) => {
      let map = knownBy.get(peer)
      if (map === undefined) knownBy.set(peer, map = new Map<string, number>())
      return map
    }
    const knows = (peer: PeerId, id: string) => {
      knownAt(peer).set(id, HOLDS)
    }

    /** Sends a frame to every connected peer except `except`. */
    const flood = Effect.fnUntraced(function*(frame: GossipFrame, except: PeerId | undefined) {
      const text = encodeSigned(frame)
      // presence repeats by itself (a lost one is replaced by the next): not worth repairing
      if (frame.kind !== "presence") remember(frame.id, text, yield* Clock.currentTimeMillis)
      for (const peer of yield* connections.connected) {
        if (peer === except || peer === frame.origin) continue
        if (yield* connections.send(peer, text)) stats.forwarded++
      }
    })

    const receive = Effect.fnUntraced(function*(from: PeerId, frame: GossipFrame) {
      const now = yield* Clock.currentTimeMillis
      knows(from, frame.id)
      if (frame.origin === identity.peerId || seen.has(frame.id, now)) {
        stats.duplicates++
        return
      }
      // checked before it counts as seen: a forged copy must not shadow the genuine message
      const check = yield* checkOrigin(keys, frame, config.allowUnverifiedPeers)
      if (check === "forged" || frame.ttl < 1) {
        stats.dropped++
        return
      }
      // (another copy may have passed its check meanwhile)
      if (!seen.add(frame.id, now)) {
        stats.duplicates++
        return
      }
      let budget = budgets.touch(frame.origin)
      if (budget === undefined) budgets.set(frame.origin, budget = new TokenBucket(perOrigin, now))
      if (!budget.take(now)) {
        stats.dropped++
        return
      }
      stats.delivered++
      yield* PubSub.publish(delivered, toDelivered(frame, check, from))
      if (frame.ttl > 1) yield* flood({ ...frame, ttl: frame.ttl - 1, hops: frame.hops + 1 }, from)
    })

    const onIHave = Effect.fnUntraced(function*(from: PeerId, ids: ReadonlyArray<string>) {
      const now = yield* Clock.currentTimeMillis
      const missing: Array<string> = []
      for (const id of ids) {
        knows(from, id)
        if (!seen.has(id, now)) missing.push(id)
      }
      if (missing.length > 0) yield* connections.send(from, JSON.stringify({ t: "iwant", ids: missing }))
    })

    const onIWant = Effect.fnUntraced(function*(from: PeerId, ids: ReadonlyArray<string>) {
      for (const id of ids) {
        const held = recent.get(id)
        if (held === undefined) continue
        stats.repaired++
        knows(from, id)
        yield* connections.send(from, held.text)
      }
    })

    /** One repair round: advertise to each neighbour the recent ids it is not known to hold. */
    const advertise = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      for (const [id, held] of recent) {
        if (now - held.at <= config.repairWindow) break
        forget(id)
      }
      // nothing recent: nothing to advertise nor to remember who holds it (an idle round is cheap)
      if (recent.size === 0) return knownBy.clear()
      const neighbours = new Set(yield* connections.connected)
      for (const peer of knownBy.keys()) if (!neighbours.has(peer)) knownBy.delete(peer)
      for (const peer of neighbours) {
        const known = knownAt(peer)
        for (const id of known.keys()) if (!recent.has(id)) known.delete(id)
        const ids: Array<string> = []
        for (const id of recent.keys()) {
          const times = known.get(id) ?? 0
          if (times >= ADVERTISE_AT_MOST) continue
          known.set(id, times + 1)
          ids.push(id)
          if (ids.length === 1024) break
        }
        if (ids.length > 0) yield* connections.send(peer, JSON.stringify({ t: "ihave", ids }))
      }
    })
    if (config.repairInterval > 0) {
      yield* supervised("Gossip.repair", advertise.pipe(Effect.repeat(Schedule.spaced(config.repairInterval)))).pipe(Effect.forkScoped)
    }

    const inbound = yield* connections.inbound
    yield* supervised(
      "Gossip.inbound",
      Effect.gen(function*() {
        while (true) {
          const { from, frame } = yield* PubSub.take(inbound)
          if (frame.t === "gossip") yield* receive(from, frame)
          else if (frame.t === "ihave") yield* onIHave(from, frame.ids)
          else if (frame.t === "iwant") yield* onIWant(from, frame.ids)
        }
      })
    ).pipe(Effect.forkScoped)

    return Gossip.of({
      publish: (content, kind = "message", options) =>
        Effect.gen(function*() {
          const payload = options?.payload
          yield* checkContent(content, config.maxMessageSize - (payload?.byteLength ?? 0))
          const attached = payload === undefined ? {} : { bin: attachmentTag(payload) }
          const header = { t: "gossip", kind, ...attached } as const
          const fields = yield* signFields(identity, header, content, config.gossipTtl, options?.id)
          const frame: GossipFrame = { ...header, ...fields, ...(payload === undefined ? {} : { payload }) }
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
