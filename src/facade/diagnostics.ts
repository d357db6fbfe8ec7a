/**
 * The diagnostics of PeerPigeon 1.x's `PeerPigeonMesh` (`getConnectionAttempts`,
 * `getPeerStateSummary`, `debugConnectivity`, `forceConnectToAllPeers`), computed from the
 * services: the links of `Connections`, what `Discovery` knows, the counters of `Gossip`,
 * `Router` and `Dht`.
 *
 * @since 2.0.0
 */
import { Clock, Effect } from "effect"
import type { PeerId } from "../schema/PeerId.ts"
import { Connections, type PeerLinkInfo } from "../services/Connections.ts"
import { Dht, type DhtStats } from "../services/Dht.ts"
import { type DiscoveredPeer, Discovery } from "../services/Discovery.ts"
import { Gossip, type GossipStats } from "../services/Gossip.ts"
import { Mesh, type MeshStatus } from "../services/Mesh.ts"
import { Router, type RouterStats } from "../services/Router.ts"

/** A link being set up, or a peer this mesh waits to try again. */
export type ConnectionAttempt =
  | { readonly peerId: PeerId; readonly status: "connecting"; readonly initiator: boolean; readonly since: number; readonly elapsedMs: number }
  | { readonly peerId: PeerId; readonly status: "cooldown"; readonly retryAt: number }

export interface PeerStateSummary {
  readonly connected: number
  readonly connecting: number
  /** Discovered and neither linked nor being linked. */
  readonly discovered: number
  /** Of the discovered, those waiting before they are tried again (failed, refused, evicted). */
  readonly coolingDown: number
  /** Peers heard from over the mesh recently (presence, messages). */
  readonly reachable: number
}

export interface ConnectivityReport {
  readonly status: MeshStatus
  readonly summary: PeerStateSummary
  readonly links: ReadonlyArray<PeerLinkInfo>
  readonly discovered: ReadonlyArray<DiscoveredPeer>
  readonly attempts: ReadonlyArray<ConnectionAttempt>
  readonly gossip: GossipStats
  readonly router: RouterStats
  readonly dht: DhtStats
}

/** Discovered peers with no link, connecting or connected. */
export const unlinked = Effect.gen(function*() {
  const links = yield* Connections.use((c) => c.links)
  const linked = new Set(links.map((l) => l.peerId))
  return (yield* Discovery.use((d) => d.discovered)).filter((d) => !linked.has(d.peerId))
})

export const connectionAttempts = Effect.gen(function*() {
  const connections = yield* Connections
  const now = yield* Clock.currentTimeMillis
  const links = yield* connections.links
  const attempts: Array<ConnectionAttempt> = links
    .filter((l) => l.status === "connecting")
    .map((l) => ({ peerId: l.peerId, status: "connecting", initiator: l.initiator, since: l.since, elapsedMs: now - l.since }))
  for (const d of yield* unlinked) {
    const retryAt = connections.cooldownUntil(d.peerId)
    if (retryAt !== undefined && retryAt > now) attempts.push({ peerId: d.peerId, status: "cooldown", retryAt })
  }
  return attempts
})

export const peerStateSummary = Effect.gen(function*() {
  const links = yield* Connections.use((c) => c.links)
  const attempts = yield* connectionAttempts
  return {
    connected: links.filter((l) => l.status === "connected").length,
    connecting: links.filter((l) => l.status === "connecting").length,
    discovered: (yield* unlinked).length,
    coolingDown: attempts.filter((a) => a.status === "cooldown").length,
    reachable: (yield* Discovery.use((d) => d.reachable)).size
  } satisfies PeerStateSummary
})

export const connectivityReport = Effect.gen(function*() {
  return {
    status: yield* Mesh.use((m) => m.status),
    summary: yield* peerStateSummary,
    links: yield* Connections.use((c) => c.links),
    discovered: yield* Discovery.use((d) => d.discovered),
    attempts: yield* connectionAttempts,
    gossip: yield* Gossip.use((g) => g.stats),
    router: yield* Router.use((r) => r.stats),
    dht: yield* Dht.use((d) => d.stats)
  } satisfies ConnectivityReport
})

/**
 * Starts a link to every discovered peer that has none, whatever the optimizer's choice (for
 * testing, as in 1.x); links over `maxPeers` are closed again by the optimizer. Returns the
 * peers an attempt was started for.
 */
export const connectToAll = Effect.gen(function*() {
  const started: Array<PeerId> = []
  for (const d of yield* unlinked) {
    const ok = yield* Mesh.use((m) => m.connectToPeer(d.peerId)).pipe(Effect.as(true), Effect.orElseSucceed(() => false))
    if (ok) started.push(d.peerId)
  }
  return started
})
