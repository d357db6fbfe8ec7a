/**
 * `PeerPigeonMesh`: the mesh for plain TypeScript/JavaScript users, with the Promise and
 * `addEventListener` API of the PeerPigeon documentation. It runs `makeMeshLayer` in a
 * `ManagedRuntime`; `disconnect()` releases everything, so a Node process exits by itself.
 * The entry points (`index.ts` for Node, `browser.ts`) bind it to their platform.
 *
 * @since 2.0.0
 */
import { Cause, Effect, Exit, Layer, ManagedRuntime, PubSub, type Schema, Stream } from "effect"
import { layer as debugLoggerLayer } from "./DebugLogger.ts"
import { makeMeshLayer, type Platform } from "./layers/Mesh.ts"
import { isPeerIdString, type PeerId } from "./schema/PeerId.ts"
import { Connections, type PeerLinkInfo } from "./services/Connections.ts"
import { Dht, type DhtChange, type DhtPutOptions } from "./services/Dht.ts"
import { type DiscoveredPeer, Discovery } from "./services/Discovery.ts"
import { Identity, make as makeIdentity } from "./services/Identity.ts"
import { Mesh, type MeshStatus } from "./services/Mesh.ts"
import { type MeshOptions, resolveMeshOptions } from "./services/MeshConfig.ts"
import { type MeshEvent, MeshEvents } from "./services/MeshEvents.ts"

export type PeerPigeonMeshOptions = Partial<MeshOptions>

/** Event payloads, by event name. */
export interface PeerPigeonMeshEvents {
  connected: Record<string, never>
  disconnected: { readonly reason: string }
  peerDiscovered: { readonly peerId: string }
  peerConnected: { readonly peerId: string; readonly verified: boolean }
  peerDisconnected: { readonly peerId: string; readonly reason: string }
  peerEvicted: { readonly peerId: string; readonly by: string; readonly reason: string }
  messageReceived: Omit<Extract<MeshEvent, { _tag: "MessageReceived" }>, "_tag">
  statusChanged: { readonly type: string; readonly message: string }
  peersUpdated: { readonly connectedCount: number }
  dhtValueChanged: DhtChange
}
export type PeerPigeonMeshEvent = keyof PeerPigeonMeshEvents
type Listener<K extends PeerPigeonMeshEvent> = (data: PeerPigeonMeshEvents[K]) => void

type Services = Layer.Success<ReturnType<typeof makeMeshLayer>>
type Runtime = ManagedRuntime.ManagedRuntime<Services, unknown>

const unwrap = <A>(exit: Exit.Exit<A, unknown>): A => {
  if (Exit.isSuccess(exit)) return exit.value
  throw Cause.squash(exit.cause)
}

export class PeerPigeonMeshBase {
  #options: MeshOptions
  readonly #platform: Platform
  #identity: Identity["Service"] | undefined
  #runtime: Runtime | undefined
  #starting: Promise<Runtime> | undefined
  readonly #listeners = new Map<string, Set<(data: never) => void>>()

  constructor(options: PeerPigeonMeshOptions, platform: Platform) {
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

  /** Makes the key pair (and so the peer id) and starts the mesh services. */
  async init(): Promise<void> {
    await this.#start()
  }

  /** Connects to the signaling server (`ws(s)://` or `http(s)://`) and joins the network. */
  async connect(url: string): Promise<void> {
    const runtime = await this.#start()
    await runtime.runPromise(Mesh.use((m) => m.connect(url)))
  }

  /** Leaves the network: goodbye to the server, every link closed, every resource released. */
  async disconnect(): Promise<void> {
    const runtime = this.#runtime
    if (runtime === undefined) return
    await runtime.runPromise(Mesh.use((m) => m.disconnect)).catch(() => undefined)
    this.#runtime = undefined
    this.#starting = undefined
    await runtime.dispose()
    this.#emit("disconnected", { reason: "disconnect" })
  }

  /** Broadcasts to every peer of the network; resolves to the message id. */
  sendMessage(content: Schema.Json): Promise<string> {
    return this.#run(Mesh.use((m) => m.sendMessage(content)))
  }

  /** Sends to one peer, over several hops if needed; resolves to the message id. */
  sendDirectMessage(peerId: string, content: Schema.Json): Promise<string> {
    if (!isPeerIdString(peerId)) return Promise.reject(new TypeError(`invalid peer id: ${JSON.stringify(peerId)}`))
    return this.#run(Mesh.use((m) => m.sendDirectMessage(peerId.toLowerCase() as PeerId, content)))
  }

  connectToPeer(peerId: string): Promise<void> {
    if (!isPeerIdString(peerId)) return Promise.reject(new TypeError(`invalid peer id: ${JSON.stringify(peerId)}`))
    return this.#run(Mesh.use((m) => m.connectToPeer(peerId.toLowerCase() as PeerId)))
  }

  disconnectPeer(peerId: string): Promise<void> {
    if (!isPeerIdString(peerId)) return Promise.reject(new TypeError(`invalid peer id: ${JSON.stringify(peerId)}`))
    return this.#run(Mesh.use((m) => m.disconnectPeer(peerId.toLowerCase() as PeerId)))
  }

  /** Stores `value` (JSON) under `key` in the DHT; resolves to the record's version. */
  dhtPut(key: string, value: Schema.Json, options?: DhtPutOptions): Promise<number> {
    return this.#run(Dht.use((d) => d.put(key, value, options)))
  }

  /** Reads `key` from the DHT; rejects with `NotFound` when absent. */
  dhtGet(key: string): Promise<Schema.Json> {
    return this.#run(Dht.use((d) => d.get(key)))
  }

  /** Changes an existing key (only its publisher may, unless it was put `writable`). */
  dhtUpdate(key: string, value: Schema.Json): Promise<number> {
    return this.#run(Dht.use((d) => d.update(key, value)))
  }

  dhtDelete(key: string): Promise<void> {
    return this.#run(Dht.use((d) => d.delete(key)))
  }

  /** Receives `dhtValueChanged` events for `key` from now on; resolves to its current value (null when absent). */
  dhtSubscribe(key: string): Promise<Schema.Json | null> {
    return this.#run(Dht.use((d) => d.subscribe(key)))
  }

  dhtUnsubscribe(key: string): Promise<void> {
    return this.#run(Dht.use((d) => d.unsubscribe(key)))
  }

  /** The status object of the PeerPigeon documentation. */
  getStatus(): MeshStatus {
    const runtime = this.#runtime
    if (runtime === undefined) {
      const o = this.#options
      return {
        peerId: this.peerId as PeerId,
        verified: this.#identity?.verified ?? false,
        networkName: o.networkName,
        connected: false,
        signalingUrl: undefined,
        connectedCount: 0,
        connectingCount: 0,
        discoveredCount: 0,
        maxPeers: o.maxPeers,
        minPeers: o.minPeers,
        autoDiscovery: o.autoDiscovery,
        evictionStrategy: o.evictionStrategy,
        xorRouting: o.xorRouting,
        connectionType: "websocket",
        transport: "",
        uptime: 0
      }
    }
    return unwrap(runtime.runSyncExit(Mesh.use((m) => m.status)))
  }

  getConnectedPeerCount(): number {
    return this.getStatus().connectedCount
  }

  /** Every link, connecting or connected. */
  getPeers(): ReadonlyArray<PeerLinkInfo> {
    return this.#sync(Connections.use((c) => c.links), [])
  }

  getDiscoveredPeers(): ReadonlyArray<DiscoveredPeer> {
    return this.#sync(Discovery.use((d) => d.discovered), [])
  }

  canAcceptMorePeers(): boolean {
    const s = this.getStatus()
    return s.connectedCount + s.connectingCount < s.maxPeers
  }

  hasPeer(peerId: string): boolean {
    const id = peerId.toLowerCase()
    return this.getPeers().some((p) => p.peerId === id && p.status === "connected")
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
    return typeof (globalThis as { RTCPeerConnection?: unknown }).RTCPeerConnection === "function" || isNode()
  }

  hasWebSocketSupport(): boolean {
    return typeof (globalThis as { WebSocket?: unknown }).WebSocket === "function"
  }

  addEventListener<K extends PeerPigeonMeshEvent>(event: K, listener: Listener<K>): void {
    let set = this.#listeners.get(event)
    if (set === undefined) this.#listeners.set(event, set = new Set())
    set.add(listener as (data: never) => void)
  }

  removeEventListener<K extends PeerPigeonMeshEvent>(event: K, listener: Listener<K>): void {
    this.#listeners.get(event)?.delete(listener as (data: never) => void)
  }

  on<K extends PeerPigeonMeshEvent>(event: K, listener: Listener<K>): this {
    this.addEventListener(event, listener)
    return this
  }

  off<K extends PeerPigeonMeshEvent>(event: K, listener: Listener<K>): this {
    this.removeEventListener(event, listener)
    return this
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.disconnect()
  }

  /** The Effect runtime of this mesh, for mixing the Promise API with Effect code. */
  get runtime(): Runtime | undefined {
    return this.#runtime
  }

  #emit<K extends PeerPigeonMeshEvent>(event: K, data: PeerPigeonMeshEvents[K]): void {
    for (const listener of this.#listeners.get(event) ?? []) {
      try {
        ;(listener as Listener<K>)(data)
      } catch (error) {
        // a throwing listener must not take the mesh down
        console.error(`peerpigeon: a "${event}" listener threw`, error)
      }
    }
  }

  #dispatch(event: MeshEvent): void {
    switch (event._tag) {
      case "SignalingConnected":
        this.#emit("connected", {})
        this.#emit("statusChanged", { type: "connected", message: "Connected to the signaling server" })
        break
      case "SignalingDisconnected":
        this.#emit("statusChanged", {
          type: event.willReconnect ? "warning" : "disconnected",
          message: event.willReconnect ? `Signaling lost (${event.reason}); reconnecting` : "Disconnected from the signaling server"
        })
        break
      case "PeerDiscovered":
        this.#emit("peerDiscovered", { peerId: event.peerId })
        break
      case "PeerConnected":
        this.#emit("peerConnected", { peerId: event.peerId, verified: event.verified })
        this.#emit("peersUpdated", { connectedCount: this.getConnectedPeerCount() })
        break
      case "PeerDisconnected":
        this.#emit("peerDisconnected", { peerId: event.peerId, reason: event.reason })
        this.#emit("peersUpdated", { connectedCount: this.getConnectedPeerCount() })
        break
      case "PeerEvicted":
        this.#emit("peerEvicted", { peerId: event.peerId, by: event.by, reason: event.reason })
        break
      case "MessageReceived": {
        const { _tag, ...data } = event
        this.#emit("messageReceived", data)
        break
      }
      case "StatusChanged":
        this.#emit("statusChanged", { type: event.type, message: event.message })
        break
    }
  }

  #start(): Promise<Runtime> {
    if (this.#starting !== undefined) return this.#starting
    this.#starting = (async () => {
      const identity = this.#identity ?? await Effect.runPromise(makeIdentity(this.#options.peerId))
      this.#identity = identity
      const runtime: Runtime = ManagedRuntime.make(
        makeMeshLayer(this.#options, this.#platform, Layer.succeed(Identity, identity)).pipe(
          Layer.provideMerge(debugLoggerLayer)
        )
      )
      const subscribed = Promise.withResolvers<void>()
      runtime.runFork(
        Effect.gen({ self: this }, function*() {
          const subscription = yield* MeshEvents.use((pubsub) => PubSub.subscribe(pubsub))
          subscribed.resolve()
          yield* Dht.use((d) =>
            d.changes.pipe(Stream.runForEach((change) => Effect.sync(() => this.#emit("dhtValueChanged", change))))
          ).pipe(Effect.forkScoped)
          while (true) this.#dispatch(yield* PubSub.take(subscription))
        }).pipe(Effect.scoped)
      ).addObserver((exit) => {
        if (Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)) subscribed.reject(Cause.squash(exit.cause))
      })
      await subscribed.promise
      this.#runtime = runtime
      return runtime
    })()
    this.#starting.catch(() => {
      this.#starting = undefined
    })
    return this.#starting
  }

  async #run<A, E>(effect: Effect.Effect<A, E, Services>): Promise<A> {
    const runtime = this.#runtime ?? await this.#start()
    return unwrap(await runtime.runPromiseExit(effect))
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
      runtime.runFork(Mesh.use((m) => m.configure({ maxPeers, minPeers, autoDiscovery, evictionStrategy, xorRouting })))
    }
    return this.#options
  }
}

const isNode = () => typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === "string"
