/**
 * WebDHT: a replicated, signed key-value store over the whole mesh. Records live on the
 * `replicationFactor` peers XOR-closest to the key's id, found by a Kademlia lookup routed
 * over the mesh; only the publisher (or anyone, for writable records) may change a key;
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
  readonly records: number
  readonly lookups: number
  readonly lookupHops: number
  readonly rpcsSent: number
  readonly rpcTimeouts: number
  readonly replications: number
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
  /** How often holders re-replicate their records and drop expired ones (churn repair). Default 10000 ms. */
  readonly replicateInterval: number
  /** Largest value, in bytes of JSON. Default 64 KiB. */
  readonly maxValueSize: number
}

export const dhtDefaults: DhtOptions = {
  replicationFactor: 3,
  k: 8,
  alpha: 3,
  rpcTimeout: 3000,
  ttl: 3_600_000,
  republishInterval: undefined,
  replicateInterval: 10_000,
  maxValueSize: 64 * 1024
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
