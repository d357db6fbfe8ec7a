/**
 * PeerPigeon 1.x's component classes, as thin handles over a `PeerPigeonMesh` and its
 * services, so that code importing them keeps working:
 *
 * - `WebDHT(mesh)`: the DHT calls (`put`, `get`, `update`, `delete`, `subscribe`,
 *   `unsubscribe`, `getStorageStats`), as `mesh.dht*`.
 * - `SignalingClient(mesh)`: the mesh's signaling connection (`connect`, `disconnect`,
 *   `isConnected`, `signalingUrl`), over the `Signaling` service. Peers are not announced or
 *   dialled by hand: the mesh does it.
 * - `PeerConnection(mesh, peerId)`: one link of the mesh (`getStatus`, `isInitiator`,
 *   `connectionStartTime`, `sendMessage`, `close`). It does not negotiate WebRTC itself; the
 *   mesh's `Connections` service does.
 *
 * @since 2.0.0
 */
import type { Effect, Schema } from "effect"
import type { PeerLinkInfo } from "../services/Connections.ts"
import { Dht, type DhtStats } from "../services/Dht.ts"
import type { MeshStatus } from "../services/Mesh.ts"
import { Signaling } from "../services/Signaling.ts"
import type { DhtGetOptions, DhtPutCompatOptions, DhtUpdateOptions } from "./dht.ts"

/** What the handles need of the mesh (the public API of `PeerPigeonMesh`). */
export interface MeshHandle {
  readonly peerId: string
  init(): Promise<void>
  connect(url: string): Promise<void>
  getStatus(): MeshStatus
  getPeerDetails(): ReadonlyArray<PeerLinkInfo>
  sendDirectMessage(peerId: string, content: Schema.Json): string
  disconnectPeer(peerId: string): Promise<void>
  dhtPut(key: string, value: Schema.Json, options?: DhtPutCompatOptions): Promise<number>
  dhtGet(key: string, options?: DhtGetOptions): Promise<Schema.Json | null>
  dhtUpdate(key: string, value: Schema.Json, options?: DhtUpdateOptions): Promise<number>
  dhtDelete(key: string): Promise<boolean>
  dhtSubscribe(key: string): Promise<Schema.Json | null>
  dhtUnsubscribe(key: string): Promise<void>
  /** Runs an Effect on the mesh's runtime (starting it if needed). */
  runEffect<A, E>(effect: Effect.Effect<A, E, Dht | Signaling>): Promise<A>
}

export class WebDHT {
  readonly #mesh: MeshHandle
  constructor(mesh: MeshHandle) {
    this.#mesh = mesh
  }
  put(key: string, value: Schema.Json, options?: DhtPutCompatOptions): Promise<number> {
    return this.#mesh.dhtPut(key, value, options)
  }
  get(key: string, options?: DhtGetOptions): Promise<Schema.Json | null> {
    return this.#mesh.dhtGet(key, options)
  }
  update(key: string, value: Schema.Json, options?: DhtUpdateOptions): Promise<number> {
    return this.#mesh.dhtUpdate(key, value, options)
  }
  delete(key: string): Promise<boolean> {
    return this.#mesh.dhtDelete(key)
  }
  subscribe(key: string): Promise<Schema.Json | null> {
    return this.#mesh.dhtSubscribe(key)
  }
  unsubscribe(key: string): Promise<void> {
    return this.#mesh.dhtUnsubscribe(key)
  }
  /** Records, bytes and counters of this peer's part of the DHT. */
  getStorageStats(): Promise<DhtStats> {
    return this.#mesh.runEffect(Dht.use((d) => d.stats))
  }
}

export class SignalingClient {
  readonly #mesh: MeshHandle
  constructor(mesh: MeshHandle) {
    this.#mesh = mesh
  }
  get peerId(): string {
    return this.#mesh.peerId
  }
  get signalingUrl(): string | undefined {
    return this.#mesh.getStatus().signalingUrl
  }
  /** Connects the mesh to the signaling server at `url` (as `mesh.connect`). */
  connect(url: string): Promise<void> {
    return this.#mesh.connect(url)
  }
  /** Says goodbye to the server and stops reconnecting; the mesh's links stay up. */
  disconnect(): Promise<void> {
    return this.#mesh.runEffect(Signaling.use((s) => s.disconnect))
  }
  isConnected(): boolean {
    return this.#mesh.getStatus().connected
  }
}

export type PeerConnectionStatus = "connecting" | "connected" | "closed"

export class PeerConnection {
  readonly #mesh: MeshHandle
  readonly peerId: string
  constructor(mesh: MeshHandle, peerId: string) {
    this.#mesh = mesh
    this.peerId = peerId.toLowerCase()
  }
  #link(): PeerLinkInfo | undefined {
    return this.#mesh.getPeerDetails().find((l) => l.peerId === this.peerId)
  }
  getStatus(): PeerConnectionStatus {
    return this.#link()?.status ?? "closed"
  }
  /** Whether this peer dialled the link (undefined when there is none). */
  get isInitiator(): boolean | undefined {
    return this.#link()?.initiator
  }
  /** When the link was set up (epoch ms; undefined when there is none). */
  get connectionStartTime(): number | undefined {
    return this.#link()?.since
  }
  /** Whether the peer proved it holds the key its id derives from. */
  get verified(): boolean {
    return this.#link()?.verified ?? false
  }
  /** Sends a direct message to this peer; returns its id (as `mesh.sendDirectMessage`). */
  sendMessage(content: Schema.Json): string {
    return this.#mesh.sendDirectMessage(this.peerId, content)
  }
  close(): Promise<void> {
    return this.#mesh.disconnectPeer(this.peerId)
  }
}
