/**
 * Everything a mesh reports, as one event union on a PubSub. The Promise facade turns these
 * into the `addEventListener` events of the PeerPigeon documentation.
 *
 * @since 2.0.0
 */
import { Context, Effect, Layer, PubSub, type Schema } from "effect"
import type { PeerId } from "../schema/PeerId.ts"

export type MeshEvent =
  | { readonly _tag: "SignalingConnected" }
  | { readonly _tag: "SignalingDisconnected"; readonly reason: string; readonly willReconnect: boolean }
  | { readonly _tag: "PeerDiscovered"; readonly peerId: PeerId }
  | { readonly _tag: "PeerConnected"; readonly peerId: PeerId; readonly verified: boolean }
  | { readonly _tag: "PeerDisconnected"; readonly peerId: PeerId; readonly reason: string }
  /** `by` evicted `peerId`: either we made room (`by` is us) or a peer dropped us. */
  | { readonly _tag: "PeerEvicted"; readonly peerId: PeerId; readonly by: PeerId; readonly reason: string }
  | {
    readonly _tag: "MessageReceived"
    readonly from: PeerId
    readonly content: Schema.Json
    readonly direct: boolean
    readonly hops: number
    /**
     * Hops the message had left when it arrived, as this peer's settings count them (gossipTtl
     * for broadcasts); like `hops`, not signed, so a relay may change it.
     */
    readonly ttl: number
    /** True when it came end-to-end encrypted (`sendEncryptedMessage`, `sendEncryptedBroadcast`) and was opened here. */
    readonly encrypted: boolean
    /** The group of an encrypted broadcast (`sendEncryptedBroadcast`). */
    readonly groupId?: string
    readonly messageId: string
    readonly timestamp: number
    /** True when `from` derives from the key that signed the message. */
    readonly verified: boolean
  }
  /** Bytes sent with `sendBinaryData` (`direct`) or `broadcastBinaryData`, checked against their origin's signature. */
  | {
    readonly _tag: "BinaryMessageReceived"
    readonly from: PeerId
    readonly data: Uint8Array
    readonly direct: boolean
    readonly messageId: string
    readonly hops: number
    readonly timestamp: number
    readonly verified: boolean
  }
  /** A direct message this peer sent was never acknowledged by `to`, after every retransmission. */
  | { readonly _tag: "MessageFailed"; readonly messageId: string; readonly to: PeerId; readonly reason: string }
  | { readonly _tag: "StatusChanged"; readonly type: string; readonly message: string }
  /** This peer's encryption key exists (the first `init`); `publicKey` is its X25519 key, base64url. */
  | { readonly _tag: "CryptoReady"; readonly publicKey: string }
  /** A peer's encryption key became known, or changed (verified against its identity). */
  | { readonly _tag: "PeerKeyAdded"; readonly peerId: PeerId }
  /** A crypto operation failed (a refused envelope, a missing key); `reason` as `CryptoError`'s. */
  | { readonly _tag: "CryptoFailed"; readonly reason: string; readonly message: string }

export class MeshEvents extends Context.Service<MeshEvents, PubSub.PubSub<MeshEvent>>()("peerpigeon/MeshEvents") {
  static readonly layer = Layer.effect(
    MeshEvents,
    Effect.acquireRelease(PubSub.unbounded<MeshEvent>(), (pubsub) => PubSub.shutdown(pubsub))
  )
}

/** Publishes one event (never blocks: the PubSub is unbounded). */
export const emit = (event: MeshEvent) => MeshEvents.use((pubsub) => PubSub.publish(pubsub, event))
