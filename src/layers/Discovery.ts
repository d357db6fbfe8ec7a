/**
 * The `Discovery` layer: turns signaling events into knowledge and links, and runs the
 * optimizer.
 *
 * - Signals from other peers go to `Connections`; discovered peers are remembered (their
 *   announced keys pinned).
 * - The optimizer, on every change and every `optimizeInterval`, first links this peer's
 *   ring neighbours (the ids just below and above its own among those discovered; the
 *   server makes sure they are known), which keeps the mesh connected, then one long link
 *   (to the other half of the id space; it keeps the mesh few hops across), then connects towards
 *   `maxPeers` following the PeerPigeon initiation rule (the greater id dials), with the
 *   isolation override: a peer below `minPeers` dials even peers that would normally dial
 *   it, natural targets first, then the XOR-closest.
 * - Presence: landmarks (about 2 sqrt(N) peers, see `internal/landmarks.ts`) broadcast a small
 *   signed `presence` gossip now and then, so every peer has a route to each of them and may
 *   dial them (peer exchange); every other peer registers with its home landmark instead (a
 *   routed message, teaching each hop on its way the route back). In a network of up to 4 peers
 *   every peer is a landmark. A discovered landmark that is still announced but unheard is in
 *   another component (after a partition, say); the natural initiator of such a pair dials it
 *   as a bridge, which joins the components again.
 *
 * @since 2.0.0
 */
import { Clock, Effect, Layer, PubSub, Random, Schedule, Semaphore } from "effect"
import { BoundedMap } from "../internal/boundedMap.ts"
import { supervised } from "../internal/supervise.ts"
import { chooseTargets } from "../internal/isolation.ts"
import { beaconInterval, estimateNetworkSize, isLandmark } from "../internal/landmarks.ts"
import { isLong, otherHalfPoint, wantsLongLink } from "../internal/protectedLinks.ts"
import { ringOf } from "../internal/ring.ts"
import { distance, isInitiator, type PeerId, sortByDistance } from "../schema/PeerId.ts"
import { Connections } from "../services/Connections.ts"
import { type DiscoveredPeer, Discovery } from "../services/Discovery.ts"
import { Gossip } from "../services/Gossip.ts"
import { Identity } from "../services/Identity.ts"
import { MeshConfig } from "../services/MeshConfig.ts"
import { MeshEvents } from "../services/MeshEvents.ts"
import { PeerKeys } from "../services/PeerKeys.ts"
import { Router } from "../services/Router.ts"
import { Signaling } from "../services/Signaling.ts"

/** Most peers remembered from signaling (least recently announced forgotten first). */
export const DISCOVERED_LIMIT = 4096
/** Most peers remembered as heard over the mesh (least recently heard forgotten first). */
export const HEARD_LIMIT = 4096

export const layer = Layer.effect(
  Discovery,
  Effect.gen(function*() {
    const config = yield* MeshConfig
    const identity = yield* Identity
    const signaling = yield* Signaling
    const connections = yield* Connections
    const gossip = yield* Gossip
    const router = yield* Router
    const keys = yield* PeerKeys
    const events = yield* MeshEvents
    const self = identity.peerId
    const discovered = new BoundedMap<PeerId, DiscoveredPeer>(DISCOVERED_LIMIT)
    const heard = new BoundedMap<PeerId, number>(HEARD_LIMIT)
    /** Free link slots each peer last announced in its presence. */
    const freeSlots = new BoundedMap<PeerId, number>(HEARD_LIMIT)
    /** One optimizer pass at a time: passes yield while dialling, and two from one snapshot over-dial. */
    const optimizing = yield* Semaphore.make(1)
    const presenceEvery = config.presenceInterval
    // generous: a busy peer's presence may be late, and a false "unheard" means a needless bridge
    const unheardAfter = Math.max(presenceEvery * 3, 3000)
    let lastBridgeAt = 0

    /**
     * Bumped by whatever can change the optimizer's choice (discoveries, departures, link
     * changes, newly heard peers), so the periodic pass can skip a peer whose inputs are the
     * same as last time: in a large network most peers are settled most of the time.
     */
    /**
     * Where this peer's long link aims: a random point of the other half of the id space. Long
     * links aimed at random points are random chords of the ring, which greedy routing uses at
     * every step; links to the farthest peer (the complement of one's id) all land where
     * nearby peers' land, and give a route one useful jump at most.
     */
    const longPoint = otherHalfPoint(self)
    let generation = 0
    let settled = { generation: -1, retryAt: 0 }

    const optimizePass = Effect.gen(function*() {
      if (!config.autoDiscovery) return
      const now = yield* Clock.currentTimeMillis
      const startedAt = generation
      let retryAt = Number.POSITIVE_INFINITY
      let acted = false
      const links = yield* connections.links
      const linked = new Set(links.map((l) => l.peerId))
      const connected = links.filter((l) => l.status === "connected").map((l) => l.peerId)
      const attempting = links.filter((l) => l.status === "connecting").map((l) => l.peerId)
      // peers heard over the mesh recently are candidates too: signaling relays to anyone in
      // the network, and they are reachable by definition (peer exchange through presence)
      // (ids known only from the mesh are dialled a few at a time: anyone can make one up)
      const known = new Set(discovered.keys())
      const hearsayBudget = config.maxHearsayDials - attempting.filter((id) => !discovered.has(id)).length
      if (hearsayBudget > 0) {
        const hearsay = [...heard].filter(([id, at]) => now - at <= unheardAfter && !known.has(id) && !linked.has(id)).map(([id]) => id)
        for (const id of sortByDistance(self, hearsay).slice(0, hearsayBudget)) known.add(id)
      }
      const candidates = [...known].filter((id) => {
        if (linked.has(id)) return false
        const until = connections.cooldownUntil(id)
        if (until !== undefined && until > now) retryAt = Math.min(retryAt, until)
        return until === undefined || until <= now
      })
      // the ring neighbours first: their links keep the whole mesh connected, and they take
      // our offer even when full. The greater id dials; the other joins in if nothing came.
      const ring = ringOf(self, discovered.keys())
      connections.protect(ring)
      const ringTargets = [...ring].filter((id) =>
        candidates.includes(id) &&
        (isInitiator(self, id) || now - (discovered.get(id)?.discoveredAt ?? now) > config.optimizeInterval)
      )
      for (const id of ringTargets) yield* connections.connect(id).pipe(Effect.ignore)
      attempting.push(...ringTargets)
      // other links wait for the ring: early offers to others would fill the slots that ring
      // neighbours need, and be refused by peers full of their own
      const ringPending = [...ring].some((id) => !connected.includes(id) && (attempting.includes(id) || candidates.includes(id)))
      if (ringPending) {
        settled = { generation: -1, retryAt: 0 }
        return yield* connections.enforceCapacity
      }
      // peers whose presence says they are full would only refuse: skip them unless we need links
      const full = (id: PeerId) => (freeSlots.get(id) ?? 1) <= 0
      const needy = connected.length < config.minPeers
      // then one long link, to the other half of the id space: it keeps the mesh few hops across
      // (either end may dial; the other takes it, as it has none either or keeps its own)
      if (wantsLongLink(config.maxPeers) && !links.some((l) => !ring.has(l.peerId) && isLong(self, l.peerId))) {
        const far = candidates.filter((id) => isLong(self, id) && !ring.has(id) && !full(id))
        const long = far.length === 0 ? undefined : far.reduce((a, b) => (distance(longPoint, a) < distance(longPoint, b) ? a : b))
        if (long !== undefined) {
          acted = true
          yield* connections.connect(long).pipe(Effect.ignore)
          attempting.push(long)
        }
      }
      const targets = chooseTargets(self, candidates.filter((id) => !full(id) && !ring.has(id) && !attempting.includes(id)), connected, { maxPeers: config.maxPeers, attempting })
      const deficit = config.minPeers - connected.length - attempting.length - targets.length
      if (deficit > 0) {
        // below minPeers with no natural targets left: dial the others too, those with free
        // slots first (closest first); if everyone is full, ask with priority, and a full
        // peer makes room by dropping a neighbour that has links to spare
        const rest = candidates.filter((id) => !targets.includes(id) && !ringTargets.includes(id))
        const open = sortByDistance(self, rest.filter((id) => !full(id)))
        const extra = open.length > 0 ? open.slice(0, deficit) : sortByDistance(self, rest).slice(0, deficit)
        for (const id of extra) yield* connections.connect(id, { bridge: open.length === 0 && needy }).pipe(Effect.ignore)
        if (extra.length > 0) acted = true
      }
      for (const id of targets) yield* connections.connect(id).pipe(Effect.ignore)
      if (targets.length > 0 || attempting.length > 0) acted = true

      // connectivity: a discovered peer unheard over the mesh is in another component
      if (presenceEvery > 0 && connected.length > 0 && attempting.length === 0) {
        const cut: Array<PeerId> = []
        for (const id of candidates) {
          const d = discovered.get(id)
          if (d === undefined || now - d.discoveredAt <= unheardAfter || !isInitiator(self, id)) continue
          // a landmark whose presence stopped coming (others never send any)
          if ((yield* router.landmarkOverdue(id)) === true) cut.push(id)
        }
        const bridge = sortByDistance(self, cut)[0]
        // one bridge at a time: give it time to connect and the presence to flow through it
        if (bridge !== undefined && now - lastBridgeAt > unheardAfter) {
          lastBridgeAt = now
          yield* connections.connect(bridge, { bridge: true }).pipe(Effect.ignore)
        }
      }
      yield* connections.enforceCapacity
      // nothing tried, nothing under way: the same inputs would give the same answer until a
      // cooldown ends (or, with presence on, until time makes a peer count as unheard)
      settled = acted || presenceEvery > 0 ? { generation: -1, retryAt: 0 } : { generation: startedAt, retryAt }
    })

    const optimize = optimizing.withPermit(optimizePass)

    /** The periodic pass: skipped while this peer is settled (see `generation`). */
    const optimizeIfChanged = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      if (generation === settled.generation && now < settled.retryAt) return
      yield* optimize
    })

    const signalingEvents = yield* signaling.subscribe
    yield* supervised("Discovery.signaling", Effect.gen(function*() {
      while (true) {
        const event = yield* PubSub.take(signalingEvents)
        switch (event._tag) {
          case "Signal":
            yield* connections.handleSignal(event.from, event.signal)
            break
          case "PeerDiscovered": {
            if (event.peerId === self) break
            const key = event.data["publicKey"]
            // the server checked that the id derives from this key
            if (event.verified && typeof key === "string") keys.pin(event.peerId, key, true)
            connections.noteVerified(event.peerId, event.verified)
            const known = discovered.has(event.peerId)
            generation++
            discovered.set(event.peerId, { peerId: event.peerId, verified: event.verified, discoveredAt: yield* Clock.currentTimeMillis })
            if (!known) yield* PubSub.publish(events, { _tag: "PeerDiscovered", peerId: event.peerId })
            yield* optimize
            break
          }
          case "PeerLeft":
            generation++
            discovered.delete(event.peerId)
            heard.delete(event.peerId)
            freeSlots.delete(event.peerId)
            break
          case "Connected":
            yield* PubSub.publish(events, { _tag: "SignalingConnected" })
            break
          case "Disconnected":
            yield* PubSub.publish(events, { _tag: "SignalingDisconnected", reason: event.reason, willReconnect: event.willReconnect })
            break
          case "ServerError":
            // a link being set up to a peer the server does not know fails now, not at its timeout
            if (event.code === "unknown-peer" && event.peerId !== undefined) yield* connections.unreachable(event.peerId, "unknown peer")
            yield* PubSub.publish(events, { _tag: "StatusChanged", type: "warning", message: `signaling: ${event.message}` })
            break
        }
      }
    })).pipe(Effect.forkScoped)

    // links that drop or get refused leave room: look again
    const meshEvents = yield* PubSub.subscribe(events)
    yield* supervised("Discovery.meshEvents", Effect.gen(function*() {
      while (true) {
        const event = yield* PubSub.take(meshEvents)
        if (event._tag === "PeerConnected") generation++
        if (event._tag === "PeerDisconnected" || event._tag === "PeerEvicted") {
          generation++
          yield* optimize
        }
      }
    })).pipe(Effect.forkScoped)

    // whatever arrives over the mesh proves its origin reachable
    const delivered = yield* gossip.subscribe
    yield* supervised("Discovery.heard", Effect.gen(function*() {
      while (true) {
        const m = yield* PubSub.take(delivered)
        const now = yield* Clock.currentTimeMillis
        const before = heard.get(m.origin)
        if (before === undefined || now - before > unheardAfter) generation++
        heard.set(m.origin, now)
        if (m.kind === "presence" && typeof m.content === "object" && m.content !== null && !Array.isArray(m.content)) {
          const { d, m: max } = m.content as { readonly d?: unknown; readonly m?: unknown }
          if (typeof d === "number" && typeof max === "number") {
            freeSlots.set(m.origin, max - d)
            connections.noteDegree(m.origin, d)
          }
        }
      }
    })).pipe(Effect.forkScoped)

    yield* supervised("Discovery.optimizer", optimizeIfChanged.pipe(Effect.repeat(Schedule.spaced(config.optimizeInterval)))).pipe(
      Effect.forkScoped
    )
    if (presenceEvery > 0) {
      let landmark = false
      let nextBeaconAt = 0
      let registeredWith: PeerId | undefined
      let nextRegistrationAt = 0
      const jittered = (interval: number) => Effect.map(Random.nextBetween(0.9, 1.1), (f) => Math.round(interval * f))
      yield* supervised(
        "Discovery.presence",
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const n = estimateNetworkSize(self, discovered.keys())
          landmark = isLandmark(self, n, landmark)
          const interval = beaconInterval(presenceEvery, n)
          const degree = (yield* connections.connected).length
          if (degree === 0) return
          if (landmark) {
            if (now < nextBeaconAt) return
            nextBeaconAt = now + (yield* jittered(interval))
            yield* gossip.publish({ d: degree, m: config.maxPeers, l: interval }, "presence").pipe(Effect.ignore)
            return
          }
          // registration: at once when the home changes, else once per interval
          const home = yield* router.homeOf(self)
          if (home === undefined || (home === registeredWith && now < nextRegistrationAt)) return
          registeredWith = home
          nextRegistrationAt = now + (yield* jittered(interval))
          yield* router.send(home, 0, "route", { ack: false }).pipe(Effect.ignore)
        }).pipe(Effect.repeat(Schedule.spaced(presenceEvery)))
      ).pipe(Effect.forkScoped)
    }

    return Discovery.of({
      discovered: Effect.sync(() => [...discovered.values()]),
      reachable: Effect.sync(() => new Map(heard.entries())),
      optimize
    })
  }).pipe(Effect.annotateLogs("module", "Discovery"))
)
