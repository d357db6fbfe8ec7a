/**
 * The `DistributedStorage` layer, on the `Dht`, `Gossip` (live CRDT ops), `Router`
 * (state-vector exchange, `storage/stateSync.ts`), `Connections` (whether this peer has
 * links), `CryptoManager`, `KeyDirectory` (readers' encryption keys) and `Identity` services.
 *
 * Every write reads the current record first (its version, access list and, for writers,
 * content key), makes the next version (`storage/build.ts`, `storage/access.ts`), publishes
 * its chunks and then the record, re-reading and retrying when another writer got there
 * first (`storage/heads.ts`). Every record read, written or announced by a
 * change notice is verified (`storage/verify.ts`) before it is used, and the events of a new
 * version are derived from the one seen before it (`storage/events.ts`). CRDT records keep a
 * live Yjs document here (`storage/documents.ts`).
 *
 * @since 2.0.0
 */
import { Clock, Effect, Layer, PubSub, Stream } from "effect"
import { CryptoManager } from "../crypto/CryptoManager.ts"
import { KeyDirectory } from "../crypto/KeyDirectory.ts"
import { BoundedMap } from "../internal/boundedMap.ts"
import { Dht, DhtConfig } from "../services/Dht.ts"
import {
  DistributedStorage,
  type Receipt,
  StorageConfig,
  type StorageEvent,
  storageDefaults,
  type StorageFailure,
  type StorageOptions,
  type StoreOptions
} from "../services/DistributedStorage.ts"
import { Gossip } from "../services/Gossip.ts"
import { Connections } from "../services/Connections.ts"
import { Identity } from "../services/Identity.ts"
import { MeshEvents } from "../services/MeshEvents.ts"
import { Router } from "../services/Router.ts"
import { newContentKey, signRecord } from "../storage/build.ts"
import { encodeJson } from "../storage/codec.ts"
import { makeDocuments } from "../storage/documents.ts"
import { type AccessContext, grantDraft, makeDrafts, revokeDraft } from "../storage/access.ts"
import { makeLiveOps } from "../storage/liveOps.ts"
import { makeStore } from "../storage/localStore.ts"
import { makePersisted } from "../storage/persisted.ts"
import { keyInfoOf, type Seen } from "../storage/events.ts"
import { makeHeads } from "../storage/heads.ts"
import { makeOpener, type Opened } from "../storage/open.ts"
import { chunkKeyOf, dhtKeyOf, isTombstone, MAX_KEY_CHARS, MAX_VALUE_BYTES, RECORD_PREFIX, SLOT_INFO, type Space } from "../storage/record.ts"
import { mayWrite } from "../storage/rules.ts"
import { makeStateSync } from "../storage/stateSync.ts"
import { storageError } from "../storage/StorageError.ts"
import { verifyRecord } from "../storage/verify.ts"

type Bytes = Uint8Array<ArrayBuffer>

/** Storage events kept for a subscriber that has not taken them yet (the oldest are dropped past it); preallocated, so small. */
const EVENT_BUFFER = 256

const spaceOf = (o: StoreOptions): Space => o.space ?? (o.isImmutable === true ? "frozen" : o.isPublic === true ? "public" : "private")

export const layer: Layer.Layer<DistributedStorage, never, Dht | Gossip | Router | Connections | CryptoManager | KeyDirectory | Identity | MeshEvents> = Layer.effect(
  DistributedStorage,
  Effect.gen(function*() {
    const dht = yield* Dht
    const crypto = yield* CryptoManager
    const directory = yield* KeyDirectory
    const gossip = yield* Gossip
    const router = yield* Router
    const connections = yield* Connections
    const identity = yield* Identity
    const options: StorageOptions = { ...storageDefaults, ...(yield* StorageConfig) }
    const dhtTtl = (yield* DhtConfig).ttl
    const self = identity.peerId as string
    const events = yield* Effect.acquireRelease(PubSub.sliding<StorageEvent>(EVENT_BUFFER), PubSub.shutdown)
    /** Records seen here, verified; owned and subscribed keys are kept in `owned` / `subscribed` too. */
    const known = new BoundedMap<string, Seen>(options.maxKnown)
    const owned = new Map<string, { ttl: number }>()
    const subscribed = new Set<string>()

    const persisted = makePersisted(yield* makeStore(options.persistence, self), options.maxKnown)
    const { cekName, contentKeys, local, saveJson } = persisted

    const opener = makeOpener<never>(self, {
      unseal: (record, box, aad) =>
        crypto.unseal(box, aad, SLOT_INFO).pipe(
          // a slot sealed to this peer's key of an earlier run: the content key kept locally
          Effect.orElseSucceed(() => contentKeys.get(cekName(record.key, record.acl.epoch)))
        ),
      chunk: (by, hash) =>
        dht.get(chunkKeyOf(by, hash)).pipe(
          Effect.map((v) => (typeof v === "string" ? v : undefined)),
          Effect.orElseSucceed(() => undefined)
        )
    })
    const docs = makeDocuments(options)

    const heads = yield* makeHeads({
      self,
      dht,
      opener,
      docs,
      persisted,
      events,
      known,
      owned,
      subscribed,
      maxReaders: options.maxReaders,
      maxAttempts: options.maxAttempts,
      dhtTtl
    })
    const { head, observe, valueOf, verified, write } = heads

    const checkKey = (key: string) =>
      typeof key === "string" && key.length >= 1 && key.length <= MAX_KEY_CHARS
        ? Effect.void
        : Effect.fail(storageError("invalid", String(key), `a key is 1 to ${MAX_KEY_CHARS} characters`))

    const { draft, newAcl, readersOf } = makeDrafts({
      self,
      identity,
      maxReaders: options.maxReaders,
      ownKey: Effect.map(crypto.getAnnouncement, (a) => a.encryptionKey),
      peerKey: (peerId) => Effect.map(directory.resolvePeerKey(peerId), (a) => a.encryptionKey)
    })

    const receipt = (r: Receipt | { readonly done: unknown }, key: string, version = 0): Receipt => ("done" in r ? { key, version } : r)

    /** The current record of `key` that this peer owns, or why not. */
    const ownedHead = (key: string, current: Opened | undefined) => {
      if (current === undefined || isTombstone(current.record.body)) return Effect.fail(storageError("not-found", key, `no record ${key}`))
      if (current.record.acl.owner !== self) return Effect.fail(storageError("not-owner", key, `${key} belongs to ${current.record.acl.owner}`))
      if (current.record.space === "frozen") return Effect.fail(storageError("frozen", key, `${key} is frozen`))
      return Effect.succeed(current)
    }

    /** Plaintext of the current record as this peer reads it (for re-signing), or `no-access`. */
    const plainOf = (key: string, o: Opened) =>
      o.plain === undefined ? Effect.fail(storageError("no-access", key, `cannot read ${key}: ${o.problem ?? "no key"}`)) : Effect.succeed(o.plain)

    /** The bytes a CRDT record holds now: the live document, the current record merged in. */
    const crdtBytes = (key: string, o: Opened | undefined) =>
      Effect.suspend(() => {
        if (o?.plain !== undefined) docs.merge(key, o.plain)
        return docs.encode(key)
      })

    const subscribeKey = (key: string) =>
      Effect.gen(function*() {
        if (!subscribed.has(key) && subscribed.size >= options.maxSubscriptions) {
          return yield* storageError("invalid", key, `more than ${options.maxSubscriptions} subscriptions`)
        }
        const json = yield* dht.subscribe(dhtKeyOf(key))
        if (!subscribed.has(key)) yield* local.save(`s/${key}`, new Uint8Array(0))
        subscribed.add(key)
        const record = json === null ? undefined : yield* verified(key, json)
        const prev = known.get(key)
        // a version seen already (kept from an earlier run, say) is not opened again: its body may be chunks to fetch
        const seen = record === undefined ? undefined : prev !== undefined && prev.record.version >= record.version ? prev : yield* observe(yield* opener.open(record))
        // the DHT's snapshot may lag behind the writers (or be gone, the record known from an earlier run): ask them
        if ((seen ?? known.get(key))?.record.crdt === true) yield* stateSync.request(key)
        return seen === undefined ? null : seen.value
      })

    const restore = persisted.restore({
      self,
      owned,
      known,
      docs,
      open: opener.open,
      valueOf,
      subscribeKey,
      maxReaders: options.maxReaders,
      retryMs: Math.max(100, options.syncIntervalMs),
      defaultTtl: dhtTtl
    })

    const stateSync = makeStateSync({ self, router, known, subscribed, docs, opener, events })
    const live = makeLiveOps({ self, gossip, known, subscribed, docs, opener, events, maxKnown: options.maxKnown, onGap: stateSync.request })
    const sendOp = live.send
    const gossipIn = yield* gossip.subscribe
    yield* Effect.forkScoped(Effect.forever(Effect.flatMap(PubSub.take(gossipIn), live.receive)))
    const directIn = yield* router.subscribe
    yield* Effect.forkScoped(Effect.forever(Effect.flatMap(PubSub.take(directIn), stateSync.receive)))
    yield* stateSync.onRelink(connections.connected, yield* PubSub.subscribe(yield* MeshEvents))

    // changes of subscribed keys, whoever made them
    yield* dht.changes.pipe(
      Stream.runForEach((change) =>
        Effect.gen(function*() {
          if (!change.key.startsWith(RECORD_PREFIX) || change.newValue === null) return
          const key = change.key.slice(RECORD_PREFIX.length)
          if (!subscribed.has(key)) return
          const v = yield* verifyRecord(change.newValue, options.maxReaders)
          if (!v.ok || v.record.key !== key || v.record.by !== change.publisher) return
          const prev = known.get(key)
          if (prev !== undefined && prev.record.version >= v.record.version) return
          yield* observe(yield* opener.open(v.record))
        })
      ),
      Effect.forkScoped
    )

    /**
     * Publishes the live document of `key` (its batched edits, or what an older copy in the
     * DHT lacks); an owned record the DHT no longer holds (every holder restarted) is
     * published again from the one kept here.
     */
    const flushDocument = (key: string): Effect.Effect<void, StorageFailure> =>
      Effect.asVoid(write(key, (current) =>
        Effect.gen(function*() {
          const kept = known.get(key)
          const base = current ?? (owned.has(key) && kept !== undefined ? yield* opener.open(kept.record) : undefined)
          if (base === undefined || isTombstone(base.record.body)) return { done: undefined }
          if (!mayWrite(base.record.acl, self)) return { done: undefined }
          const plain = yield* crdtBytes(key, base)
          if (current?.plain !== undefined && !docs.hasMoreThan(key, current.plain)) return { done: undefined }
          // the version is the DHT record's: a DHT that lost the record starts it again at 1
          return yield* draft(key, base.record.space, true, base.record.acl, (current?.record.version ?? 0) + 1, plain, base.cek)
        })
      ))

    // restored before the loops start: a save of a document half restored would overwrite the
    // whole one kept; both after flushDocument is defined: a document restored as writable
    // starts the sync loop at once
    yield* restore
    yield* docs.start(
      (key) => flushDocument(key),
      sendOp,
      options.persistence === "memory" ? undefined : (key, state) => local.save(`d/${key}`, state)
    )

    const access: AccessContext = { self, identity, maxReaders: options.maxReaders, readersOf, crdtBytes, plainOf, draft, newAcl }

    return DistributedStorage.of({
      store: (key, value, storeOptions = {}) =>
        Effect.gen(function*() {
          yield* checkKey(key)
          const space = spaceOf(storeOptions)
          const crdt = storeOptions.enableCRDT === true
          if (crdt && space === "frozen") return yield* storageError("invalid", key, "a frozen record cannot be a CRDT document")
          if (!owned.has(key) && owned.size >= options.maxDocuments) {
            return yield* storageError("too-many-documents", key, `this peer owns ${options.maxDocuments} records already`)
          }
          const readers = space === "private" ? yield* readersOf(key, storeOptions.allowedPeers ?? []) : []
          const plain = crdt ? yield* docs.fresh(key, value) : yield* encodeJson(key, value)
          owned.set(key, { ttl: storeOptions.ttl ?? dhtTtl })
          yield* saveJson(`o/${key}`, storeOptions.ttl ?? dhtTtl)
          const r = yield* write(key, (current) =>
            Effect.gen(function*() {
              const prev = current?.record
              if (prev !== undefined && prev.acl.owner !== self) return yield* storageError("not-owner", key, `${key} belongs to ${prev.acl.owner}`)
              if (prev?.space === "frozen") return yield* storageError("frozen", key, `${key} is frozen`)
              const cek = space === "private" ? newContentKey() : undefined
              const epoch = prev === undefined || space !== "private" ? 0 : prev.acl.epoch + 1
              const acl = yield* newAcl(key, space, crdt, epoch, (prev?.acl.rev ?? -1) + 1, readers, [], cek)
              return yield* draft(key, space, crdt, acl, (prev?.version ?? 0) + 1, plain, cek)
            })
          ).pipe(Effect.tapError(() => Effect.sync(() => known.get(key)?.record.acl.owner === self || owned.delete(key))))
          yield* subscribeKey(key)
          return receipt(r, key)
        }),
      retrieve: (key) =>
        Effect.gen(function*() {
          yield* checkKey(key)
          const current = yield* head(key)
          if (current === undefined) return null
          return (yield* observe(current)).value ?? null
        }),
      update: (key, value) =>
        Effect.gen(function*() {
          yield* checkKey(key)
          const r = yield* write(key, (current) =>
            Effect.gen(function*() {
              if (current === undefined || isTombstone(current.record.body)) return yield* storageError("not-found", key, `no record ${key}`)
              const { record } = current
              if (record.space === "frozen") return yield* storageError("frozen", key, `${key} is frozen`)
              if (!mayWrite(record.acl, self)) return yield* storageError("not-writer", key, `${self} may not write ${key}`)
              if (record.space === "private" && current.cek === undefined) return yield* storageError("no-access", key, `no content key for ${key}`)
              let plain: Bytes
              if (record.crdt) {
                yield* crdtBytes(key, current)
                yield* docs.set(key, value)
                plain = yield* docs.encode(key)
              } else {
                plain = yield* encodeJson(key, value)
              }
              return yield* draft(key, record.space, record.crdt, record.acl, record.version + 1, plain, current.cek)
            })
          )
          return receipt(r, key)
        }),
      delete: (key) =>
        Effect.gen(function*() {
          yield* checkKey(key)
          const r = yield* write(key, (current) =>
            Effect.gen(function*() {
              if (current === undefined || isTombstone(current.record.body)) return { done: false }
              const { record } = yield* ownedHead(key, current)
              const ts = yield* Clock.currentTimeMillis
              const tomb = yield* signRecord(identity, { key, space: record.space, crdt: record.crdt, acl: record.acl, version: record.version + 1, ts, body: { deleted: true } })
              return { record: tomb, chunks: [] }
            })
          )
          if ("done" in r) return false
          owned.delete(key)
          docs.drop(key)
          yield* Effect.forEach(["o/", "d/"], (p) => local.remove(p + key), { discard: true })
          return true
        }),
      grantAccess: (key, peerId, grant = {}) =>
        Effect.gen(function*() {
          yield* checkKey(key)
          const peer = String(peerId).toLowerCase()
          const r = yield* write(key, (current) => Effect.flatMap(ownedHead(key, current), (o) => grantDraft(access, key, peer, grant, o)))
          return "done" in r ? { key, version: r.done } : r
        }),
      revokeAccess: (key, peerId) =>
        Effect.gen(function*() {
          yield* checkKey(key)
          const peer = String(peerId).toLowerCase()
          const r = yield* write(key, (current) => Effect.flatMap(ownedHead(key, current), (o) => revokeDraft(access, key, peer, o)))
          return "done" in r ? { key, version: r.done } : r
        }),
      subscribe: (key) => Effect.andThen(checkKey(key), subscribeKey(key)),
      unsubscribe: (key) =>
        Effect.gen(function*() {
          if (!subscribed.delete(key)) return
          yield* local.remove(`s/${key}`)
          yield* dht.unsubscribe(dhtKeyOf(key))
        }),
      listKeys: (prefix = "") => Effect.sync(() => [...owned.keys()].filter((k) => k.startsWith(prefix)).sort()),
      getKeyInfo: (key) =>
        Effect.gen(function*() {
          yield* checkKey(key)
          // kept current by change notices only while subscribed; otherwise read the DHT
          let seen = subscribed.has(key) ? known.get(key) : undefined
          if (seen === undefined) {
            const current = yield* head(key)
            if (current === undefined) return null
            seen = yield* observe(current)
          }
          return isTombstone(seen.record.body) ? null : keyInfoOf(seen, self)
        }),
      stats: Effect.sync(() => ({
        enabled: true,
        itemCount: known.size,
        ownedKeys: owned.size,
        subscriptions: subscribed.size,
        crdtKeys: docs.size,
        encryptionEnabled: true,
        maxValueSize: MAX_VALUE_BYTES
      })),
      getDocument: (key) =>
        Effect.gen(function*() {
          yield* checkKey(key)
          yield* subscribeKey(key)
          const seen = known.get(key)
          if (seen === undefined || isTombstone(seen.record.body)) return yield* storageError("not-found", key, `no record ${key}`)
          if (!seen.record.crdt) return yield* storageError("unsupported", key, `${key} is not a CRDT record`)
          if (!seen.readable) return yield* storageError("no-access", key, `cannot read ${key}`)
          return docs.live(key, mayWrite(seen.record.acl, self))
        }),
      events: PubSub.subscribe(events)
    })
  })
)
