/**
 * Direct links to other peers: setting them up through signaling and a transport, proving
 * both identities with a handshake, keeping them within bounds (eviction), and handing the
 * gossip and direct frames that arrive on them to whoever subscribes.
 *
 * @since 2.0.0
 */
import { Context, type Effect, type PubSub, Schema, type Scope } from "effect"
import type { PeerId } from "../schema/PeerId.ts"
import type { DirectFrame, GossipFrame, IHaveFrame, IWantFrame, LandmarksFrame } from "../schema/PeerFrames.ts"
import type { MediaFrame } from "../schema/MediaFrames.ts"
import type { MediaPeerConnectionLike } from "./Media.ts"
import type { LinkMessage, Signal } from "./PeerTransport.ts"

export type LinkStatus = "connecting" | "connected"

export interface PeerLinkInfo {
  readonly peerId: PeerId
  readonly status: LinkStatus
  readonly initiator: boolean
  readonly verified: boolean
  readonly since: number
}

/** A gossip, repair or direct frame that arrived on the link from `from`. */
export interface Inbound {
  readonly from: PeerId
  readonly frame: GossipFrame | DirectFrame | IHaveFrame | IWantFrame | LandmarksFrame
}

/** A media frame (`schema/MediaFrames.ts`) that arrived on the link from `from`. */
export interface MediaInbound {
  readonly from: PeerId
  readonly frame: MediaFrame
}

/** What the links brought that was not taken, since start. */
export interface ConnectionsStats {
  /** Frames that did not decode (malformed, too deep, too long), dropped. */
  readonly invalidFrames: number
  /** Frames over a neighbour's rate limit, dropped. */
  readonly rateLimitedFrames: number
  /** Neighbours disconnected (and refused for a while) for exceeding their limits. */
  readonly rateLimitDisconnects: number
}

export class ConnectError extends Schema.TaggedError<ConnectError>()("ConnectError", {
  peerId: Schema.String,
  reason: Schema.Literals(["self", "already-connected", "full", "invalid-peer-id"]),
  message: Schema.String
}) {}

export class Connections extends Context.Service<Connections, {
  /**
   * Starts connecting to a peer (as initiator); returns once the attempt is under way. A
   * `bridge` link has priority (it joins two components of the mesh, or rescues a peer below
   * minPeers): at capacity, it displaces the farthest other link instead of being refused.
   */
  connect(peerId: PeerId, options?: { readonly bridge?: boolean }): Effect.Effect<void, ConnectError>
  /** Closes the link to a peer (no-op when there is none). */
  disconnect(peerId: PeerId, reason: string): Effect.Effect<void>
  /** Handles a signal relayed by the signaling server from `from`. */
  handleSignal(from: PeerId, signal: Signal): Effect.Effect<void>
  /** Sends a frame (JSON text, or binary: `schema/binaryFrames.ts`) to a connected peer; false when there is no open link. */
  send(peerId: PeerId, frame: LinkMessage): Effect.Effect<boolean>
  /** Connected (handshaken) peers. */
  readonly connected: Effect.Effect<ReadonlyArray<PeerId>>
  /** Every link, connecting or connected. */
  readonly links: Effect.Effect<ReadonlyArray<PeerLinkInfo>>
  /** Marks whether signaling said a peer proved its identity (then an unproven handshake for it is refused). */
  noteVerified(peerId: PeerId, verified: boolean): void
  /**
   * The peers whose links keep the mesh connected (this peer's ring neighbours, see
   * internal/ring.ts): their offers are taken even at capacity and their links are never
   * evicted; another link makes room instead.
   */
  protect(peerIds: ReadonlySet<PeerId>): void
  /** Remembers a peer's link count (from its presence), to pick whom to drop for a priority offer. */
  noteDegree(peerId: PeerId, degree: number): void
  /** Frames arriving on links, for the lifetime of the caller's Scope. */
  readonly inbound: Effect.Effect<PubSub.Subscription<Inbound>, never, Scope.Scope>
  /** Closes links over maxPeers, farthest first (keeps at least minPeers). */
  readonly enforceCapacity: Effect.Effect<void>
  /** When a peer may be tried again after a failure, refusal, eviction or ban (epoch ms), if cooling down. */
  cooldownUntil(peerId: PeerId): number | undefined
  /**
   * Signaling said `peerId` cannot be reached (not connected to the server, another network):
   * a link being set up to it fails now, instead of holding its slot until the timeout.
   */
  unreachable(peerId: PeerId, why: string): Effect.Effect<void>
  /** The connection of an open link, for its media (undefined for memory links and closed ones). */
  mediaOf(peerId: PeerId): MediaPeerConnectionLike | undefined
  /** Media frames arriving on links, in order, for the lifetime of the caller's Scope. */
  readonly mediaInbound: Effect.Effect<PubSub.Subscription<MediaInbound>, never, Scope.Scope>
  /** The links carrying media now: never evicted while they do (the `Media` service keeps this up to date). */
  protectMedia(peerIds: ReadonlySet<PeerId>): void
  /** Counters of dropped inbound frames. */
  readonly stats: Effect.Effect<ConnectionsStats>
}>()("peerpigeon/Connections") {}
