/**
 * A peer's storage state in its `LocalStore` (`localStore.ts`), by name:
 *
 *   o/<key>            a key this peer owns (its ttl)
 *   s/<key>            a key it subscribed to
 *   r/<key>            the last verified record of an owned or subscribed key
 *   k/<epoch>/<key>    a content key it learnt or made
 *   d/<key>            a CRDT document's state, unpublished edits included
 *
 * and how a new run takes it back (`restore`).
 *
 * @since 2.0.0
 */
import { Effect, Schedule, type Schema } from "effect"
import { BoundedMap } from "../internal/boundedMap.ts"
import type { StorageFailure } from "../services/DistributedStorage.ts"
import { decodeJson } from "./codec.ts"
import type { makeDocuments } from "./documents.ts"
import type { Seen } from "./events.ts"
import type { LocalStore } from "./localStore.ts"
import type { Opened } from "./open.ts"
import type { StorageRecord } from "./record.ts"
import { mayWrite } from "./rules.ts"
import { verifyRecord } from "./verify.ts"

type Bytes = Uint8Array<ArrayBuffer>

export interface RestoreDeps {
  readonly self: string
  readonly owned: Map<string, { ttl: number }>
  readonly known: BoundedMap<string, Seen>
  readonly docs: ReturnType<typeof makeDocuments>
  readonly open: (record: StorageRecord) => Effect.Effect<Opened>
  readonly valueOf: (o: Opened) => { readonly value: Schema.Json | null; readonly readable: boolean }
  readonly subscribeKey: (key: string) => Effect.Effect<unknown, StorageFailure>
  readonly maxReaders: number
  /** How often a subscription of an earlier run is retried until the DHT answers. */
  readonly retryMs: number
  readonly defaultTtl: number
}

export const makePersisted = (local: LocalStore, maxKeys: number) => {
  /** Content keys learnt or made here, by key and epoch (a restarted peer's old slots no longer open). */
  const contentKeys = new BoundedMap<string, Bytes>(maxKeys)
  const cekName = (key: string, epoch: number) => `k/${epoch}/${key}`
  const keepKey = (key: string, epoch: number, cek: Bytes) => {
    const id = cekName(key, epoch)
    if (contentKeys.get(id) !== undefined) return Effect.void
    contentKeys.set(id, cek)
    return local.save(id, cek)
  }
  const saveJson = (name: string, value: unknown) => local.save(name, new TextEncoder().encode(JSON.stringify(value)))

  /**
   * Takes back what an earlier run kept: owned keys, content keys, records, documents (their
   * unpublished edits go out once the DHT answers: the sync loop compares), and the
   * subscriptions, renewed in the background (in the caller's Scope) until the DHT answers.
   */
  const restore = (d: RestoreDeps) =>
    Effect.gen(function*() {
      const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : decodeJson(b))
      for (const name of yield* local.list("k/")) {
        const cek = yield* local.load(name)
        if (cek?.length === 32) contentKeys.set(name, cek)
      }
      for (const name of yield* local.list("o/")) {
        const ttl = text(yield* local.load(name))
        d.owned.set(name.slice(2), { ttl: typeof ttl === "number" ? ttl : d.defaultTtl })
      }
      for (const name of yield* local.list("r/")) {
        const key = name.slice(2)
        const v = yield* verifyRecord(text(yield* local.load(name)), d.maxReaders)
        if (!v.ok || v.record.key !== key) continue
        d.known.set(key, { record: v.record, ...d.valueOf(yield* d.open(v.record)) })
      }
      for (const name of yield* local.list("d/")) {
        const key = name.slice(2)
        const state = yield* local.load(name)
        const seen = d.known.get(key)
        if (state === undefined || seen === undefined || !seen.record.crdt) continue
        d.docs.merge(key, state)
        d.docs.live(key, mayWrite(seen.record.acl, d.self))
      }
      for (const name of yield* local.list("s/")) {
        yield* d.subscribeKey(name.slice(2)).pipe(Effect.retry(Schedule.spaced(d.retryMs)), Effect.forkScoped)
      }
    })

  return { local, contentKeys, cekName, keepKey, saveJson, restore }
}
