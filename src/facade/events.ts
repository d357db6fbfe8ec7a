/**
 * The events of `PeerPigeonMesh` (payloads by name) and the small emitter behind its
 * `addEventListener`/`on`/`once` API, as in PeerPigeon 1.x. A throwing listener is logged
 * and does not stop the others.
 *
 * @since 2.0.0
 */
import type { Schema } from "effect"
import type { PeerId } from "../schema/PeerId.ts"
import type { DhtChange } from "../services/Dht.ts"
import type { MediaError, MediaSource, MediaStreamLike } from "../services/Media.ts"
import type { MeshEvent } from "../services/MeshEvents.ts"

/** Event payloads, by event name. */
export interface PeerPigeonMeshEvents {
  /** `init()` finished: the key pair (and so `peerId`) exists and the services run. */
  initialized: { readonly peerId: string }
  connected: Record<string, never>
  /**
   * Left the signaling server for good: `disconnect()`, or signaling stopped (replaced by
   * another `connect`, or closed through the Effect API). A passing outage is a `statusChanged`
   * warning instead: signaling reconnects by itself.
   */
  disconnected: { readonly reason: string }
  peerDiscovered: { readonly peerId: string }
  peerConnected: { readonly peerId: string; readonly verified: boolean }
  /** A peer this mesh had been linked to before (since `init`) is linked again; follows its `peerConnected`. */
  peerReconnected: { readonly peerId: string; readonly verified: boolean }
  peerDisconnected: { readonly peerId: string; readonly reason: string }
  peerEvicted: { readonly peerId: string; readonly by: string; readonly reason: string }
  messageReceived: Omit<Extract<MeshEvent, { _tag: "MessageReceived" }>, "_tag">
  /** A message from `sendMessage`/`sendDirectMessage` could not be sent, or (direct) was never acknowledged. */
  messageFailed: { readonly messageId: string; readonly reason: string; readonly to?: PeerId }
  /** Bytes from `sendBinaryData` (`direct`) or `broadcastBinaryData`. */
  binaryMessageReceived: {
    readonly from: PeerId
    readonly data: Uint8Array
    readonly size: number
    readonly messageId: string
    readonly direct: boolean
    readonly hops: number
    readonly timestamp: number
    readonly verified: boolean
  }
  /**
   * A peer opened a stream to this one (`createStreamToPeer`, `sendStream`, `sendFile`).
   * Read `stream` (a web ReadableStream): the sender goes only as fast as it is read. Without
   * a listener the stream is refused.
   */
  streamReceived: {
    readonly from: PeerId
    readonly streamId: string
    readonly stream: ReadableStream<Uint8Array>
    readonly name: string
    readonly size: number | undefined
    readonly type: string | undefined
  }
  /** Bytes of a stream received (`direction: "in"`) or acknowledged by its receiver (`"out"`). */
  streamProgress: {
    readonly id: string
    readonly peerId: PeerId
    readonly direction: "in" | "out"
    readonly bytes: number
    readonly total: number | undefined
  }
  /** A stream ended with every byte checked against its checksum. */
  streamCompleted: { readonly id: string; readonly peerId: PeerId; readonly direction: "in" | "out"; readonly bytes: number }
  /** A stream stopped before its end: aborted by either end, timed out, unreachable, or corrupted. */
  streamAborted: {
    readonly id: string
    readonly peerId: PeerId
    readonly direction: "in" | "out"
    readonly reason: string
    readonly by: "local" | "remote"
  }
  statusChanged: { readonly type: string; readonly message: string }
  peersUpdated: { readonly connectedCount: number }
  dhtValueChanged: DhtChange
  /** This peer's encryption key exists (`init()`, `cryptoManager.init()` or the first connect). */
  cryptoReady: { readonly publicKey: string }
  /** A peer's encryption key became known or changed (from a link handshake or the key directory), verified. */
  peerKeyAdded: { readonly peerId: string }
  /** A crypto operation failed or an envelope was refused; `reason` as `CryptoError`'s (e.g. `wrong-sender`, `replay`). */
  cryptoError: { readonly reason: string; readonly error: string }
  /**
   * A peer's stream arrived (once per stream: after `remoteStreamRemoved`, a restart is a new
   * one). `stream` is a `MediaStream` in browsers (werift's in Node); `source` is `"camera"`
   * (camera and microphone) or `"screen"`.
   */
  remoteStream: {
    readonly peerId: PeerId
    readonly stream: MediaStreamLike
    readonly source: MediaSource
    readonly audio: boolean
    readonly video: boolean
  }
  /** A peer's stream ended: it stopped it, or the link or call closed. */
  remoteStreamRemoved: { readonly peerId: PeerId; readonly source: MediaSource; readonly reason: string }
  /** A peer muted or unmuted its audio or video (its frames stop while muted). */
  remoteMediaState: { readonly peerId: PeerId; readonly source: MediaSource; readonly audio: boolean; readonly video: boolean }
  localStreamStarted: { readonly stream: MediaStreamLike; readonly video: boolean; readonly audio: boolean }
  localStreamStopped: Record<string, never>
  /** Media failed: `type` is the error's reason (permission-denied, device-not-found, negotiation-failed, ...). */
  mediaError: { readonly error: MediaError; readonly type: MediaError["reason"]; readonly peerId?: string }
  /**
   * A peer calls this one (any peer of the network, linked or not). `accept()` answers with
   * the local stream (or `options.stream`, or opens the devices); `reject(reason)` declines.
   */
  incomingCall: {
    readonly peerId: PeerId
    /** How many mesh hops the invite travelled. */
    readonly hops: number
    accept(options?: { readonly stream?: MediaStreamLike; readonly video?: boolean; readonly audio?: boolean }): Promise<void>
    reject(reason?: string): Promise<void>
  }
  /** A call ended (hung up by either side, rejected, unanswered, or its connection failed). */
  callEnded: { readonly peerId: PeerId; readonly reason: string }
  /** `mediaPolicy: "ask"`: a peer sends a stream; `accept()` shows it (`remoteStream`), `reject()` ignores this peer's media. */
  incomingMedia: { readonly peerId: PeerId; readonly source: MediaSource; accept(): void; reject(): void }
  /** A storage key was stored (or stored again after a delete), by `by`; `value` is null when this peer cannot read it. */
  storageDataStored: { readonly key: string; readonly version: number; readonly value: Schema.Json | null; readonly by: string; readonly space: string }
  /** A storage key this peer stored or subscribed to has a new value (by any writer). */
  storageDataUpdated: { readonly key: string; readonly version: number; readonly value: Schema.Json | null; readonly by: string }
  storageDataDeleted: { readonly key: string; readonly version: number; readonly by: string }
  /** The owner let `peerId` read (and with `write`, write) the key. */
  storageAccessGranted: { readonly key: string; readonly version: number; readonly peerId: string; readonly write: boolean }
  storageAccessRevoked: { readonly key: string; readonly version: number; readonly peerId: string }
}
export type PeerPigeonMeshEvent = keyof PeerPigeonMeshEvents
export type Listener<K extends PeerPigeonMeshEvent> = (data: PeerPigeonMeshEvents[K]) => void

type AnyListener = (data: never) => void

/** Listeners by event name, with the EventTarget/EventEmitter methods 1.x code calls. */
export class MeshEmitter {
  readonly #listeners = new Map<string, Set<AnyListener>>()
  /** `once` wrappers, by the listener they wrap, so `off(event, listener)` removes them too. */
  readonly #onceWrappers = new Map<string, Map<AnyListener, AnyListener>>()

  addEventListener<K extends PeerPigeonMeshEvent>(event: K, listener: Listener<K>): void {
    let set = this.#listeners.get(event)
    if (set === undefined) this.#listeners.set(event, set = new Set())
    set.add(listener as AnyListener)
  }

  removeEventListener<K extends PeerPigeonMeshEvent>(event: K, listener: Listener<K>): void {
    const set = this.#listeners.get(event)
    const wrapper = this.#onceWrappers.get(event)?.get(listener as AnyListener)
    if (wrapper !== undefined) {
      this.#onceWrappers.get(event)!.delete(listener as AnyListener)
      set?.delete(wrapper)
    }
    set?.delete(listener as AnyListener)
    if (set?.size === 0) this.#listeners.delete(event)
  }

  on<K extends PeerPigeonMeshEvent>(event: K, listener: Listener<K>): this {
    this.addEventListener(event, listener)
    return this
  }

  off<K extends PeerPigeonMeshEvent>(event: K, listener: Listener<K>): this {
    this.removeEventListener(event, listener)
    return this
  }

  /** Calls `listener` for the next `event` only. */
  once<K extends PeerPigeonMeshEvent>(event: K, listener: Listener<K>): this {
    const wrapper: Listener<K> = (data) => {
      this.removeEventListener(event, listener)
      listener(data)
    }
    let wrappers = this.#onceWrappers.get(event)
    if (wrappers === undefined) this.#onceWrappers.set(event, wrappers = new Map<AnyListener, AnyListener>())
    wrappers.set(listener as AnyListener, wrapper as AnyListener)
    this.addEventListener(event, wrapper)
    return this
  }

  /** Removes every listener of `event`, or of every event. */
  removeAllListeners(event?: PeerPigeonMeshEvent): this {
    if (event === undefined) {
      this.#listeners.clear()
      this.#onceWrappers.clear()
    } else {
      this.#listeners.delete(event)
      this.#onceWrappers.delete(event)
    }
    return this
  }

  listenerCount(event: PeerPigeonMeshEvent): number {
    return this.#listeners.get(event)?.size ?? 0
  }

  listeners<K extends PeerPigeonMeshEvent>(event: K): Array<Listener<K>> {
    const wrapped = new Map<AnyListener, AnyListener>()
    for (const [listener, wrapper] of this.#onceWrappers.get(event) ?? []) wrapped.set(wrapper, listener)
    return [...this.#listeners.get(event) ?? []].map((l) => (wrapped.get(l) ?? l) as Listener<K>)
  }

  /** The events that have listeners. */
  eventNames(): Array<PeerPigeonMeshEvent> {
    return [...this.#listeners.keys()] as Array<PeerPigeonMeshEvent>
  }

  protected emit<K extends PeerPigeonMeshEvent>(event: K, data: PeerPigeonMeshEvents[K]): void {
    const set = this.#listeners.get(event)
    if (set === undefined) return
    for (const listener of [...set]) {
      try {
        ;(listener as Listener<K>)(data)
      } catch (error) {
        // a throwing listener must not take the mesh down
        console.error(`peerpigeon: a "${event}" listener threw`, error)
      }
    }
  }
}
