/**
 * What the parts of the DHT layer share: configuration, this peer's identity, the record
 * store and watch leases, the routing table with its peers' health, counters, and the record
 * checks every part applies.
 *
 * @since 2.0.0
 */
import { BoundedMap } from "../../internal/boundedMap.ts"
import { Clock, Effect, type Schema } from "effect"
import { deeperThan, MAX_CONTENT_DEPTH } from "../../internal/jsonLimits.ts"
import { RoutingTable } from "../../internal/kbucket.ts"
import type { DhtRecord } from "../../schema/DhtMessages.ts"
import { type PeerId, sortByDistance, toHex } from "../../schema/PeerId.ts"
import type { Connections } from "../../services/Connections.ts"
import type { DhtOptions } from "../../services/Dht.ts"
import type { Discovery } from "../../services/Discovery.ts"
import { type Identity, peerIdMatchesKey, verifySignature } from "../../services/Identity.ts"
import type { MeshOptions } from "../../services/MeshConfig.ts"
import type { PeerKeys } from "../../services/PeerKeys.ts"
import type { Router } from "../../services/Router.ts"
import { keyDirectoryAllows, recordBytes } from "../../internal/dhtRecords.ts"
import { validDirectoryValue } from "../../crypto/directoryRecord.ts"
import { BUCKET_SIZE, FORGET_AFTER, NEAR_FACTOR, TABLE_REFRESH_MS, UNRESPONSIVE_MS } from "./constants.ts"
import { RecordStore, WatchLeases } from "./store.ts"

const encoder = new TextEncoder()

/** The DHT id of a key in a network. */
export const keyId = (networkName: string, key: string): Effect.Effect<PeerId> =>
  Effect.promise(() => crypto.subtle.digest("SHA-256", encoder.encode(`${networkName}\n${key}`))).pipe(
    Effect.map((digest) => toHex(new Uint8Array(digest).subarray(0, 20)) as PeerId)
  )

/** Bytes of a value as JSON (callers check its depth first). */
export const sizeOf = (value: Schema.Json | DhtRecord): number => encoder.encode(JSON.stringify(value)).length

export interface Counters {
  lookups: number
  lookupHops: number
  rpcsSent: number
  rpcTimeouts: number
  replications: number
  replicationsSkipped: number
  refusedStores: number
  droppedRpcs: number
}

export interface Services {
  readonly options: DhtOptions
  readonly mesh: MeshOptions
  readonly identity: Identity["Service"]
  readonly router: Router["Service"]
  readonly connections: Connections["Service"]
  readonly discovery: Discovery["Service"]
  readonly keys: PeerKeys["Service"]
}

export const makeContext = (services: Services) => {
  const { connections, discovery, keys, mesh, options } = services
  const self = services.identity.peerId
  const table = new RoutingTable<PeerId>(self, { k: BUCKET_SIZE })
  const store = new RecordStore<DhtRecord>({
    maxRecords: options.maxRecords,
    maxBytes: options.maxStoreBytes,
    maxRecordsPerPublisher: options.maxRecordsPerPublisher,
    maxBytesPerPublisher: options.maxBytesPerPublisher,
    farCacheSize: options.farCacheSize,
    maxTtl: options.maxTtl
  })
  /** When each held key was last stored here by someone (a publish, or another holder's replication). */
  const storedAt = new BoundedMap<string, number>(Math.max(1, options.maxRecords))
  const leases = new WatchLeases<PeerId>({
    lease: options.watchLease ?? 3 * options.replicateInterval,
    maxPerPeer: options.maxWatchesPerPeer,
    maxTotal: options.maxWatches
  })
  const stats: Counters = { lookups: 0, lookupHops: 0, rpcsSent: 0, rpcTimeouts: 0, replications: 0, replicationsSkipped: 0, refusedStores: 0, droppedRpcs: 0 }

  /** A peer known from the mesh: into the routing table unless there. */
  const know = (id: PeerId) => {
    if (id !== self && !table.has(id)) table.add(id)
  }
  /**
   * A peer that left `FORGET_AFTER` RPCs in a row unanswered leaves the routing table (a
   * departed peer would otherwise cost later lookups a timeout), and for `UNRESPONSIVE_MS`
   * is not taken back from the mesh's lists, which may lag. Any answer or message from it
   * clears its count and puts it back. Peers named in others' answers are only lookup
   * candidates: they enter the table when they answer themselves, not on hearsay.
   */
  const failures = new Map<PeerId, number>()
  const unresponsive = new Map<PeerId, number>()
  const unanswered = (id: PeerId, now: number) => {
    const count = (failures.get(id) ?? 0) + 1
    failures.set(id, count)
    if (count < FORGET_AFTER) return
    table.remove(id)
    unresponsive.set(id, now + UNRESPONSIVE_MS)
  }
  /** A peer heard from (an answer, or a signed request): into the table, or to its bucket's recent end. */
  const heardFrom = (id: PeerId) => {
    failures.delete(id)
    unresponsive.delete(id)
    if (id !== self && !table.touch(id)) table.add(id)
  }
  const learnFromMesh = (id: PeerId, now: number) => {
    const until = unresponsive.get(id)
    if (until !== undefined) {
      if (until > now) return
      unresponsive.delete(id)
    }
    know(id)
  }
  /** Peers known from the mesh (links, discovery, presence) go into the routing table. */
  let refreshedAt = Number.NEGATIVE_INFINITY
  const refreshTable = Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    refreshedAt = now
    // linked peers are there: they stay in the table even after missed RPCs (a busy moment)
    for (const id of yield* connections.connected) know(id)
    for (const d of yield* discovery.discovered) learnFromMesh(d.peerId, now)
    for (const id of (yield* discovery.reachable).keys()) learnFromMesh(id, now)
  })
  /** `refreshTable`, at most once per `TABLE_REFRESH_MS`. */
  const refreshIfStale = (now: number) => (now - refreshedAt >= TABLE_REFRESH_MS ? refreshTable : Effect.void)
  /** Forgets health entries that no longer matter. */
  const sweepPeers = (now: number) => {
    for (const [id, until] of unresponsive) if (until <= now) unresponsive.delete(id)
    for (const id of failures.keys()) if (!table.has(id) && !unresponsive.has(id)) failures.delete(id)
  }

  /**
   * Checks a record: its value's depth and size, its signature, and that its publisher's id
   * derives from its key (or, with `allowUnverifiedPeers`, is pinned to it). A key-directory
   * record (`pp/keys/<peerId>`) must be written by that peer and hold its own signed announcement.
   */
  const validRecord = Effect.fnUntraced(function*(r: DhtRecord) {
    if (deeperThan(r.value, MAX_CONTENT_DEPTH) || sizeOf(r.value) > options.maxValueSize) return false
    if (!keyDirectoryAllows(r)) return false
    if (!(yield* verifySignature(r.publisherKey, r.sig, recordBytes(r)))) return false
    if (!(yield* validDirectoryValue(r))) return false
    if (yield* peerIdMatchesKey(r.publisher, r.publisherKey)) return true
    return mesh.allowUnverifiedPeers && keys.pin(r.publisher, r.publisherKey)
  })

  /** True when this peer is among the `replicationFactor * NEAR_FACTOR` closest it knows to `id`. */
  const isNear = (id: PeerId) => {
    const n = options.replicationFactor * NEAR_FACTOR
    return sortByDistance(id, [...table.closest(id, n), self]).indexOf(self) < n
  }

  return {
    ...services,
    self,
    table,
    store,
    leases,
    storedAt,
    stats,
    heardFrom,
    unanswered,
    refreshTable,
    refreshIfStale,
    sweepPeers,
    validRecord,
    isNear,
    keyOf: (key: string) => keyId(mesh.networkName, key)
  }
}

export type DhtContext = ReturnType<typeof makeContext>
