/**
 * A `LocalStore` (`localStore.ts`) over IndexedDB, for browsers: the same names and bytes
 * as the directory store, in one object store of one database per origin
 * (`peerpigeon-storage`), under the peer's id (`<peerId>/<name>`), so tabs that are different
 * peers never read each other's state. Each save is its own transaction: it lands whole or
 * not at all.
 *
 * A failed write (quota, a closed database) is logged and skipped: the record stays in the
 * DHT and the document in memory; what was saved before is kept.
 *
 * @since 2.0.0
 */
import { Effect, type Scope } from "effect"
import type { LocalStore } from "./localStore.ts"

type Bytes = Uint8Array<ArrayBuffer>

/** The database, its object store, and its version. */
export const DATABASE = "peerpigeon-storage"
export const STORE = "entries"
const VERSION = 1

/** The slice of the IndexedDB API used here (the library is built without the DOM types). */
export interface IdbRequest<A> {
  readonly result: A
  readonly error: unknown
  onsuccess: (() => void) | null
  onerror: (() => void) | null
}
export interface IdbOpenRequest extends IdbRequest<IdbDatabase> {
  onupgradeneeded: (() => void) | null
}
export interface IdbObjectStore {
  get(key: string): IdbRequest<unknown>
  put(value: unknown, key: string): IdbRequest<unknown>
  delete(key: string): IdbRequest<unknown>
  getAllKeys(range: unknown): IdbRequest<ReadonlyArray<unknown>>
}
export interface IdbTransaction {
  readonly error: unknown
  objectStore(name: string): IdbObjectStore
  oncomplete: (() => void) | null
  onerror: (() => void) | null
  onabort: (() => void) | null
}
export interface IdbDatabase {
  readonly objectStoreNames: { contains(name: string): boolean }
  createObjectStore(name: string): unknown
  transaction(store: string, mode: "readonly" | "readwrite"): IdbTransaction
  close(): void
}
/** `indexedDB` and `IDBKeyRange` of a browser. */
export interface IdbGlobals {
  readonly indexedDB: { open(name: string, version?: number): IdbOpenRequest }
  readonly IDBKeyRange: { bound(lower: string, upper: string): unknown }
}

/** A DOMException is an Error in browsers; anything else gets a plain one. */
const asError = (e: unknown, what: string): Error => (e instanceof Error ? e : new Error(what, { cause: e }))

/** The result of a request, or its error. */
export const done = <A>(request: IdbRequest<A>): Promise<A> =>
  new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result)
    request.onerror = () => reject(asError(request.error, "IndexedDB request failed"))
  })

const committed = (tx: IdbTransaction): Promise<void> =>
  new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve()
    tx.onerror = () => reject(asError(tx.error, "IndexedDB transaction failed"))
    tx.onabort = () => reject(asError(tx.error, "IndexedDB transaction aborted"))
  })

/** Opens (creating when missing) the storage database. */
export const openDatabase = (idb: IdbGlobals, name = DATABASE): Promise<IdbDatabase> => {
  const request = idb.indexedDB.open(name, VERSION)
  request.onupgradeneeded = () => {
    if (!request.result.objectStoreNames.contains(STORE)) request.result.createObjectStore(STORE)
  }
  return done(request)
}

/** The IndexedDB of this runtime, or undefined (Node). */
export const globalIndexedDb = (): IdbGlobals | undefined => {
  const g = globalThis as Partial<IdbGlobals>
  return g.indexedDB === undefined || g.IDBKeyRange === undefined ? undefined : { indexedDB: g.indexedDB, IDBKeyRange: g.IDBKeyRange }
}

const toBytes = (value: unknown): Bytes | undefined => {
  if (value instanceof Uint8Array) return new Uint8Array(value)
  if (value instanceof ArrayBuffer) return new Uint8Array(value.slice(0))
  return undefined
}

/** A store for peer `peerId` in the origin's storage database. Dies when the runtime has no IndexedDB. */
export const makeIndexedDbStore = (
  peerId: string,
  idb: IdbGlobals | undefined = globalIndexedDb(),
  name = DATABASE
): Effect.Effect<LocalStore, never, Scope.Scope> =>
  Effect.gen(function*() {
    if (idb === undefined) return yield* Effect.die(new Error("persistence \"indexeddb\" needs IndexedDB (a browser)"))
    const db = yield* Effect.promise(() => openDatabase(idb, name))
    yield* Effect.addFinalizer(() => Effect.sync(() => db.close()))
    const id = (n: string) => `${peerId}/${n}`
    const skip = (what: string) => (cause: unknown) => Effect.logWarning(`storage: IndexedDB ${what} failed`, cause)
    const write = (what: string, f: (store: IdbObjectStore) => void) =>
      Effect.tryPromise(() => {
        const tx = db.transaction(STORE, "readwrite")
        f(tx.objectStore(STORE))
        return committed(tx)
      }).pipe(Effect.catch(skip(what)))
    return {
      load: (n) =>
        Effect.tryPromise(() => done(db.transaction(STORE, "readonly").objectStore(STORE).get(id(n)))).pipe(
          Effect.map(toBytes),
          Effect.catch((e) => Effect.as(skip("read")(e), undefined))
        ),
      // a copy: the caller may reuse its buffer
      save: (n, bytes) => write("write", (s) => s.put(new Uint8Array(bytes), id(n))),
      remove: (n) => write("delete", (s) => s.delete(id(n))),
      list: (prefix) =>
        Effect.tryPromise(() => {
          const from = id(prefix)
          // every key starting with `from`: [from, from + the highest code unit]
          const range = idb.IDBKeyRange.bound(from, `${from}\uffff`)
          return done(db.transaction(STORE, "readonly").objectStore(STORE).getAllKeys(range))
        }).pipe(
          Effect.map((keys) => keys.filter((k): k is string => typeof k === "string").map((k) => k.slice(peerId.length + 1))),
          Effect.catch((e) => Effect.as(skip("list")(e), []))
        )
    } satisfies LocalStore
  })
