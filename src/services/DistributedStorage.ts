/**
 * Distributed storage: access-controlled, signed records in the DHT (`mesh.distributedStorage`
 * in the facade, with PeerPigeon 1.x's method names).
 *
 * - `public`: readable by every peer, written by the owner and the writers it granted;
 * - `private`: encrypted; readable by the owner and the peers it granted (a content key
 *   sealed to each reader's X25519 key); revoking a reader re-keys the record;
 * - `frozen`: written once, never changed or deleted by anyone.
 *
 * DHT holders keep records they cannot read and still refuse forgeries, unauthorised
 * writers and any change to a frozen record (`storage/holder.ts`). Every peer that stored
 * or subscribed to a key gets its events, whoever made the change. With `enableCRDT` a
 * record is a Yjs document: concurrent updates merge (`getDocument` gives the live `Y.Doc`).
 *
 * @since 2.0.0
 */
import { Context, type Effect, type PubSub, type Schema, type Scope } from "effect"
import type * as Y from "yjs"
import type { CryptoError } from "../crypto/CryptoError.ts"
import { defaultPersistence, type Persistence } from "../storage/localStore.ts"
import type { StorageError } from "../storage/StorageError.ts"
import type { Space } from "../storage/record.ts"
import type { DhtError } from "./Dht.ts"

export type { Persistence } from "../storage/localStore.ts"
export type { Space } from "../storage/record.ts"

export interface StoreOptions {
  /** Who reads and writes it. Default "private" (or as `isPublic` / `isImmutable` say). */
  readonly space?: Space
  /** 1.x: true means `space: "public"`. */
  readonly isPublic?: boolean
  /** 1.x: true means `space: "frozen"`. */
  readonly isImmutable?: boolean
  /** The record is a CRDT document (a Yjs `Y.Map` of the value's fields); concurrent updates merge. Default false. */
  readonly enableCRDT?: boolean
  /** Lifetime in the DHT unless republished (this peer republishes while it runs), ms. Default: the DHT's ttl. */
  readonly ttl?: number
  /** Peers that may read a private record, besides the owner. */
  readonly allowedPeers?: ReadonlyArray<string>
}

export interface GrantOptions {
  /** The peer may write (update) the record too. Default false. */
  readonly write?: boolean
}

/** What a write returns: truthy, with the record's new version. */
export interface Receipt {
  readonly key: string
  readonly version: number
}

export type StorageEvent =
  | { readonly _tag: "Stored"; readonly key: string; readonly version: number; readonly value: Schema.Json | null; readonly by: string; readonly space: Space }
  | { readonly _tag: "Updated"; readonly key: string; readonly version: number; readonly value: Schema.Json | null; readonly by: string }
  | { readonly _tag: "Deleted"; readonly key: string; readonly version: number; readonly by: string }
  | { readonly _tag: "AccessGranted"; readonly key: string; readonly version: number; readonly peerId: string; readonly write: boolean }
  | { readonly _tag: "AccessRevoked"; readonly key: string; readonly version: number; readonly peerId: string }

export interface KeyInfo {
  readonly key: string
  readonly owner: string
  readonly space: Space
  readonly isPublic: boolean
  readonly isImmutable: boolean
  readonly enableCRDT: boolean
  /** Readers besides the owner (private records). */
  readonly allowedPeers: ReadonlyArray<string>
  /** Granted writers besides the owner. */
  readonly writers: ReadonlyArray<string>
  readonly version: number
  /** The key epoch: raised at every revocation. */
  readonly epoch: number
  readonly updatedAt: number
  readonly owned: boolean
  /** This peer can read the value. */
  readonly accessible: boolean
}

export interface StorageStats {
  readonly enabled: boolean
  /** Records known here (owned, subscribed or read). */
  readonly itemCount: number
  readonly ownedKeys: number
  readonly subscriptions: number
  readonly crdtKeys: number
  readonly encryptionEnabled: boolean
  readonly maxValueSize: number
}

export type StorageFailure = StorageError | DhtError | CryptoError

export class DistributedStorage extends Context.Service<DistributedStorage, {
  store(key: string, value: Schema.Json, options?: StoreOptions): Effect.Effect<Receipt, StorageFailure>
  /** The value, or null when absent, deleted, or not readable by this peer. */
  retrieve(key: string): Effect.Effect<Schema.Json | null, StorageFailure>
  /** A new value (the owner or a granted writer); for a CRDT record, the fields given are merged in. */
  update(key: string, value: Schema.Json): Effect.Effect<Receipt, StorageFailure>
  /** Deletes (owner only; not frozen); false when there was nothing to delete. */
  delete(key: string): Effect.Effect<boolean, StorageFailure>
  grantAccess(key: string, peerId: string, options?: GrantOptions): Effect.Effect<Receipt, StorageFailure>
  /** Takes read and write access away; private records are re-keyed (what the peer already read stays read). */
  revokeAccess(key: string, peerId: string): Effect.Effect<Receipt, StorageFailure>
  /** Starts the key's events here; the current value (null as `retrieve` gives it). */
  subscribe(key: string): Effect.Effect<Schema.Json | null, StorageFailure>
  unsubscribe(key: string): Effect.Effect<void, StorageFailure>
  /** Keys owned by this peer, sorted, starting with `prefix`. */
  listKeys(prefix?: string): Effect.Effect<ReadonlyArray<string>>
  /** What is known of a key (read from the DHT unless subscribed here); null when absent. */
  getKeyInfo(key: string): Effect.Effect<KeyInfo | null, StorageFailure>
  readonly stats: Effect.Effect<StorageStats>
  /** The live Yjs document of a CRDT record (subscribes): edits on it are published, others' edits applied to it. */
  getDocument(key: string): Effect.Effect<Y.Doc, StorageFailure>
  /** Events for the caller's Scope. */
  readonly events: Effect.Effect<PubSub.Subscription<StorageEvent>, never, Scope.Scope>
}>()("peerpigeon/DistributedStorage") {}

export interface StorageOptions {
  /** Most records this peer owns. Default 256. */
  readonly maxDocuments: number
  /** Most readers (the owner included) and, separately, most writers per record. Default 128. */
  readonly maxReaders: number
  /** Most keys subscribed at once. Default 256. */
  readonly maxSubscriptions: number
  /** Most records remembered (owned and subscribed ones are kept; others forgotten first). Default 4096. */
  readonly maxKnown: number
  /** Times a write re-reads and retries when another writer got there first. Default 8. */
  readonly maxAttempts: number
  /** How long CRDT edits are batched before they are published, ms. Default 30. */
  readonly batchMs: number
  /**
   * How often a writer compares its open CRDT documents with the DHT's copy and publishes a
   * snapshot when the copy lacks something (anti-entropy, compaction), ms: at the first
   * interval without an edit, and every 5 intervals while a document is edited without a
   * pause. Default 2000. (Peers that were away fetch what they lack from the writers by
   * state vector, `storage/stateSync.ts`.)
   */
  readonly syncIntervalMs: number
  /**
   * Where owned and subscribed records, learnt content keys and CRDT documents (with edits
   * not yet published) are kept between runs: "memory" (nothing survives the runtime),
   * "indexeddb" (browsers: the origin's IndexedDB, apart per peer id) or `{dir}` (Node: files
   * in that directory). Default: "indexeddb" where IndexedDB exists (browsers), else "memory".
   * A restarted peer finds its state only under the same identity (`PeerPigeonMesh` keeps a
   * browser tab's identity in IndexedDB too when this is "indexeddb").
   */
  readonly persistence: Persistence
}

export const storageDefaults: StorageOptions = {
  maxDocuments: 256,
  maxReaders: 128,
  maxSubscriptions: 256,
  maxKnown: 4096,
  maxAttempts: 8,
  batchMs: 30,
  syncIntervalMs: 2000,
  persistence: defaultPersistence()
}

export const StorageConfig = Context.Reference<Partial<StorageOptions>>("peerpigeon/StorageConfig", { defaultValue: () => ({}) })
