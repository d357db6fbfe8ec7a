/**
 * The mesh as one service for Effect programs: join a network, broadcast, send direct
 * messages, read the status. The finer services (`Gossip`, `Router`, `Connections`,
 * `Discovery`) stay available beside it in `MeshLayer`.
 *
 * @since 2.0.0
 */
import { Context, type Effect, type Schema } from "effect"
import type { CryptoError } from "../crypto/CryptoError.ts"
import type { GroupResult } from "../crypto/messaging.ts"
import type { PeerId } from "../schema/PeerId.ts"
import type { ConnectError } from "./Connections.ts"
import type { InvalidMessage, MessageTooLarge } from "./Gossip.ts"
import type { MeshOptions } from "./MeshConfig.ts"
import type { SignalingError } from "./Signaling.ts"

/** The status object of the PeerPigeon documentation, plus a few of ours. */
export interface MeshStatus {
  readonly peerId: PeerId
  readonly verified: boolean
  readonly networkName: string
  /** Connected to the signaling server. */
  readonly connected: boolean
  readonly signalingUrl: string | undefined
  readonly connectedCount: number
  readonly connectingCount: number
  readonly discoveredCount: number
  readonly maxPeers: number
  readonly minPeers: number
  readonly autoDiscovery: boolean
  readonly evictionStrategy: boolean
  readonly xorRouting: boolean
  readonly connectionType: "websocket"
  readonly transport: string
  /** Milliseconds since `connect` succeeded (0 before, and after `disconnect`). */
  readonly uptime: number
}

export class Mesh extends Context.Service<Mesh, {
  readonly peerId: PeerId
  /** Connects to the signaling server at `url` and joins the network. */
  connect(url: string): Effect.Effect<void, SignalingError>
  /** Says goodbye to the server and closes every link. */
  readonly disconnect: Effect.Effect<void>
  /** Broadcasts to every peer of the network; returns the message id. */
  sendMessage(content: Schema.Json, options?: { readonly id?: string }): Effect.Effect<string, MessageTooLarge | InvalidMessage>
  /**
   * Sends to one peer, over several hops if needed; returns the message id. With
   * `encrypt: true`, as `sendEncryptedMessage`.
   */
  sendDirectMessage(
    to: PeerId,
    content: Schema.Json,
    options?: { readonly id?: string; readonly encrypt?: boolean }
  ): Effect.Effect<string, MessageTooLarge | InvalidMessage | CryptoError>
  /**
   * Sends to one peer end-to-end encrypted (crypto/messaging.ts): sealed for its encryption key
   * (held, or found in the key directory), so relays carry only ciphertext; the target's
   * `MessageReceived` says `encrypted: true`. Fails with `CryptoError` (`unknown-key` when the
   * peer's key cannot be found), or `MessageTooLarge` over `encryptedContentLimit`.
   */
  sendEncryptedMessage(to: PeerId, content: Schema.Json, options?: { readonly id?: string }): Effect.Effect<string, MessageTooLarge | InvalidMessage | CryptoError>
  /** Broadcasts `content` sealed with `groupId`'s current key: only its members can read it. Returns the message id. */
  sendEncryptedBroadcast(content: Schema.Json, groupId: string): Effect.Effect<string, MessageTooLarge | InvalidMessage | CryptoError>
  /** Creates (or re-keys) a group owned by this peer with `peerIds`, and hands its key to each member. */
  createGroup(groupId: string, peerIds: Iterable<string>): Effect.Effect<GroupResult, CryptoError>
  /** Adds members (a new key, handed to every member: new ones cannot read what was sent before). */
  addToGroup(groupId: string, peerIds: Iterable<string>): Effect.Effect<GroupResult, CryptoError>
  /** Removes members: a new key, handed to the others only; the removed cannot read what is sent afterwards. */
  removeFromGroup(groupId: string, peerIds: Iterable<string>): Effect.Effect<GroupResult, CryptoError>
  /**
   * Sends bytes to one peer (over several hops if needed, acknowledged like a direct
   * message), raw on the wire and signed; at most `maxMessageSize` bytes (streams carry more).
   * Returns the message id; the target gets a `BinaryMessageReceived` event.
   */
  sendBinaryData(to: PeerId, data: Uint8Array, options?: { readonly id?: string }): Effect.Effect<string, MessageTooLarge | InvalidMessage>
  /** Broadcasts bytes to every peer of the network (at most `maxMessageSize`); returns the message id. */
  broadcastBinaryData(data: Uint8Array, options?: { readonly id?: string }): Effect.Effect<string, MessageTooLarge | InvalidMessage>
  connectToPeer(peerId: PeerId): Effect.Effect<void, ConnectError>
  disconnectPeer(peerId: PeerId): Effect.Effect<void>
  /** Changes settings at run time (clamped as at start); the optimizer applies them now. */
  configure(patch: Partial<Pick<MeshOptions, "maxPeers" | "minPeers" | "autoDiscovery" | "evictionStrategy" | "xorRouting">>): Effect.Effect<void>
  readonly status: Effect.Effect<MeshStatus>
}>()("peerpigeon/Mesh") {}
