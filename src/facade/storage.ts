/**
 * `mesh.distributedStorage` for `PeerPigeonMesh` users, with PeerPigeon 1.x's names, over the
 * `DistributedStorage` service (`services/DistributedStorage.ts` says what each space means
 * and what holders check):
 *
 * - `store(key, value, {space | isPublic | isImmutable, enableCRDT, ttl, allowedPeers})`
 *   resolves a receipt `{key, version}`;
 * - `retrieve(key)` resolves the value, or `null` when absent, deleted or not readable here
 *   (as in 1.x it does not reject);
 * - `update`, `delete` (-> boolean), `grantAccess(key, peerId, {write})`, `revokeAccess`
 *   (re-keys a private record), `subscribe` (-> current value), `unsubscribe`, `listKeys`,
 *   `getKeyInfo`, `getStats`, and `getDocument(key)` (the live `Y.Doc` of a CRDT record).
 *
 * Other failures reject with the typed error: `StorageError` (`reason`: `not-owner`,
 * `not-writer`, `frozen`, `unknown-key`, `too-many-readers`, ...), or the DHT's
 * `ValueTooLarge`, `Timeout`, `DhtDisabled`. Events (on every peer that stored or
 * subscribed to the key, whoever made the change): `storageDataStored`,
 * `storageDataUpdated {key, version, value, by}`, `storageDataDeleted`,
 * `storageAccessGranted`, `storageAccessRevoked`.
 *
 * @since 2.0.0
 */
import { Effect, type Schema } from "effect"
import type * as Y from "yjs"
import {
  DistributedStorage,
  type GrantOptions,
  type KeyInfo,
  type Receipt,
  type StorageEvent,
  type StorageStats,
  type StoreOptions
} from "../services/DistributedStorage.ts"
import type { PeerPigeonMeshEvents } from "./events.ts"
import type { Services } from "./runtime.ts"

export type { GrantOptions, KeyInfo, Receipt, StorageStats, StoreOptions } from "../services/DistributedStorage.ts"

/** What `MeshStorage` needs of its mesh. */
export interface StorageHost {
  runEffect<A, E>(effect: Effect.Effect<A, E, Services>): Promise<A>
}

type StorageEventName = "storageDataStored" | "storageDataUpdated" | "storageDataDeleted" | "storageAccessGranted" | "storageAccessRevoked"

/** The facade event of a storage event. */
export const storageEventOf = (e: StorageEvent): { readonly name: StorageEventName; readonly data: PeerPigeonMeshEvents[StorageEventName] } => {
  const { _tag, ...data } = e
  switch (_tag) {
    case "Stored":
      return { name: "storageDataStored", data }
    case "Updated":
      return { name: "storageDataUpdated", data }
    case "Deleted":
      return { name: "storageDataDeleted", data }
    case "AccessGranted":
      return { name: "storageAccessGranted", data }
    case "AccessRevoked":
      return { name: "storageAccessRevoked", data }
  }
}

const use = <A, E>(f: (s: DistributedStorage["Service"]) => Effect.Effect<A, E>) => DistributedStorage.use(f)

export class MeshStorage {
  readonly #host: StorageHost

  constructor(host: StorageHost) {
    this.#host = host
  }

  #run<A, E>(effect: Effect.Effect<A, E, Services>): Promise<A> {
    return this.#host.runEffect(effect)
  }

  /** Always true: storage is part of every mesh (it needs `enableWebDHT`, and `enableCrypto` for private records). */
  isEnabled(): boolean {
    return true
  }

  /** Stores `value` (JSON) under `key`, owned by this peer; space "private" unless told otherwise. */
  store(key: string, value: Schema.Json, options?: StoreOptions): Promise<Receipt> {
    return this.#run(use((s) => s.store(key, value, options)))
  }

  /** The value, or null when absent, deleted, not readable by this peer, or on any failure (as 1.x). */
  retrieve(key: string): Promise<Schema.Json | null> {
    return this.#run(use((s) => s.retrieve(key)).pipe(Effect.orElseSucceed(() => null)))
  }

  /** A new value (owner or granted writer); a CRDT record merges the fields given. */
  update(key: string, value: Schema.Json): Promise<Receipt> {
    return this.#run(use((s) => s.update(key, value)))
  }

  /** Deletes (owner only, not frozen); false when there was nothing to delete. */
  delete(key: string): Promise<boolean> {
    return this.#run(use((s) => s.delete(key)))
  }

  /** Lets `peerId` read (private records) and, with `{write: true}`, write `key`. */
  grantAccess(key: string, peerId: string, options?: GrantOptions): Promise<Receipt> {
    return this.#run(use((s) => s.grantAccess(key, peerId, options)))
  }

  /** Takes `peerId`'s access away; a private record gets a new content key (what it already read stays read). */
  revokeAccess(key: string, peerId: string): Promise<Receipt> {
    return this.#run(use((s) => s.revokeAccess(key, peerId)))
  }

  /** Receives this key's events from now on; resolves to its current value. */
  subscribe(key: string): Promise<Schema.Json | null> {
    return this.#run(use((s) => s.subscribe(key)))
  }

  unsubscribe(key: string): Promise<void> {
    return this.#run(use((s) => s.unsubscribe(key)))
  }

  /** Keys this peer owns, sorted. */
  listKeys(prefix = ""): Promise<ReadonlyArray<string>> {
    return this.#run(use((s) => s.listKeys(prefix)))
  }

  getKeyInfo(key: string): Promise<KeyInfo | null> {
    return this.#run(use((s) => s.getKeyInfo(key)))
  }

  getStats(): Promise<StorageStats> {
    return this.#run(use((s) => s.stats))
  }

  /** The live Yjs document of a CRDT record: bind editors to it; edits are published, others' applied. */
  getDocument(key: string): Promise<Y.Doc> {
    return this.#run(use((s) => s.getDocument(key)))
  }
}
