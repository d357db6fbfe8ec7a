/**
 * WebDHT wire formats: the signed record, and the RPCs peers exchange (inside routed direct
 * messages of kind `"dht"`).
 *
 * @since 2.0.0
 */
import { Schema } from "effect"
import { PeerId } from "./PeerId.ts"

/** One stored value, signed by its publisher. A deletion is a record with `deleted: true`. */
export const DhtRecord = Schema.Struct({
  /** The user's key (the DHT id is derived from it and the network name). */
  key: Schema.String.check(Schema.isBetweenLength(1, 512)),
  value: Schema.Json,
  publisher: PeerId,
  /** The key's owner (its first writer), when the publisher is not: an update of a writable record. */
  owner: Schema.optionalKey(PeerId),
  /** The publisher's public key, base64url. */
  publisherKey: Schema.String.check(Schema.isMaxLength(128)),
  /** Increases by one with every change; a holder keeps the highest (steps and range bounded: dhtRecords.ts). */
  version: Schema.Int,
  /** When the publisher signed this copy (a republish refreshes it). */
  ts: Schema.Finite,
  /** When holders drop it unless republished (holders cap it at their `maxTtl` from now). */
  expiresAt: Schema.Finite,
  /** Others may update it too. */
  writable: Schema.Boolean,
  deleted: Schema.Boolean,
  sig: Schema.String.check(Schema.isMaxLength(256))
})
export type DhtRecord = typeof DhtRecord.Type

const RequestId = Schema.String.check(Schema.isBetweenLength(1, 64))
const NodeIds = Schema.Array(PeerId).check(Schema.isMaxLength(64))

/** Asks for the peers closest to `target` (and the record under `key`, when given). */
export const Find = Schema.Struct({
  op: Schema.tag("find"),
  rid: RequestId,
  target: PeerId,
  key: Schema.optionalKey(Schema.String.check(Schema.isBetweenLength(1, 512)))
})
export const Found = Schema.Struct({
  op: Schema.tag("found"),
  rid: RequestId,
  nodes: NodeIds,
  record: Schema.optionalKey(DhtRecord)
})
export const Store = Schema.Struct({ op: Schema.tag("store"), rid: RequestId, record: DhtRecord })
export const Stored = Schema.Struct({
  op: Schema.tag("stored"),
  rid: RequestId,
  ok: Schema.Boolean,
  reason: Schema.optionalKey(Schema.Literals(["stale", "unauthorized", "invalid", "too-large", "quota"]))
})
/** Subscribe to (or unsubscribe from) changes of `key` at a holder: a lease the watcher renews. */
export const Watch = Schema.Struct({
  op: Schema.tag("watch"),
  rid: RequestId,
  key: Schema.String.check(Schema.isBetweenLength(1, 512)),
  on: Schema.Boolean
})
/** `ok: false` when the holder refused the watch (its watcher caps are reached). */
export const Watched = Schema.Struct({ op: Schema.tag("watched"), rid: RequestId, ok: Schema.optionalKey(Schema.Boolean) })
/** A holder tells a subscriber about a change. */
export const Notify = Schema.Struct({ op: Schema.tag("notify"), record: DhtRecord, oldValue: Schema.NullOr(Schema.Json) })

export const DhtRpc = Schema.Union([Find, Found, Store, Stored, Watch, Watched, Notify]).pipe(Schema.toTaggedUnion("op"))
export type DhtRpc = typeof DhtRpc.Type
