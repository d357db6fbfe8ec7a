/**
 * Mesh configuration: one documented `defaults` object and a service holding the resolved
 * values. Names follow the PeerPigeon documentation.
 *
 * @since 2.0.0
 */
import { Context, Effect, Layer } from "effect"
import type { RateLimits } from "../internal/linkLimits.ts"
import { meshOptionProblems } from "../internal/meshOptionsCheck.ts"
import type { DhtOptions } from "./Dht.ts"
import type { StorageOptions } from "./DistributedStorage.ts"
import type { StreamsOptions } from "./Streams.ts"

/** An ICE server as RTCPeerConnection takes it (STUN, or TURN with credentials). */
export interface IceServer {
  readonly urls: string | ReadonlyArray<string>
  readonly username?: string
  readonly credential?: string
}

export interface MeshOptions {
  /** A custom 40-hex peer id; by default the id derives from a fresh Ed25519 key (verified). */
  readonly peerId: string | undefined
  /** The network (namespace) to join. Default `"global"`. */
  readonly networkName: string
  /** Most direct links kept, 1-50. Default 3. */
  readonly maxPeers: number
  /** Fewest direct links the optimizer works to keep, 0-49 (below maxPeers). Default 2. */
  readonly minPeers: number
  /** Connect to discovered peers by itself. Default true. */
  readonly autoDiscovery: boolean
  /** At maxPeers, replace the farthest link with a closer peer. Default true. */
  readonly evictionStrategy: boolean
  /** Route direct messages greedily by XOR distance (else flood them). Default true. */
  readonly xorRouting: boolean
  /** Enables the DHT. Default true. */
  readonly enableWebDHT: boolean
  /**
   * End-to-end encryption: an X25519 key per peer, announced in link handshakes and in the DHT
   * key directory (`pp/keys/<peerId>`); encrypted direct messages and group broadcasts. Off,
   * every crypto call fails with a `CryptoError` of reason `disabled`. Default true.
   */
  readonly enableCrypto: boolean
  /** DHT tuning (replicationFactor, ttl, ...); see `dhtDefaults`. Default {}. */
  readonly dht: Partial<DhtOptions>
  /** Distributed storage tuning (maxDocuments, maxReaders, batchMs, ...); see `storageDefaults`. Default {}. */
  readonly storage: Partial<StorageOptions>
  /** STUN/TURN servers for WebRTC. Default: none (host candidates only). */
  readonly iceServers: ReadonlyArray<IceServer>
  /**
   * Which ICE candidates WebRTC may use: `"all"`, or `"relay"` for TURN only (deployments
   * where peers must never see each other's addresses, or only TURN gets through; needs a
   * TURN server in `iceServers`). Default `"all"`.
   */
  readonly iceTransportPolicy: "all" | "relay"
  /** Time allowed to set up one link (signaling, ICE, DTLS, handshake). Default 15000 ms. */
  readonly connectionTimeout: number
  /** Hops a broadcast may travel (copies are de-duplicated, so a generous bound costs nothing). Default 32. */
  readonly gossipTtl: number
  /** Message ids remembered for de-duplication. Default 20000 ids for 120000 ms. */
  readonly seenCacheSize: number
  readonly seenCacheTtl: number
  /** How often the optimizer checks degree and connectivity. Default 2000 ms. */
  readonly optimizeInterval: number
  /** How often each peer broadcasts its presence (for connectivity repair); 0 turns it off. Default 5000 ms. */
  readonly presenceInterval: number
  /** How often neighbours compare recent broadcast ids to repair losses; 0 turns it off. Default 1000 ms. */
  readonly repairInterval: number
  /** How long broadcasts are kept for repair. Default 30000 ms (at most 2048 of them). */
  readonly repairWindow: number
  /** Largest message content, in bytes of JSON. Default 256 KiB. */
  readonly maxMessageSize: number
  /**
   * Accept messages, records and links from peers whose id does not derive from their key
   * (custom peer ids). Off by default: one key could otherwise mint any number of ids. A mesh
   * using custom `peerId`s needs it on every peer. Default false.
   */
  readonly allowUnverifiedPeers: boolean
  /**
   * Per-neighbour limits on inbound frames (token buckets per traffic class: gossip, direct,
   * dht, repair, invalid, and the strikes a neighbour may take before it is disconnected);
   * see `defaultRateLimits` in internal/linkLimits.ts. Default {} (the defaults).
   */
  readonly rateLimits: Partial<RateLimits>
  /** How long a neighbour disconnected for exceeding its limits is refused. Default 300000 ms. */
  readonly rateLimitCooldown: number
  /**
   * Most links being set up at once to peers known only from the mesh (heard through
   * presence or peer exchange, not introduced by signaling). Default 2.
   */
  readonly maxHearsayDials: number
  /**
   * Stream tuning: `window` (chunks in flight, 16), `idleTimeout` (30000 ms), `maxIncoming`
   * (64), `maxIncomingPerPeer` (8), `backlog` (16); see `streamsDefaults`. Default {}.
   */
  readonly streams: Partial<StreamsOptions>
  /**
   * Most links the camera source is sent on at once (a full video mesh costs each browser
   * about 12% of a core per link); later targets wait for a slot. Default 4.
   */
  readonly maxMediaPeers: number
  /**
   * Remote media: `"accept"` raises `remoteStream` for every peer's stream, `"deny"` for none,
   * `"ask"` asks first (the facade's `incomingMedia` event). Default `"accept"`.
   */
  readonly mediaPolicy: "accept" | "ask" | "deny"
}

export const defaults: MeshOptions = {
  peerId: undefined,
  networkName: "global",
  maxPeers: 3,
  minPeers: 2,
  autoDiscovery: true,
  evictionStrategy: true,
  xorRouting: true,
  enableWebDHT: true,
  enableCrypto: true,
  dht: {},
  storage: {},
  iceServers: [],
  iceTransportPolicy: "all",
  connectionTimeout: 15_000,
  gossipTtl: 32,
  seenCacheSize: 20_000,
  seenCacheTtl: 120_000,
  optimizeInterval: 2_000,
  presenceInterval: 5_000,
  repairInterval: 1_000,
  repairWindow: 30_000,
  maxMessageSize: 256 * 1024,
  allowUnverifiedPeers: false,
  rateLimits: {},
  rateLimitCooldown: 300_000,
  maxHearsayDials: 2,
  streams: {},
  maxMediaPeers: 4,
  mediaPolicy: "accept"
}

const clamp = (n: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, Math.round(n)))

/**
 * Options that cannot work: each problem names the option, the range it needs and what it got.
 * A `RangeError` (what PeerPigeon 1.x users catch), and a typed failure of `MeshConfig.layer`.
 */
export class InvalidMeshOptions extends RangeError {
  readonly _tag = "InvalidMeshOptions"
  readonly problems: ReadonlyArray<string>
  constructor(problems: ReadonlyArray<string>) {
    super(`invalid mesh options: ${problems.join("; ")}`)
    this.name = "InvalidMeshOptions"
    this.problems = problems
  }
}

/**
 * Fills defaults and clamps peers counts as PeerPigeon does (maxPeers 1-50, minPeers 0-49 and
 * < maxPeers). Throws `InvalidMeshOptions` for values that cannot work: NaN or infinite numbers,
 * intervals that would spin (`optimizeInterval` under 10 ms), empty caches, wrong types.
 */
export const resolveMeshOptions = (partial: Partial<MeshOptions> = {}): MeshOptions => {
  const o = { ...defaults }
  for (const [k, v] of Object.entries(partial)) if (v !== undefined) Object.assign(o, { [k]: v })
  const problems = meshOptionProblems(o as unknown as Record<string, unknown>)
  if (problems.length > 0) throw new InvalidMeshOptions(problems)
  const maxPeers = clamp(o.maxPeers, 1, 50)
  return { ...o, maxPeers, minPeers: Math.min(clamp(o.minPeers, 0, 49), maxPeers) }
}

export class MeshConfig extends Context.Service<MeshConfig, MeshOptions>()("peerpigeon/MeshConfig") {
  /** The resolved options; fails with `InvalidMeshOptions` when they cannot work. */
  static readonly layer = (partial: Partial<MeshOptions> = {}): Layer.Layer<MeshConfig, InvalidMeshOptions> =>
    Layer.effect(
      MeshConfig,
      Effect.try({ try: () => resolveMeshOptions(partial), catch: (e) => e instanceof InvalidMeshOptions ? e : new InvalidMeshOptions([String(e)]) })
    )
}
