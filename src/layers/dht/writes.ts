/**
 * Writes: signing records, and storing them on the key's closest peers (put, update, delete).
 *
 * @since 2.0.0
 */
import { Clock, Effect, type Schema } from "effect"
import { MAX_VERSION, ownerOf, recordBytes } from "../../internal/dhtRecords.ts"
import { makeNonce } from "../../internal/identityProof.ts"
import type { DhtRecord, DhtRpc } from "../../schema/DhtMessages.ts"
import type { PeerId } from "../../schema/PeerId.ts"
import { type DhtError, DhtTimeout, NotFound, Unauthorized, ValueTooLarge } from "../../services/Dht.ts"
import { type DhtContext, sizeOf } from "./context.ts"
import type { Lookup } from "./lookup.ts"
import type { Network } from "./network.ts"

export interface SignOptions {
  readonly value: Schema.Json
  readonly version: number
  readonly writable: boolean
  readonly deleted: boolean
  readonly ttl: number
  /** The key's owner when it is not this peer (an update of another peer's writable record). */
  readonly owner?: PeerId | undefined
}

export const makeWrites = (ctx: DhtContext, net: Network, lookup: Lookup) => {
  const { identity, options, self } = ctx
  const published = new Set<string>()

  const sign = Effect.fnUntraced(function*(key: string, o: SignOptions) {
    const ts = yield* Clock.currentTimeMillis
    const ttl = Math.min(o.ttl, options.maxTtl)
    const header = {
      key,
      value: o.value,
      publisher: self,
      ...(o.owner === undefined || o.owner === self ? {} : { owner: o.owner }),
      publisherKey: identity.publicKey,
      version: o.version,
      ts,
      expiresAt: ts + ttl,
      writable: o.writable,
      deleted: o.deleted
    }
    const sig = yield* identity.sign(recordBytes(header))
    return { ...header, sig } satisfies DhtRecord
  })

  /**
   * Stores a record on the `replicationFactor` closest peers that accept it: those that do
   * not answer (or are over a quota) are replaced by the next closest of the lookup's
   * `closest`, wave by wave. Succeeds when at least one accepts; a refusal of the record
   * itself (unauthorized, stale, too large) ends it.
   */
  const storeOn = Effect.fnUntraced(function*(record: DhtRecord, closest: ReadonlyArray<PeerId>): Effect.fn.Return<void, DhtError> {
    const results: Array<Extract<DhtRpc, { op: "stored" }>> = []
    let stored = 0
    let next = 0
    while (stored < options.replicationFactor && next < closest.length) {
      const wave = closest.slice(next, next + options.replicationFactor - stored)
      next += wave.length
      const answers = yield* Effect.forEach(wave, (id) => net.rpc(id, { op: "store", rid: makeNonce(), record }, 2), {
        concurrency: "unbounded"
      })
      for (const a of answers) {
        if (a?.op !== "stored") continue
        results.push(a)
        if (a.ok) stored++
      }
      if (results.some((a) => !a.ok && a.reason !== "quota")) break
    }
    if (stored > 0) return
    if (results.some((a) => a.reason === "unauthorized")) {
      return yield* new Unauthorized({ key: record.key, owner: "", reason: "not-owner" })
    }
    if (results.some((a) => a.reason === "stale")) return yield* new Unauthorized({ key: record.key, owner: "", reason: "stale" })
    if (results.some((a) => a.reason === "too-large")) {
      return yield* new ValueTooLarge({ key: record.key, size: sizeOf(record.value), limit: options.maxValueSize })
    }
    return yield* new DhtTimeout({ key: record.key, operation: "store" })
  })

  const write = Effect.fnUntraced(function*(
    key: string,
    value: Schema.Json,
    mode: "put" | "update" | "delete",
    putOptions: { readonly ttl?: number; readonly writable?: boolean } = {}
  ): Effect.fn.Return<number, DhtError> {
    const size = sizeOf(value)
    if (size > options.maxValueSize) return yield* new ValueTooLarge({ key, size, limit: options.maxValueSize })
    const id = yield* ctx.keyOf(key)
    const { closest, record: existing } = yield* lookup(id, key)
    const present = existing !== undefined && !existing.deleted
    if (mode !== "put" && !present) return yield* new NotFound({ key })
    const owner = existing === undefined ? self : ownerOf(existing) as PeerId
    if (existing !== undefined && owner !== self && !existing.writable) {
      return yield* new Unauthorized({ key, owner, reason: "not-owner" })
    }
    const version = (existing?.version ?? 0) + 1
    if (version > MAX_VERSION) return yield* new Unauthorized({ key, owner, reason: "stale" })
    // only the owner chooses whether others may write
    const writable = owner !== self ? true : mode === "put" ? putOptions.writable ?? false : existing?.writable ?? false
    const ttl = putOptions.ttl ?? options.ttl
    const record = yield* sign(key, { value: mode === "delete" ? null : value, version, writable, deleted: mode === "delete", ttl, owner })
    yield* storeOn(record, closest)
    if (mode === "delete") published.delete(key)
    else published.add(key)
    return record.version
  })

  return { sign, storeOn, write, published }
}

export type Writes = ReturnType<typeof makeWrites>
