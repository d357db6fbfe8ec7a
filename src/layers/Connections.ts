/**
 * The `Connections` layer: the lifecycle of every direct link.
 *
 * A link is one fiber in a `FiberMap` keyed by peer id: it opens the transport (offer/answer
 * through signaling), runs the identity handshake (each side signs the other's nonce; the
 * id must derive from the key unless the peer uses a custom, unverified id), then reads
 * frames until the link closes. Glare (both sides offering at once) is settled by the
 * PeerPigeon rule: the greater id's offer wins. A full node takes a closer peer by evicting
 * its farthest one, with an `evict` notice first. Links to ring neighbours (`protect`) and the
 * one long link (internal/protectedLinks.ts) are never evicted, and offers for them are taken
 * even at capacity.
 *
 * @since 2.0.0
 */
import { Clock, Deferred, Effect, Exit, FiberMap, Layer, PubSub, Queue } from "effect"
import { resolveRateLimits } from "../internal/linkLimits.ts"
import { type CapacityInput, evictionFor, overCapacityVictim, spareOf, victimFor } from "../internal/capacity.ts"
import { isLong, protectedLinks, wantsLongLink } from "../internal/protectedLinks.ts"
import { isInitiator, type PeerId } from "../schema/PeerId.ts"
import { handshake as linkHandshake } from "./connections/handshake.ts"
import { linkKeyExchange } from "../crypto/linkKeys.ts"
import { restartNumber } from "./webrtc/negotiation.ts"
import { makePeerMemory, REFUSED_COOLDOWN_MS } from "./connections/peerMemory.ts"
import { readLink } from "./connections/readLink.ts"
import {
  ConnectError,
  Connections,
  type ConnectionsStats,
  type Inbound,
  type MediaInbound,
  type PeerLinkInfo
} from "../services/Connections.ts"
import { Identity } from "../services/Identity.ts"
import { MeshConfig } from "../services/MeshConfig.ts"
import { MeshEvents } from "../services/MeshEvents.ts"
import { PeerKeys } from "../services/PeerKeys.ts"
import { type Link, LinkError, PeerTransport, type Signal } from "../services/PeerTransport.ts"
import { Signaling } from "../services/Signaling.ts"

interface Entry {
  readonly peerId: PeerId
  readonly initiator: boolean
  readonly signals: Queue.Queue<Signal>
  readonly since: number
  status: "connecting" | "connected"
  verified: boolean
  link: Link | undefined
  readonly bridge: boolean
  /** Being evicted: closing after its notice. */
  leaving: boolean
  /** Why this side is closing the link (`disconnect`), told to listeners when its fiber stops. */
  closeReason?: string
  /** Set when the peer refused our offer. */
  readonly refused: Deferred.Deferred<string>
}

/** Frames from the links waiting for Gossip and the Router; a full buffer stops reading the links (back-pressure). */
const INBOUND_BUFFER = 64

export const layer = Layer.effect(
  Connections,
  Effect.gen(function*() {
    const config = yield* MeshConfig
    const identity = yield* Identity
    const transport = yield* PeerTransport
    const signaling = yield* Signaling
    const events = yield* MeshEvents
    const keys = yield* PeerKeys
    const encryption = yield* linkKeyExchange
    const fibers = yield* FiberMap.make<PeerId, void, never>()
    const inbound = yield* Effect.acquireRelease(PubSub.bounded<Inbound>(INBOUND_BUFFER), PubSub.shutdown)
    const mediaInbound = yield* Effect.acquireRelease(PubSub.bounded<MediaInbound>(INBOUND_BUFFER), PubSub.shutdown)
    /** Links carrying media (the Media service says which): kept like ring links. */
    let mediaLinks: ReadonlySet<PeerId> = new Set()
    const entries = new Map<PeerId, Entry>()
    const { banned, coolDown, cooldowns, cooldownUntil, degrees, signalingVerified } = makePeerMemory()
    const rateLimits = resolveRateLimits(config.rateLimits)
    const stats = { invalidFrames: 0, rateLimitedFrames: 0, rateLimitDisconnects: 0 }
    /** Longest valid frame: the largest content plus its envelope (ids, key, a batch signature). */
    const maxFrameChars = config.maxMessageSize + 16 * 1024
    let ring: ReadonlySet<PeerId> = new Set()
    const self = identity.peerId
    /** True when this peer has, or is setting up, a long link that is not a ring link. */
    const hasLongLink = () => [...entries.values()].some((e) => !e.leaving && !ring.has(e.peerId) && isLong(self, e.peerId))
    /** An offer that would become this peer's only long link is taken like a ring neighbour's. */
    const wantedLong = (id: PeerId) => wantsLongLink(config.maxPeers) && isLong(self, id) && !ring.has(id) && !hasLongLink()

    // a link being evicted no longer counts: a second capacity check must not evict again
    const connectedIds = () => [...entries.values()].filter((e) => e.status === "connected" && !e.leaving).map((e) => e.peerId)

    const handshake = (entry: Entry, link: Link) =>
      linkHandshake(
        { identity, config, keys, encryption, signalingVerified: (id) => signalingVerified.get(id) === true },
        entry.peerId,
        link
      )

    /** Ends a link whose peer keeps exceeding its limits: tells it why, and refuses it for a while. */
    const banFor = Effect.fnUntraced(function*(entry: Entry, link: Link, why: string) {
      const now = yield* Clock.currentTimeMillis
      banned.set(entry.peerId, now + config.rateLimitCooldown)
      stats.rateLimitDisconnects++
      entry.leaving = true
      yield* link.send(JSON.stringify({ t: "evict", reason: why })).pipe(Effect.ignore)
      yield* PubSub.publish(events, { _tag: "PeerEvicted", peerId: entry.peerId, by: self, reason: why })
      yield* Effect.logWarning(`disconnected ${entry.peerId}: ${why}`)
      return why
    })

    const readLoop = (entry: Entry, link: Link) =>
      readLink({
        link,
        limits: rateLimits,
        maxFrameChars,
        deliver: (frame) => PubSub.publish(inbound, { from: entry.peerId, frame }),
        deliverMedia: (frame) => PubSub.publish(mediaInbound, { from: entry.peerId, frame }),
        overLimit: (why) => banFor(entry, link, why),
        counters: stats,
        evicted: (reason) =>
          Effect.andThen(coolDown(entry.peerId), PubSub.publish(events, { _tag: "PeerEvicted", peerId: self, by: entry.peerId, reason }))
      })

    const lifecycle = (entry: Entry) =>
      Effect.gen(function*() {
        const signals = {
          send: (signal: Signal) =>
            signaling.send(
              entry.peerId,
              // a bridge offer says so, so a full responder makes room instead of refusing
              entry.bridge && signal.kind === "offer" && signal.data !== null
                ? { ...signal, data: { ...signal.data, bridge: true } }
                : signal
            ).pipe(Effect.ignore),
          incoming: entry.signals
        }
        const setup = Effect.gen(function*() {
          const link = yield* transport.open(entry.peerId, {
            initiator: entry.initiator,
            signals,
            timeoutMs: config.connectionTimeout
          })
          const verified = yield* handshake(entry, link)
          return { link, verified }
        }).pipe(
          Effect.timeoutOrElse({
            duration: config.connectionTimeout,
            orElse: () => Effect.fail(new LinkError({ peerId: entry.peerId, reason: "timeout", message: "link setup timed out" }))
          }),
          Effect.raceFirst(
            Effect.flatMap(Deferred.await(entry.refused), (why) =>
              Effect.fail(new LinkError({ peerId: entry.peerId, reason: "refused", message: why })))
          )
        )
        const opened = yield* Effect.exit(setup)
        if (Exit.isFailure(opened)) {
          const error = opened.cause.reasons[0]
          const refused = error?._tag === "Fail" && error.error.reason === "refused"
          yield* coolDown(entry.peerId, refused ? REFUSED_COOLDOWN_MS : 0)
          yield* Effect.logDebug(`link to ${entry.peerId} failed`, error?._tag === "Fail" ? error.error.message : opened.cause)
          return
        }
        const { link, verified } = opened.value
        entry.link = link
        entry.verified = verified
        entry.status = "connected"
        cooldowns.delete(entry.peerId)
        yield* PubSub.publish(events, { _tag: "PeerConnected", peerId: entry.peerId, verified })
        yield* enforceCapacityFor(entry.peerId)
        const reason = yield* Effect.raceFirst(readLoop(entry, link), link.closed)
        yield* link.close(reason)
        // forget the link before telling anyone, so listeners see the new state
        if (entries.get(entry.peerId) === entry) entries.delete(entry.peerId)
        yield* PubSub.publish(events, { _tag: "PeerDisconnected", peerId: entry.peerId, reason })
      }).pipe(
        Effect.scoped,
        Effect.onInterrupt(() =>
          Effect.suspend(() => {
            if (entries.get(entry.peerId) === entry) entries.delete(entry.peerId)
            return entry.status === "connected"
              ? PubSub.publish(events, { _tag: "PeerDisconnected", peerId: entry.peerId, reason: entry.closeReason ?? "closed" })
              : Effect.void
          })
        ),
        Effect.ensuring(Effect.sync(() => {
          if (entries.get(entry.peerId) === entry) entries.delete(entry.peerId)
        }))
      )

    const start = Effect.fnUntraced(function*(peerId: PeerId, initiator: boolean, bridge: boolean = false) {
      const entry: Entry = {
        peerId,
        initiator,
        bridge,
        leaving: false,
        signals: yield* Queue.unbounded<Signal>(),
        since: yield* Clock.currentTimeMillis,
        status: "connecting",
        verified: false,
        link: undefined,
        refused: yield* Deferred.make<string>()
      }
      entries.set(peerId, entry)
      yield* FiberMap.run(fibers, peerId, lifecycle(entry))
      return entry
    })

    /** Stops a link's fiber (its scope closes the link). */
    const stop = (peerId: PeerId) => FiberMap.remove(fibers, peerId)

    /** What the capacity rules (internal/capacity.ts) need to know now. */
    const capacityNow = (): CapacityInput<PeerId> => {
      const connected = connectedIds()
      return {
        self,
        connected,
        kept: protectedLinks(self, connected, ring, config.maxPeers),
        media: mediaLinks,
        maxPeers: config.maxPeers,
        minPeers: config.minPeers,
        evictionStrategy: config.evictionStrategy,
        degreeOf: (id) => degrees.get(id)
      }
    }

    /** After `added` connected: if over maxPeers, make room by evicting another link, or drop `added`. */
    const enforceCapacityFor = Effect.fnUntraced(function*(added: PeerId) {
      const input = capacityNow()
      if (input.connected.length <= config.maxPeers) return
      const victim = victimFor(input, added, entries.get(added)?.bridge === true)
      yield* evict(victim, victim === added ? "full" : "closer-peer")
    })

    const evict = Effect.fnUntraced(function*(peerId: PeerId, reason: string) {
      const entry = entries.get(peerId)
      if (entry?.leaving === true) return
      if (entry !== undefined) entry.leaving = true
      if (entry?.link !== undefined) {
        yield* entry.link.send(JSON.stringify({ t: "evict", reason })).pipe(Effect.ignore)
        yield* PubSub.publish(events, { _tag: "PeerEvicted", peerId, by: self, reason })
        // let the notice reach the wire before the link closes
        yield* Effect.sleep(50)
      }
      yield* coolDown(peerId)
      yield* stop(peerId)
    })

    const enforceCapacity = Effect.gen(function*() {
      while (connectedIds().length > config.maxPeers) {
        // a link carrying media stays, even over capacity
        const victim = overCapacityVictim(capacityNow())
        if (victim === undefined) return
        yield* evict(victim, "over-capacity")
      }
    })

    const refuse = (to: PeerId, why: string) => signaling.send(to, { kind: "answer", data: { refused: why } }).pipe(Effect.ignore)

    const handleSignal = Effect.fnUntraced(function*(from: PeerId, signal: Signal) {
      if (from === self) return
      // a call message relayed by the server (the Media service's fallback), not a link's signal
      if (signal.data !== null && signal.data["call"] !== undefined) return
      const entry = entries.get(from)
      if (signal.kind === "answer" && signal.data !== null && typeof signal.data["refused"] === "string") {
        if (entry !== undefined && entry.status === "connecting") yield* Deferred.succeed(entry.refused, signal.data["refused"])
        // an ICE restart of our open link refused: the transport gives the link up
        else if (entry?.initiator === true) yield* Queue.offer(entry.signals, signal)
        return
      }
      if (signal.kind !== "offer") {
        if (entry !== undefined) yield* Queue.offer(entry.signals, signal)
        return
      }
      // an offer
      const bannedUntil = banned.get(from)
      if (bannedUntil !== undefined) {
        if (bannedUntil > (yield* Clock.currentTimeMillis)) return yield* refuse(from, "banned")
        banned.delete(from)
      }
      if (restartNumber(signal.data) !== undefined) {
        // an ICE restart (webrtc/iceRestart.ts): the same link, on its connection; no new link
        // and no new handshake. Only a link the peer initiated is restarted by it.
        if (entry !== undefined && !entry.initiator) return yield* Queue.offer(entry.signals, signal)
        return yield* refuse(from, "no link to restart")
      }
      if (entry !== undefined) {
        if (entry.status === "connecting" && entry.initiator) {
          // glare: the greater id's offer wins
          if (isInitiator(self, from)) return
          yield* stop(from)
        } else if (entry.status === "connecting") {
          yield* Queue.offer(entry.signals, signal)
          return
        } else {
          // the peer restarts a link we still hold: it lost it, so replace ours
          yield* stop(from)
        }
      }
      const bridge = signal.data !== null && signal.data["bridge"] === true
      const busy = [...entries.values()]
      // a ring neighbour, or a first long link, is always taken (another link makes room once it is up)
      if (ring.has(from) || wantedLong(from)) {
        const responder = yield* start(from, false, bridge)
        return yield* Queue.offer(responder.signals, signal)
      }
      if (bridge && busy.length >= config.maxPeers && spareOf(capacityNow(), connectedIds()) === undefined) return yield* refuse(from, "full")
      if (busy.length >= config.maxPeers && !bridge) {
        const input = capacityNow()
        const room = config.evictionStrategy && evictionFor(input, input.connected, from) !== undefined
        if (!room) return yield* refuse(from, "full")
      }
      const responder = yield* start(from, false, bridge)
      yield* Queue.offer(responder.signals, signal)
    })

    const connect = Effect.fnUntraced(function*(peerId: PeerId, options?: { readonly bridge?: boolean }) {
      if (peerId === self) return yield* new ConnectError({ peerId, reason: "self", message: "cannot connect to self" })
      if (entries.has(peerId)) return
      yield* start(peerId, true, options?.bridge === true)
    })

    yield* Effect.addFinalizer(() => FiberMap.clear(fibers))

    return Connections.of({
      connect,
      disconnect: (peerId, reason) =>
        Effect.gen(function*() {
          const entry = entries.get(peerId)
          if (entry !== undefined) entry.closeReason = reason
          if (entry?.link !== undefined) yield* entry.link.close(reason)
          yield* stop(peerId)
        }),
      handleSignal,
      send: (peerId, frame) => {
        const link = entries.get(peerId)?.link
        if (link === undefined || entries.get(peerId)?.status !== "connected") return Effect.succeed(false)
        return link.send(frame).pipe(Effect.as(true), Effect.orElseSucceed(() => false))
      },
      connected: Effect.sync(connectedIds),
      links: Effect.sync(() =>
        [...entries.values()].map((e): PeerLinkInfo => ({
          peerId: e.peerId,
          status: e.status,
          initiator: e.initiator,
          verified: e.verified,
          since: e.since
        }))
      ),
      noteVerified: (peerId, verified) => {
        signalingVerified.set(peerId, verified)
      },
      protect: (peerIds) => {
        ring = peerIds
      },
      noteDegree: (peerId, degree) => {
        degrees.set(peerId, degree)
      },
      inbound: PubSub.subscribe(inbound),
      enforceCapacity,
      cooldownUntil,
      stats: Effect.sync((): ConnectionsStats => ({ ...stats })),
      mediaOf: (peerId) => {
        const entry = entries.get(peerId)
        return entry?.status === "connected" ? entry.link?.media : undefined
      },
      mediaInbound: PubSub.subscribe(mediaInbound),
      protectMedia: (peerIds) => {
        mediaLinks = peerIds
      },
      unreachable: (peerId, why) =>
        Effect.suspend(() => {
          const entry = entries.get(peerId)
          return entry !== undefined && entry.status === "connecting" && entry.initiator
            ? Deferred.succeed(entry.refused, why)
            : Effect.void
        })
    })
  }).pipe(Effect.annotateLogs("module", "Connections"))
)
