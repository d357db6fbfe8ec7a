/**
 * `PeerPigeonMesh`: the mesh for plain TypeScript/JavaScript users, with the Promise and
 * `addEventListener` API of PeerPigeon 1.x. It runs `makeMeshLayer` in a `ManagedRuntime`;
 * `disconnect()` releases everything, so a Node process exits by itself. The entry points
 * (`index.ts` for Node, `browser.ts`) bind it to their platform. The parts live in
 * `facade/`: events, the DHT calls, binary data and streams (`data.ts`), media, encryption,
 * diagnostics, the environment, the 1.x component classes.
 *
 * @since 2.0.0
 */
import { Effect, type Schema } from "effect"
import { PeerConnection, SignalingClient, WebDHT } from "./facade/compat.ts"
import { MeshCrypto } from "./facade/crypto.ts"
import { keptIdentity } from "./facade/keptIdentity.ts"
import { MeshStorage, storageEventOf } from "./facade/storage.ts"
import * as FacadeDht from "./facade/dht.ts"
import * as Diagnostics from "./facade/diagnostics.ts"
import * as FacadeStreams from "./facade/streams.ts"
import { EventBridge } from "./facade/dispatch.ts"
import { environmentReport, type EnvironmentReport, hasWebRTC, hasWebSocket } from "./facade/environment.ts"
import { MeshDataBase } from "./facade/data.ts"
import { generateMessageId, generatePeerId, validatePeerId } from "./facade/peerId.ts"
import { offlineStatus, type Runtime, type Services, startRuntime, unwrap } from "./facade/runtime.ts"
import type { Platform } from "./layers/Mesh.ts"
import { isPeerIdString, type PeerId } from "./schema/PeerId.ts"
import { Connections, type PeerLinkInfo } from "./services/Connections.ts"
import { Dht } from "./services/Dht.ts"
import type { DiscoveredPeer } from "./services/Discovery.ts"
import { storageDefaults } from "./services/DistributedStorage.ts"
import { type Identity, make as makeIdentity } from "./services/Identity.ts"
import { Mesh, type MeshStatus } from "./services/Mesh.ts"
import { type MeshOptions, resolveMeshOptions } from "./services/MeshConfig.ts"

export type { PeerPigeonMeshEvent, PeerPigeonMeshEvents } from "./facade/events.ts"
export type { DhtGetOptions, DhtPutCompatOptions, DhtSpace, DhtUpdateOptions } from "./facade/dht.ts"
export type { ConnectionAttempt, ConnectivityReport, PeerStateSummary } from "./facade/diagnostics.ts"
export type PeerPigeonMeshOptions = Partial<MeshOptions>

const invalidPeer = (peerId: string) => new TypeError(`invalid peer id: ${JSON.stringify(peerId)}`)
const reasonOf = (error: unknown) => error instanceof Error ? error.message : String(error)

export class PeerPigeonMeshBase extends MeshDataBase {
  /** True for a valid peer id: 40 hexadecimal characters. */
  static validatePeerId = validatePeerId
  /** A random peer id (not derived from a key: a mesh using it counts as unverified). */
  static generatePeerId = generatePeerId

  /** What this platform offers (runtime, WebRTC, WebSocket), as 1.x reports it. */
  readonly environmentReport: EnvironmentReport = environmentReport
  /** 1.x's `mesh.webDHT`: the DHT calls as a `WebDHT`. */
  readonly webDHT: WebDHT = new WebDHT(this)
  /** 1.x's `mesh.signalingClient`: this mesh's signaling connection. */
  readonly signalingClient: SignalingClient = new SignalingClient(this)
  /** End-to-end encryption (facade/crypto.ts); `crypto` is the same object, and so are the mesh's encryption calls below. */
  readonly cryptoManager: MeshCrypto = new MeshCrypto(this)
  readonly crypto: MeshCrypto = this.cryptoManager
  readonly encryptMessage = this.cryptoManager.encryptMessage
  readonly decryptMessage = this.cryptoManager.decryptMessage
  readonly sendEncryptedMessage = this.cryptoManager.sendEncryptedMessage
  readonly sendEncryptedBroadcast = this.cryptoManager.sendEncryptedBroadcast
  readonly createGroup = this.cryptoManager.createGroup
  readonly addToGroup = this.cryptoManager.addToGroup
  readonly removeFromGroup = this.cryptoManager.removeFromGroup
  /** Encrypted, access-controlled records and CRDT documents in the DHT (facade/storage.ts). */
  readonly distributedStorage: MeshStorage = new MeshStorage(this)

  #options: MeshOptions
  readonly #platform: Platform
  #identity: Identity["Service"] | undefined
  #runtime: Runtime | undefined
  #starting: Promise<Runtime> | undefined
  readonly #bridge = new EventBridge((event, data) => this.emit(event, data), () => this.getConnectedPeerCount())

  constructor(options: PeerPigeonMeshOptions, platform: Platform) {
    super()
    if (options.peerId !== undefined && !isPeerIdString(options.peerId)) {
      throw new TypeError(`peerId must be 40 hexadecimal characters, got ${JSON.stringify(options.peerId)}`)
    }
    this.#options = resolveMeshOptions(options)
    this.#platform = platform
  }

  /** This peer's id: the custom one given, or (after `init()`) the one derived from its key. */
  get peerId(): string {
    return this.#identity?.peerId ?? this.#options.peerId?.toLowerCase() ?? ""
  }

  get networkName(): string {
    return this.#options.networkName
  }

  /** This peer's Ed25519 public key (raw, base64url), or null before `init()`. */
  getPublicKey(): string | null {
    return this.#identity?.publicKey ?? null
  }

  /** Makes the key pair (and so the peer id) and starts the mesh services; then `initialized`. */
  async init(): Promise<void> {
    await this.#start()
    await this.cryptoManager.initIfEnabled()
  }

  /** Connects to the signaling server (`ws(s)://` or `http(s)://`) and joins the network. */
  async connect(url: string): Promise<void> {
    const runtime = await this.#start()
    await runtime.runPromise(Mesh.use((m) => m.connect(url)))
  }

  /** Leaves the network: goodbye to the server, every link closed, every resource released. */
  async disconnect(): Promise<void> {
    // a start under way finishes first, so its runtime is released too
    const runtime = this.#runtime ?? await this.#starting?.catch(() => undefined)
    if (runtime === undefined) return
    this.#runtime = undefined
    this.#starting = undefined
    await runtime.runPromise(Mesh.use((m) => m.disconnect)).catch(() => undefined)
    await runtime.dispose()
    if (!this.#bridge.disconnectedTold) {
      this.#bridge.disconnectedTold = true
      this.emit("disconnected", { reason: "disconnect" })
    }
  }

  /**
   * Broadcasts to every peer of the network. Returns the message's id at once (1.x); the send
   * goes on in the background, and a failure comes as `messageFailed` and `statusChanged`.
   * Receivers see the same id (`messageReceived.messageId`): the message is signed with it.
   */
  sendMessage(content: Schema.Json): string {
    const id = generateMessageId()
    this.#background(id, undefined, Mesh.use((m) => m.sendMessage(content, { id })))
    return id
  }

  /**
   * Sends to one peer, over several hops if needed; returns the message id at once. A failure,
   * or no acknowledgement from the target after every retransmission, comes as `messageFailed`.
   * `{ encrypt: true }`: end-to-end encrypted, as `sendEncryptedMessage`.
   */
  sendDirectMessage(peerId: string, content: Schema.Json, options: { readonly encrypt?: boolean } = {}): string {
    const id = generateMessageId()
    if (!isPeerIdString(peerId)) {
      queueMicrotask(() => this.#bridge.failed(id, invalidPeer(peerId).message))
      return id
    }
    const to = peerId.toLowerCase() as PeerId
    this.#background(id, to, Mesh.use((m) => m.sendDirectMessage(to, content, { id, encrypt: options.encrypt === true })))
    return id
  }

  connectToPeer(peerId: string): Promise<void> {
    if (!isPeerIdString(peerId)) return Promise.reject(invalidPeer(peerId))
    return this.#run(Mesh.use((m) => m.connectToPeer(peerId.toLowerCase() as PeerId)))
  }

  /** Closes the link to `peerId` with `reason` (default "manual"). */
  disconnectPeer(peerId: string, reason = "manual"): Promise<void> {
    if (!isPeerIdString(peerId)) return Promise.reject(invalidPeer(peerId))
    return this.#run(Connections.use((c) => c.disconnect(peerId.toLowerCase() as PeerId, reason)))
  }

  /** Stores `value` (JSON) under `key`; resolves to the record's version. `space`: see `facade/dht.ts`. */
  dhtPut(key: string, value: Schema.Json, options?: FacadeDht.DhtPutCompatOptions): Promise<number> {
    return this.#run(FacadeDht.put(key, value, options))
  }

  /** Reads `key`; resolves `null` when absent (or when `timeout` ms pass first). */
  dhtGet(key: string, options?: FacadeDht.DhtGetOptions): Promise<Schema.Json | null> {
    return this.#run(FacadeDht.get(key, options))
  }

  /** Changes `key`, creating it when absent (only its publisher may, unless it was put public/writable). */
  dhtUpdate(key: string, value: Schema.Json, options?: FacadeDht.DhtUpdateOptions): Promise<number> {
    return this.#run(FacadeDht.update(key, value, options))
  }

  /** Deletes `key`; resolves false when there was nothing to delete. */
  dhtDelete(key: string): Promise<boolean> {
    return this.#run(FacadeDht.remove(key))
  }

  /** Receives `dhtValueChanged` events for `key` from now on; resolves to its current value (null when absent). */
  dhtSubscribe(key: string): Promise<Schema.Json | null> {
    return this.#run(Dht.use((d) => d.subscribe(key)))
  }

  dhtUnsubscribe(key: string): Promise<void> {
    return this.#run(Dht.use((d) => d.unsubscribe(key)))
  }

  /** The status object of PeerPigeon 1.x (`uptime` counts from the connection). */
  getStatus(): MeshStatus {
    const runtime = this.#runtime
    return runtime === undefined
      ? offlineStatus(this.#options, this.peerId, this.#identity?.verified ?? false)
      : unwrap(runtime.runSyncExit(Mesh.use((m) => m.status)))
  }

  getConnectedPeerCount(): number {
    return this.getStatus().connectedCount
  }

  /** The ids of the connected peers (1.x). */
  getPeers(): Array<string> {
    return this.getConnectedPeerIds()
  }

  getConnectedPeerIds(): Array<string> {
    return this.getPeerDetails().filter((l) => l.status === "connected").map((l): string => l.peerId)
  }

  /** Every link, connecting or connected, with its details. */
  getPeerDetails(): ReadonlyArray<PeerLinkInfo> {
    return this.#sync(Connections.use((c) => c.links), [])
  }

  /** A handle on the link to `peerId` (1.x's `PeerConnection`), or undefined when there is none. */
  getPeerConnection(peerId: string): PeerConnection | undefined {
    const id = peerId.toLowerCase()
    return this.getPeerDetails().some((l) => l.peerId === id) ? new PeerConnection(this, id) : undefined
  }

  /** Discovered peers with no link yet (neither connecting nor connected). */
  getDiscoveredPeers(): ReadonlyArray<DiscoveredPeer> {
    return this.#sync(Diagnostics.unlinked, [])
  }

  /** Links being set up, and peers waiting before they are tried again. */
  getConnectionAttempts(): ReadonlyArray<Diagnostics.ConnectionAttempt> {
    return this.#sync(Diagnostics.connectionAttempts, [])
  }

  getPeerStateSummary(): Diagnostics.PeerStateSummary {
    return this.#sync(Diagnostics.peerStateSummary, { connected: 0, connecting: 0, discovered: 0, coolingDown: 0, reachable: 0 })
  }

  /** Everything about this peer's connectivity in one object (status, links, attempts, counters). */
  debugConnectivity(): Diagnostics.ConnectivityReport | null {
    return this.#sync(Effect.map(Diagnostics.connectivityReport, (r): Diagnostics.ConnectivityReport | null => r), null)
  }

  /** Starts a link to every discovered peer without one (for testing); resolves to those tried. */
  forceConnectToAllPeers(): Promise<ReadonlyArray<string>> {
    return this.#run(Diagnostics.connectToAll)
  }

  canAcceptMorePeers(): boolean {
    const s = this.getStatus()
    return s.connectedCount + s.connectingCount < s.maxPeers
  }

  hasPeer(peerId: string): boolean {
    return this.getConnectedPeerIds().includes(peerId.toLowerCase())
  }

  /** Most links kept, clamped to 1-50; returns the value in force. */
  setMaxPeers(n: number): number {
    return this.#configure({ maxPeers: n }).maxPeers
  }

  /** Fewest links the optimizer keeps, clamped to 0-49 and to maxPeers; returns the value in force. */
  setMinPeers(n: number): number {
    return this.#configure({ minPeers: n }).minPeers
  }

  setAutoDiscovery(enabled: boolean): void {
    this.#configure({ autoDiscovery: enabled })
  }

  setEvictionStrategy(enabled: boolean): void {
    this.#configure({ evictionStrategy: enabled })
  }

  setXorRouting(enabled: boolean): void {
    this.#configure({ xorRouting: enabled })
  }

  /** Signaling is WebSocket only; kept for PeerPigeon compatibility. */
  setConnectionType(type: string): void {
    if (type !== "websocket") throw new RangeError(`unsupported connection type ${JSON.stringify(type)}: only "websocket"`)
  }

  hasWebRTCSupport(): boolean {
    return hasWebRTC()
  }

  hasWebSocketSupport(): boolean {
    return hasWebSocket()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.disconnect()
  }

  /** The Effect runtime of this mesh, for mixing the Promise API with Effect code. */
  get runtime(): Runtime | undefined {
    return this.#runtime
  }

  /** Runs an Effect on this mesh's runtime, starting it if needed; typed errors reject with the error. */
  runEffect<A, E>(effect: Effect.Effect<A, E, Services>): Promise<A> {
    return this.#run(effect)
  }

  #start(): Promise<Runtime> {
    if (this.#starting !== undefined) return this.#starting
    const starting = (async () => {
      // a tab keeping its storage in IndexedDB keeps its identity there too: a reload is the same peer
      const keep = this.#options.peerId === undefined && (this.#options.storage?.persistence ?? storageDefaults.persistence) === "indexeddb"
      const identity = this.#identity ?? await Effect.runPromise(keep ? keptIdentity : makeIdentity(this.#options.peerId))
      this.#identity = identity
      const runtime = await startRuntime(this.#options, this.#platform, identity, {
        event: (event) => this.#bridge.dispatch(event),
        dhtChange: (change) => this.emit("dhtValueChanged", change),
        storageEvent: (event) => {
          const { data, name } = storageEventOf(event)
          this.emit(name, data as never)
        },
        streamEvent: (event) => {
          const { data, name } = FacadeStreams.streamEventOf(event)
          this.emit(name, data as never)
        },
        incomingStream: (stream) => {
          if (this.listenerCount("streamReceived") === 0) return void this.#run(stream.abort("refused: nobody reads streams here"))
          const { id, name, peerId, size, type } = stream
          const readable = FacadeStreams.readableFor(stream, (effect) => this.#run(effect))
          this.emit("streamReceived", { from: peerId, streamId: id, stream: readable, name, size, type })
        }
      })
      this.#runtime = runtime
      this.emit("initialized", { peerId: identity.peerId })
      return runtime
    })()
    this.#starting = starting
    starting.catch(() => {
      if (this.#starting === starting) this.#starting = undefined
    })
    return starting
  }

  async #run<A, E>(effect: Effect.Effect<A, E, Services>): Promise<A> {
    const runtime = this.#runtime ?? await this.#start()
    return unwrap(await runtime.runPromiseExit(effect))
  }

  /** Runs a send in the background; its failure becomes `messageFailed`. */
  #background<E>(id: string, to: PeerId | undefined, send: Effect.Effect<string, E, Services>): void {
    this.#run(send).then(
      () => undefined,
      (error: unknown) => this.#bridge.failed(id, reasonOf(error), to)
    )
  }


  #sync<A>(effect: Effect.Effect<A, never, Services>, fallback: A): A {
    const runtime = this.#runtime
    return runtime === undefined ? fallback : unwrap(runtime.runSyncExit(effect))
  }

  #configure(patch: Partial<MeshOptions>): MeshOptions {
    this.#options = resolveMeshOptions({ ...this.#options, ...patch })
    const runtime = this.#runtime
    if (runtime !== undefined) {
      const { maxPeers, minPeers, autoDiscovery, evictionStrategy, xorRouting } = this.#options
      runtime.runPromise(Mesh.use((m) => m.configure({ maxPeers, minPeers, autoDiscovery, evictionStrategy, xorRouting }))).catch(
        (error: unknown) => this.emit("statusChanged", { type: "error", message: `configure failed: ${reasonOf(error)}` })
      )
    }
    return this.#options
  }
}
