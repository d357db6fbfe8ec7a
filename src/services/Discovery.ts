/**
 * What this peer knows about others: the peers signaling told it about, and those heard
 * from over the mesh. The `Discovery` layer also runs the optimizer that turns this
 * knowledge into links and keeps the mesh connected.
 *
 * @since 2.0.0
 */
import { Context, type Effect } from "effect"
import type { PeerId } from "../schema/PeerId.ts"

export interface DiscoveredPeer {
  readonly peerId: PeerId
  readonly verified: boolean
  readonly discoveredAt: number
}

export class Discovery extends Context.Service<Discovery, {
  readonly discovered: Effect.Effect<ReadonlyArray<DiscoveredPeer>>
  /** Peers heard from over the mesh recently (by presence or any message), with when. */
  readonly reachable: Effect.Effect<ReadonlyMap<PeerId, number>>
  /** Runs one optimizer pass now (connect towards bounds, evict over capacity). */
  readonly optimize: Effect.Effect<void>
}>()("peerpigeon/Discovery") {}
