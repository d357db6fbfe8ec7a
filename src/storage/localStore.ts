/**
 * Where a peer keeps its storage state between runs: a small key-value store of byte
 * strings by name. `makeMemoryStore()` (nothing survives the runtime), `makeDirStore(dir)`
 * (Node: one file per name in `dir`, written to a temporary file and renamed, so a crash
 * leaves the old or the new content, never half) and `makeIndexedDbStore` (browsers,
 * `indexedDbStore.ts`). `node:fs` is reached
 * through `process.getBuiltinModule` at run time, so the browser bundle holds no Node built-in.
 *
 * What the storage layer keeps in it: the keys it owns, the keys it subscribed to, the last
 * verified record of each, the content keys it learnt (a restarted peer has a new X25519
 * key, so its old slots no longer open), and its CRDT documents with their unpublished edits.
 *
 * @since 2.0.0
 */
import { Effect, type Scope } from "effect"
import type * as NodeFs from "node:fs"
import { fromBase64Url, toBase64Url } from "../crypto/primitives.ts"
import { globalIndexedDb, makeIndexedDbStore } from "./indexedDbStore.ts"

type Bytes = Uint8Array<ArrayBuffer>

export interface LocalStore {
  load(name: string): Effect.Effect<Bytes | undefined>
  save(name: string, bytes: Uint8Array): Effect.Effect<void>
  remove(name: string): Effect.Effect<void>
  /** Names starting with `prefix`. */
  list(prefix: string): Effect.Effect<ReadonlyArray<string>>
}

/** Where storage state is kept: in memory, in IndexedDB (browsers), or in a directory (Node). */
export type Persistence = "memory" | "indexeddb" | { readonly dir: string }

/** Where storage state is kept when the options do not say: IndexedDB where there is one (browsers), else memory. */
export const defaultPersistence = (): Persistence => (globalIndexedDb() === undefined ? "memory" : "indexeddb")

export const makeMemoryStore = (): LocalStore => {
  const entries = new Map<string, Bytes>()
  return {
    load: (name) => Effect.sync(() => entries.get(name)),
    save: (name, bytes) => Effect.sync(() => void entries.set(name, new Uint8Array(bytes))),
    remove: (name) => Effect.sync(() => void entries.delete(name)),
    list: (prefix) => Effect.sync(() => [...entries.keys()].filter((n) => n.startsWith(prefix)))
  }
}

const fileOf = (name: string) => toBase64Url(new TextEncoder().encode(name))
const nameOf = (file: string) => {
  const bytes = fromBase64Url(file, 4096)
  return bytes === undefined ? undefined : new TextDecoder().decode(bytes)
}

/** A store in `dir` (created if missing). Dies when the runtime has no `node:fs` (a browser). */
export const makeDirStore = (dir: string): Effect.Effect<LocalStore> =>
  Effect.gen(function*() {
    const proc = (globalThis as { readonly process?: { readonly getBuiltinModule?: (id: string) => unknown } }).process
    const fs = proc?.getBuiltinModule?.("node:fs") as typeof NodeFs | undefined
    if (fs === undefined) return yield* Effect.die(new Error("persistence {dir} needs Node's fs"))
    yield* Effect.promise(() => fs.promises.mkdir(dir, { recursive: true }))
    const path = (name: string) => `${dir}/${fileOf(name)}`
    let tmp = 0
    return {
      load: (name) =>
        Effect.promise(() => fs.promises.readFile(path(name)).then((b) => new Uint8Array(b) as Bytes, () => undefined)),
      save: (name, bytes) =>
        Effect.promise(async () => {
          const temp = `${dir}/.tmp-${Date.now()}-${tmp++}`
          await fs.promises.writeFile(temp, bytes)
          await fs.promises.rename(temp, path(name))
        }),
      remove: (name) => Effect.promise(() => fs.promises.rm(path(name), { force: true })),
      list: (prefix) =>
        Effect.promise(async () => {
          const files = await fs.promises.readdir(dir)
          return files.filter((f) => !f.startsWith(".tmp-")).map(nameOf).filter((n): n is string => n !== undefined && n.startsWith(prefix))
        })
    }
  })

/** The store `p` names, for peer `peerId` (IndexedDB keeps the state of every peer of an origin apart by id). */
export const makeStore = (p: Persistence, peerId: string): Effect.Effect<LocalStore, never, Scope.Scope> =>
  p === "memory" ? Effect.succeed(makeMemoryStore()) : p === "indexeddb" ? makeIndexedDbStore(peerId) : makeDirStore(p.dir)
