/**
 * WebDHT: a replicated, signed key-value store over the whole mesh. Records live on the
 * `replicationFactor` peers XOR-closest to the key's id, found by a Kademlia lookup routed
 * over the mesh; only the key's owner, its first writer (or anyone, for writable records),
 * may change a key, by bounded version steps; holders bound what each publisher may store;
 * subscribers anywhere receive every change.
 *
 * @since 2.0.0
 */
import { Context, Effect, Schema, type Stream } from "effect"
import type { PeerId } from "../schema/PeerId.ts"

export class DhtDisabled extends Schema.TaggedError<DhtDisabled>()("DhtDisabled", {}) {
  override get message() {
    return "The DHT is disabled: create the mesh with enableWebDHT: true to use dhtPut/dhtGet/dhtSubscribe"
  }
}
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", { key: Schema.String }) {
  override get message() {
    return `No value under ${JSON.stringify(this.key)}`
  }
}
export class DhtTimeout extends Schema.TaggedError<DhtTimeout>()("Timeout", { key: Schema.String, operation: Schema.String }) {
  override get message() {
    return `DHT ${this.operation} of ${JSON.stringify(this.key)} got no answer in time`
  }
}
export class ValueTooLarge extends Schema.TaggedError<ValueTooLarge>()("ValueTooLarge", {
  key: Schema.String,
  size: Schema.Number,
  limit: Schema.Number
}) {
  override get message() {
    return `Value of ${this.size} bytes under ${JSON.stringify(this.key)} exceeds the limit of ${this.limit}`
  }
}
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", {
  key: Schema.String,
  owner: Schema.String,
  reason: Schema.Literals(["not-owner", "stale"])
}) {
  override get message() {
    return this.reason === "stale"
      ? `A newer version of ${JSON.stringify(this.key)} exists; read it and retry`
      : `${JSON.stringify(this.key)} belongs to ${this.owner} and is not writable by others`
  }
}

export type DhtError = DhtDisabled | NotFound | DhtTimeout | ValueTooLarge | Unauthorized

export interface DhtPutOptions {
  /** Lifetime before holders drop it unless republished (the publisher republishes while running). Default: DhtConfig.ttl. */
  readonly ttl?: number
  /** Let other peers update this key. Default false. */
  readonly writable?: boolean
}

/** A change seen by a subscriber. */
export interface DhtChange {
  readonly key: string
  readonly newValue: Schema.Json | null
  readonly oldValue: Schema.Json | null
  readonly publisher: PeerId
  readonly version: number
  readonly deleted: boolean
}

export interface DhtStats {
  /** Records held here (as one of the closest peers, and in the cache for other keys). */
  readonly records: number
  /** Of `records`, those held only in the cache for keys this peer is not among the closest to (not re-replicated). */
  readonly cachedRecords: number
  /** Bytes of the records held here. */
  readonly storedBytes: number
  /** Watch leases held here for other peers. */
  readonly watchers: number
  /** Stores refused: invalid, unauthorized, stale, over a quota. */
  readonly refusedStores: number
  /** Requests dropped because the inbox was full, or not sent because too many RPCs were pending. */
  readonly droppedRpcs: number
  readonly lookups: number
  readonly lookupHops: number
  readonly rpcsSent: number
  readonly rpcTimeouts: number
  readonly replications: number
  /** Records a maintenance pass checked and found nothing to send for (not the primary, or its closest peers known to hold it). */
  readonly replicationsSkipped: number
  /** Maintenance passes run (one every `replicateInterval`). */
  readonly passes: number
}

export class Dht extends Context.Service<Dht, {
  put(key: string, value: Schema.Json, options?: DhtPutOptions): Effect.Effect<number, DhtError>
  get(key: string): Effect.Effect<Schema.Json, DhtError>
  update(key: string, value: Schema.Json): Effect.Effect<number, DhtError>
  delete(key: string): Effect.Effect<void, DhtError>
  /** Starts receiving changes of `key`; returns the current value (null when absent). */
  subscribe(key: string): Effect.Effect<Schema.Json | null, DhtError>
  unsubscribe(key: string): Effect.Effect<void, DhtError>
  /** Changes of subscribed keys, in version order per key. */
  readonly changes: Stream.Stream<DhtChange>
  /** The peers currently holding `key` (after a lookup). */
  holders(key: string): Effect.Effect<ReadonlyArray<PeerId>, DhtError>
  readonly stats: Effect.Effect<DhtStats>
}>()("peerpigeon/Dht") {}

export interface DhtOptions {
  /** Peers holding each record. Default 3. */
  readonly replicationFactor: number
  /** Lookup width: how many closest peers a lookup settles on. Default 8. */
  readonly k: number
  /** Parallel queries per lookup round. Default 3. */
  readonly alpha: number
  /** Time to wait for one RPC answer. Default 3000 ms. */
  readonly rpcTimeout: number
  /** Record lifetime unless republished. Default 3600000 ms (1 hour). */
  readonly ttl: number
  /** How often publishers republish their records. Default ttl / 2. */
  readonly republishInterval: number | undefined
  /**
   * How often holders check their records against their routing table (local: a record's
   * primary holder stores it on a new closest peer at the next check, the churn repair) and
   * drop expired ones. Default 10000 ms.
   */
  readonly replicateInterval: number
  /**
   * How often a record's primary holder stores it again on the other closest peers when
   * nothing changed (for holders that lost it without leaving). Default 60 x replicateInterval (10 min).
   */
  readonly refreshInterval: number | undefined
  /** Largest value, in bytes of JSON. Default 64 KiB. */
  readonly maxValueSize: number
  /** Longest lifetime a holder keeps a record without a republish: later expiries are cut to now + maxTtl. Default 86400000 ms (24 h). */
  readonly maxTtl: number
  /** Largest step a version may take over the copy a holder has (versions never exceed 2^32). Default 1000. */
  readonly maxVersionStep: number
  /** Records one holder keeps in all. Default 10000. */
  readonly maxRecords: number
  /** Bytes of records one holder keeps in all. Default 32 MiB. */
  readonly maxStoreBytes: number
  /** Records one holder keeps per publisher. Default 256. */
  readonly maxRecordsPerPublisher: number
  /** Bytes of records one holder keeps per publisher. Default 4 MiB. */
  readonly maxBytesPerPublisher: number
  /**
   * A holder keeps records of keys it is among the `replicationFactor * 2` closest peers to
   * (as far as it knows); others only in a cache of this many records, never re-replicated. Default 128.
   */
  readonly farCacheSize: number
  /** How long a watch lasts unless renewed (subscribers renew every replicateInterval). Default 3 x replicateInterval. */
  readonly watchLease: number | undefined
  /** Watches one holder keeps per watching peer. Default 64. */
  readonly maxWatchesPerPeer: number
  /** Watches one holder keeps in all. Default 4096. */
  readonly maxWatches: number
  /** Requests handled at once; more wait in the inbox. Default 16. */
  readonly maxConcurrentRpcs: number
  /** Requests waiting in the inbox; more are dropped (their senders time out and retry). Default 1024. */
  readonly inboxCapacity: number
  /** RPCs of this peer awaiting an answer; more are not sent (they count as unanswered). Default 1024. */
  readonly maxPendingRpcs: number
  /** Stores one maintenance pass sends (the next pass goes on where it stopped). Default 64. */
  readonly maxReplicatePerPass: number
}

export const dhtDefaults: DhtOptions = {
  replicationFactor: 3,
  k: 8,
  alpha: 3,
  rpcTimeout: 3000,
  ttl: 3_600_000,
  republishInterval: undefined,
  replicateInterval: 10_000,
  refreshInterval: undefined,
  maxValueSize: 64 * 1024,
  maxTtl: 86_400_000,
  maxVersionStep: 1000,
  maxRecords: 10_000,
  maxStoreBytes: 32 * 1024 * 1024,
  maxRecordsPerPublisher: 256,
  maxBytesPerPublisher: 4 * 1024 * 1024,
  farCacheSize: 128,
  watchLease: undefined,
  maxWatchesPerPeer: 64,
  maxWatches: 4096,
  maxConcurrentRpcs: 16,
  inboxCapacity: 1024,
  maxPendingRpcs: 1024,
  maxReplicatePerPass: 64
}

export const DhtConfig = Context.Reference<DhtOptions>("peerpigeon/DhtConfig", { defaultValue: () => dhtDefaults })

/**
 * Typed values: the DHT stores JSON; `typed(schema)` encodes on the way in and decodes (and
 * validates) on the way out.
 */
export const typed = <A, I extends Schema.Json>(schema: Schema.Codec<A, I>) => {
  const encode = Schema.encodeEffect(schema)
  const decode = Schema.decodeUnknownEffect(schema)
  return {
    put: (key: string, value: A, options?: DhtPutOptions) =>
      Effect.flatMap(encode(value), (json) => Dht.use((d) => d.put(key, json, options))),
    update: (key: string, value: A) => Effect.flatMap(encode(value), (json) => Dht.use((d) => d.update(key, json))),
    get: (key: string) => Effect.flatMap(Dht.use((d) => d.get(key)), (json) => decode(json))
  }
}
