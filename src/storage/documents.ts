/**
 * The live Yjs documents of CRDT records on one peer: one `Y.Doc` per record, every verified
 * version merged into it (merging is idempotent and commutative, so order and repeats do
 * not matter), local edits on a document handed out by `getDocument` collected and
 * published in batches (`batchMs`), and a periodic comparison with the DHT's copy
 * (`syncIntervalMs`, waiting for a pause in the edits, `BUSY_INTERVALS`) that republishes
 * what the copy lacks: edits made while partitioned or offline, or lost to a race.
 *
 * @since 2.0.0
 */
import { Effect, Latch, Schedule, type Schema } from "effect"
import * as Y from "yjs"
import { BoundedMap } from "../internal/boundedMap.ts"
import type { ValueTooLarge } from "../services/Dht.ts"
import type { StorageOptions } from "../services/DistributedStorage.ts"
import { applyUpdate, docValue, encodeDoc, hasMoreThan, setFields } from "./codec.ts"
import type { StorageError } from "./StorageError.ts"

type Bytes = Uint8Array<ArrayBuffer>

/** How often changed documents are saved locally, at least (ms): each save encodes the whole document. */
const SAVE_MS = 250
/**
 * A writer compares a document with the DHT's copy (and snapshots it) at the first sync
 * interval without an edit; one edited without a pause, every `BUSY_INTERVALS` intervals. A
 * snapshot goes to every subscriber of the record (each DHT holder notifies each of them):
 * the live ops already carry the edits, so it waits for a pause.
 */
export const BUSY_INTERVALS = 5

/**
 * Whether a writer's document is compared (and snapshotted) at this sync interval, from
 * whether it was edited during the last one and the busy intervals before: `busy` is the
 * count to keep (0: none).
 */
export const snapshotDue = (edited: boolean, busyBefore: number): { readonly due: boolean; readonly busy: number } => {
  if (!edited) return { due: true, busy: 0 }
  const busy = busyBefore + 1
  return busy >= BUSY_INTERVALS ? { due: true, busy: 0 } : { due: false, busy }
}

/** Origin of updates merged from records: not local edits, never republished on their own. */
export const REMOTE = Symbol("peerpigeon/storage/remote")
/** Origin of `update()` calls: published by the call itself. */
export const API = Symbol("peerpigeon/storage/api")

interface Held {
  readonly doc: Y.Doc
  live: boolean
  /** Live and writable here: compared with the DHT's copy (readers only take what comes). */
  writer: boolean
}

export const makeDocuments = (options: Pick<StorageOptions, "maxDocuments" | "maxSubscriptions" | "batchMs" | "syncIntervalMs">) => {
  const docs = new BoundedMap<string, Held>(options.maxDocuments + options.maxSubscriptions, (_key, held) => held.doc.destroy())
  /** Local edits not sent live yet, per document. */
  const pending = new Map<string, Array<Uint8Array>>()
  /** Documents changed since they were last saved locally. */
  const unsaved = new Set<string>()
  /**
   * Open while local edits wait to be sent (`toSend`) or changes to be saved (`toSave`): the
   * loops sleep on them instead of waking every `batchMs` on every peer (a peer with no
   * documents never wakes for them).
   */
  const toSend = Latch.makeUnsafe(false)
  const toSave = Latch.makeUnsafe(false)
  /** Open once a live writable document exists: only writers compare with the DHT's copy. */
  const writing = Latch.makeUnsafe(false)
  /** Documents changed since the last sync interval. */
  const edited = new Set<string>()
  /** Sync intervals in a row each writer document was edited in (its snapshot waits for a pause). */
  const busy = new Map<string, number>()

  let saving = true
  const track = (key: string, doc: Y.Doc) => {
    doc.on("update", () => {
      edited.add(key)
      if (!saving) return
      unsaved.add(key)
      toSave.openUnsafe()
    })
    return doc
  }
  const held = (key: string): Held => {
    let h = docs.touch(key)
    if (h === undefined) {
      h = { doc: track(key, new Y.Doc({ gc: true })), live: false, writer: false }
      docs.set(key, h)
    }
    return h
  }

  return {
    get size() {
      return docs.size
    },
    /** Merges a record's document bytes; the document's value after it. */
    merge: (key: string, bytes: Uint8Array): Schema.Json => {
      const { doc } = held(key)
      applyUpdate(doc, bytes, REMOTE)
      return docValue(doc)
    },
    /** A new document for `key` holding `value`'s fields (replacing any held): its bytes. */
    fresh: (key: string, value: Schema.Json): Effect.Effect<Bytes, StorageError | ValueTooLarge> =>
      Effect.gen(function*() {
        const doc = new Y.Doc({ gc: true })
        yield* setFields(key, doc, value, API)
        const bytes = yield* encodeDoc(key, doc)
        docs.get(key)?.doc.destroy()
        docs.set(key, { doc: track(key, doc), live: false, writer: false })
        if (saving) {
          unsaved.add(key)
          toSave.openUnsafe()
        }
        return bytes
      }),
    set: (key: string, value: Schema.Json) => setFields(key, held(key).doc, value, API),
    encode: (key: string) => encodeDoc(key, held(key).doc),
    hasMoreThan: (key: string, theirs: Uint8Array) => hasMoreThan(held(key).doc, theirs),
    /** True when a document of `key` is held here. */
    has: (key: string) => docs.has(key),
    /** The state vector of the document of `key` (what it holds, per Yjs client). */
    stateVector: (key: string): Uint8Array => Y.encodeStateVector(held(key).doc),
    /**
     * What the document of `key` holds beyond the state vector `sv`, as one update; undefined
     * when no document is held or `sv` is not a state vector.
     */
    diff: (key: string, sv: Uint8Array): Uint8Array | undefined => {
      const h = docs.get(key)
      if (h === undefined) return undefined
      try {
        return Y.encodeStateAsUpdate(h.doc, sv)
      } catch {
        return undefined
      }
    },
    drop: (key: string) => {
      docs.get(key)?.doc.destroy()
      docs.delete(key)
      pending.delete(key)
      unsaved.delete(key)
      edited.delete(key)
      busy.delete(key)
    },
    /** The document of `key`, live: its local edits are published (when `writable`). */
    live: (key: string, writable: boolean): Y.Doc => {
      const h = held(key)
      h.writer ||= writable
      if (h.writer) writing.openUnsafe()
      if (!h.live) {
        h.live = true
        h.doc.on("update", (update: Uint8Array, origin: unknown) => {
          if (!h.writer || origin === REMOTE || origin === API) return
          const list = pending.get(key)
          if (list === undefined) pending.set(key, [update])
          else list.push(update)
          toSend.openUnsafe()
        })
      }
      return h.doc
    },
    /**
     * Starts the loops, in the caller's Scope: every `batchMs` the local edits of each live
     * document go out as one merged update (`send`), and its state is kept locally (`save`);
     * every `syncIntervalMs` `flush` compares each live document with the DHT's copy and
     * publishes a compacted snapshot when the copy lacks something.
     */
    start: <E, E2>(
      flush: (key: string) => Effect.Effect<void, E>,
      send: (key: string, update: Uint8Array) => Effect.Effect<void, E2>,
      save: ((key: string, state: Uint8Array) => Effect.Effect<void>) | undefined
    ) =>
      Effect.gen(function*() {
        const flushOne = (key: string) => flush(key).pipe(Effect.catchCause((cause) => Effect.logDebug("storage: publishing a document failed", cause)))
        const batch = Effect.suspend(() => {
          const batches = [...pending]
          pending.clear()
          return Effect.forEach(batches, ([key, updates]) =>
            // a lost live update is not lost: the next snapshot carries it
            send(key, updates.length === 1 ? updates[0]! : Y.mergeUpdates(updates)).pipe(
              Effect.catchCause((cause) => Effect.logDebug("storage: a live update was not sent", cause))
            ), { discard: true })
        })
        // its own loop: a publish waiting on an unreachable DHT does not hold up saving
        const persist = Effect.suspend(() => {
          const changed = [...unsaved]
          unsaved.clear()
          return Effect.forEach(changed, (key) => {
            const h = docs.get(key)
            return h === undefined || save === undefined ? Effect.void : save(key, Y.encodeStateAsUpdate(h.doc))
          }, { discard: true })
        })
        const sync = Effect.suspend(() => {
          const keys: Array<string> = []
          // only writers republish: a reader comparing would cost a DHT read per document per interval for nothing
          for (const [key, h] of docs.entries()) {
            if (!h.writer) continue
            const next = snapshotDue(edited.has(key), busy.get(key) ?? 0)
            if (next.busy > 0) busy.set(key, next.busy)
            else busy.delete(key)
            if (next.due) keys.push(key)
          }
          edited.clear()
          return Effect.forEach(keys, flushOne, { discard: true })
        })
        /**
         * Waits for `latch`, lets `ms` of work gather, then does it: at most once per `ms`, never
         * when idle. The latch closes before the work is taken: what comes meanwhile opens it again.
         */
        const whenOpen = (latch: Latch.Latch, ms: number, run: Effect.Effect<void>) =>
          Effect.forever(latch.await.pipe(Effect.andThen(Effect.sleep(ms)), Effect.andThen(latch.close), Effect.andThen(run)))
        yield* Effect.forkScoped(whenOpen(toSend, options.batchMs, batch))
        if (save === undefined) {
          // nothing is kept between runs: encoding whole documents to save them would be wasted
          saving = false
          unsaved.clear()
        } else {
          yield* Effect.forkScoped(whenOpen(toSave, Math.max(options.batchMs, SAVE_MS), persist))
          // edits of the last moments are saved when the runtime stops
          yield* Effect.addFinalizer(() => persist)
        }
        yield* Effect.forkScoped(writing.await.pipe(Effect.andThen(Effect.repeat(sync, Schedule.spaced(options.syncIntervalMs)))))
      })
  }
}
