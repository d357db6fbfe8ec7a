/**
 * Reading and writing one peer's records in the DHT: the current record of a key, verified
 * and opened (`head`); taking a verified record as the newest of its key and publishing the
 * events it makes over the one seen before (`observe`); and the write loop every change
 * goes through (`write`): read the current record, make the next version, publish its
 * chunks and then the record, and re-read and retry when another writer got there first
 * (the DHT refuses a stale version), up to `maxAttempts`.
 *
 * @since 2.0.0
 */
import { Effect, PubSub, type Schema, Semaphore } from "effect"
import type { BoundedMap } from "../internal/boundedMap.ts"
import type { Dht, DhtError } from "../services/Dht.ts"
import type { Receipt, StorageEvent, StorageFailure } from "../services/DistributedStorage.ts"
import type { Chunk } from "./build.ts"
import { decodeJson } from "./codec.ts"
import type { makeDocuments } from "./documents.ts"
import { eventsOf, type Seen } from "./events.ts"
import type { makeOpener, Opened } from "./open.ts"
import type { makePersisted } from "./persisted.ts"
import { chunkKeyOf, dhtKeyOf, isChunked, type StorageRecord } from "./record.ts"
import { storageError } from "./StorageError.ts"
import { verifyRecord } from "./verify.ts"

/** What a write makes of the current record: the next record and its chunks. */
export interface Draft {
  readonly record: StorageRecord
  readonly chunks: ReadonlyArray<Chunk>
}

export interface HeadsDeps {
  readonly self: string
  readonly dht: Dht["Service"]
  readonly opener: ReturnType<typeof makeOpener<never>>
  readonly docs: ReturnType<typeof makeDocuments>
  readonly persisted: Pick<ReturnType<typeof makePersisted>, "keepKey" | "saveJson">
  readonly events: PubSub.PubSub<StorageEvent>
  /** Records seen here, verified. */
  readonly known: BoundedMap<string, Seen>
  /** Keys this peer owns, with their ttl in the DHT. */
  readonly owned: ReadonlyMap<string, { readonly ttl: number }>
  readonly subscribed: ReadonlySet<string>
  readonly maxReaders: number
  readonly maxAttempts: number
  readonly dhtTtl: number
}

export const makeHeads = (d: HeadsDeps) =>
  Effect.gen(function*() {
    const { dht, docs, known, opener, self } = d
    const writeLock = yield* Semaphore.make(1)

    /** The value a reader sees in an opened record. */
    const valueOf = (o: Opened): { readonly value: Schema.Json | null; readonly readable: boolean } => {
      if (o.plain === undefined) return { value: null, readable: false }
      if (o.record.crdt) return { value: docs.merge(o.record.key, o.plain), readable: true }
      const value = decodeJson(o.plain)
      return value === undefined ? { value: null, readable: false } : { value, readable: true }
    }

    /** Takes a verified record as the newest of its key when it is newer than the one seen; publishes its events. */
    const observe = (opened: Opened) =>
      Effect.suspend(() => {
        const key = opened.record.key
        const prev = known.get(key)
        if (prev !== undefined && prev.record.version >= opened.record.version) return Effect.succeed(prev)
        const seen: Seen = { record: opened.record, ...valueOf(opened) }
        known.set(key, seen)
        const keep = d.owned.has(key) || d.subscribed.has(key)
        return Effect.gen(function*() {
          if (opened.cek !== undefined) yield* d.persisted.keepKey(key, opened.record.acl.epoch, opened.cek)
          if (keep) yield* d.persisted.saveJson(`r/${key}`, opened.record)
          yield* PubSub.publishAll(d.events, eventsOf(prev, seen))
          return seen
        })
      })

    /** Verifies a record read from the DHT for `key`. */
    const verified = (key: string, json: unknown) =>
      Effect.flatMap(verifyRecord(json, d.maxReaders), (v) =>
        v.ok && v.record.key === key ? Effect.succeed(v.record) : Effect.fail(storageError("forged", key, `the record of ${key} does not check: ${v.ok ? "other key" : v.why}`))
      )

    /** The current record of `key`, verified and opened; undefined when absent. */
    const head = (key: string): Effect.Effect<Opened | undefined, StorageFailure> =>
      dht.get(dhtKeyOf(key)).pipe(
        Effect.map((json): unknown => json),
        Effect.catchTag("NotFound", () => Effect.succeed(undefined)),
        Effect.flatMap((json) => (json === undefined ? Effect.succeed(undefined) : Effect.flatMap(verified(key, json), opener.open)))
      )

    /** Chunks of this peer's previous version that the new one no longer names (best effort). */
    const dropOldChunks = (before: StorageRecord | undefined, after: StorageRecord) => {
      if (before === undefined || before.by !== self || !isChunked(before.body)) return Effect.void
      const keep = new Set(isChunked(after.body) ? after.body.chunks : [])
      return Effect.forEach(before.body.chunks.filter((h) => !keep.has(h)), (h) => Effect.ignore(dht.delete(chunkKeyOf(self, h))), { discard: true })
    }

    /**
     * Reads the current record, makes the next one with `make` (`{done}`: nothing to write)
     * and publishes it; retried when another writer got there first.
     */
    const write = <A>(
      key: string,
      make: (current: Opened | undefined) => Effect.Effect<Draft | { readonly done: A }, StorageFailure>
    ): Effect.Effect<Receipt | { readonly done: A }, StorageFailure> =>
      writeLock.withPermits(1)(Effect.gen(function*() {
        for (let attempt = 1; ; attempt++) {
          const current = yield* head(key)
          if (current !== undefined) yield* observe(current)
          const next = yield* make(current)
          if ("done" in next) return next
          const { chunks, record } = next
          const ttl = d.owned.get(key)?.ttl ?? d.dhtTtl
          const published = yield* Effect.gen(function*() {
            for (const c of chunks) {
              // a chunk already there (same bytes, same name) is fine
              yield* dht.put(chunkKeyOf(self, c.hash), c.text, { ttl }).pipe(Effect.catchTag("Unauthorized", () => Effect.void))
            }
            const dhtKey = dhtKeyOf(key)
            if (record.acl.owner === self) yield* dht.put(dhtKey, record, { ttl, writable: record.acl.writers.length > 0 })
            else yield* dht.update(dhtKey, record)
          }).pipe(
            Effect.as(true),
            // Unauthorized here: a stale version, another writer's is newer
            Effect.catch((e: DhtError) => (e._tag === "Unauthorized" && attempt < d.maxAttempts ? Effect.succeed(false) : Effect.fail(e)))
          )
          if (!published) continue
          yield* dropOldChunks(current?.record, record)
          yield* observe(yield* opener.open(record))
          return { key, version: record.version }
        }
      })).pipe(Effect.catchTag("Unauthorized", (e) => Effect.fail(storageError("conflict", key, e.message))))

    return { valueOf, observe, verified, head, write }
  })
