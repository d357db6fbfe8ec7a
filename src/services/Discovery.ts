/**
 * What this peer knows about others: the peers signaling told it about (with the public
 * keys they announced), and the keys pinned for origins seen so far. The `Discovery` layer
 * also runs the optimizer that turns this knowledge into links.
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
  /** The public key known for a peer (announced, or first seen signing), if any. */
  keyOf(peerId: PeerId): string | undefined
  /** Remembers `key` for `peerId` unless one is known already; true when `key` is (now) the known one. */
  pin(peerId: PeerId, key: string): boolean
  /** Runs one optimizer pass now (connect towards bounds, evict over capacity). */
  readonly optimize: Effect.Effect<void>
  /** Turns automatic connection on or off. */
  setAutoDiscovery(enabled: boolean): void
}>()("peerpigeon/Discovery") {}
