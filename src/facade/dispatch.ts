/**
 * From the mesh's events (`MeshEvents`) to the events of PeerPigeon 1.x, with the little
 * state that takes: which peers were linked before (`peerReconnected`), which facade message
 * id a failed direct message had (`messageFailed`), and whether `disconnected` was told.
 *
 * @since 2.0.0
 */
import { BoundedMap } from "../internal/boundedMap.ts"
import type { MeshEvent } from "../services/MeshEvents.ts"
import type { PeerPigeonMeshEvent, PeerPigeonMeshEvents } from "./events.ts"

/** Peers remembered as linked before; the oldest are forgotten first. */
const SEEN_PEERS_LIMIT = 4096

export type Emit = <K extends PeerPigeonMeshEvent>(event: K, data: PeerPigeonMeshEvents[K]) => void

export class EventBridge {
  readonly #emit: Emit
  readonly #connectedCount: () => number
  readonly #linkedBefore = new BoundedMap<string, true>(SEEN_PEERS_LIMIT)
  /** `disconnected` was emitted since the last `connected`. */
  disconnectedTold = false

  constructor(emit: Emit, connectedCount: () => number) {
    this.#emit = emit
    this.#connectedCount = connectedCount
  }

  /** A send that failed before reaching the network: `messageFailed`, then `statusChanged`. */
  failed(messageId: string, reason: string, to?: string): void {
    this.#emit("messageFailed", to === undefined ? { messageId, reason } : { messageId, reason, to: to as never })
    this.#emit("statusChanged", { type: "error", message: `message ${messageId} failed: ${reason}` })
  }

  dispatch(event: MeshEvent): void {
    const emit = this.#emit
    switch (event._tag) {
      case "SignalingConnected":
        this.disconnectedTold = false
        emit("connected", {})
        emit("statusChanged", { type: "connected", message: "Connected to the signaling server" })
        break
      case "SignalingDisconnected":
        emit("statusChanged", {
          type: event.willReconnect ? "warning" : "disconnected",
          message: event.willReconnect ? `Signaling lost (${event.reason}); reconnecting` : "Disconnected from the signaling server"
        })
        if (!event.willReconnect && !this.disconnectedTold) {
          this.disconnectedTold = true
          emit("disconnected", { reason: event.reason })
        }
        break
      case "PeerDiscovered":
        emit("peerDiscovered", { peerId: event.peerId })
        break
      case "PeerConnected": {
        const again = this.#linkedBefore.has(event.peerId)
        this.#linkedBefore.set(event.peerId, true)
        emit("peerConnected", { peerId: event.peerId, verified: event.verified })
        if (again) emit("peerReconnected", { peerId: event.peerId, verified: event.verified })
        emit("peersUpdated", { connectedCount: this.#connectedCount() })
        break
      }
      case "PeerDisconnected":
        emit("peerDisconnected", { peerId: event.peerId, reason: event.reason })
        emit("peersUpdated", { connectedCount: this.#connectedCount() })
        break
      case "PeerEvicted":
        emit("peerEvicted", { peerId: event.peerId, by: event.by, reason: event.reason })
        break
      case "MessageReceived": {
        const { _tag, ...data } = event
        emit("messageReceived", data)
        break
      }
      case "BinaryMessageReceived": {
        const { _tag, ...data } = event
        emit("binaryMessageReceived", { ...data, size: data.data.byteLength })
        break
      }
      case "MessageFailed": {
        const messageId = event.messageId
        this.failed(messageId, event.reason, event.to)
        break
      }
      case "StatusChanged":
        emit("statusChanged", { type: event.type, message: event.message })
        break
      case "CryptoReady":
        emit("cryptoReady", { publicKey: event.publicKey })
        break
      case "PeerKeyAdded":
        emit("peerKeyAdded", { peerId: event.peerId })
        break
      case "CryptoFailed":
        emit("cryptoError", { reason: event.reason, error: event.message })
        break
    }
  }
}
