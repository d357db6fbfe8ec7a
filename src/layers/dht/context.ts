/**
 * What the parts of the DHT layer share: configuration, this peer's identity, the record
 * store and watch leases, the routing table with its peers' health, counters, and the record
 * checks every part applies.
 *
 * @since 2.0.0
 */
import { Clock, Effect, type Schema } from "effect"
import { BoundedMap } from "../../internal/boundedMap.ts"
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
import { GRACE_PASSES, HolderKnowledge, type Knowledge } from "../../internal/dhtReplication.ts"
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
  const leases = new WatchLeases<PeerId>({
    lease: options.watchLease ?? 3 * options.replicateInterval,
    maxPerPeer: options.maxWatchesPerPeer,
    maxTotal: options.maxWatches
  })
  const stats: Counters = { lookups: 0, lookupHops: 0, rpcsSent: 0, rpcTimeouts: 0, replications: 0, replicationsSkipped: 0, refusedStores: 0, droppedRpcs: 0 }

  /**
   * When each peer of the routing table entered it, and in which maintenance pass: what is
   * known of a peer holding a record counts only from its current stay on (a peer that left
   * and came back may have lost everything), and a peer counts for replication only from the
   * pass after it entered (internal/dhtReplication.ts).
   */
  const joined = new Map<PeerId, { readonly at: number; readonly pass: number }>()
  const pass = { count: 0 }
  const addToTable = (id: PeerId, now: number) => {
    if (table.add(id).added) joined.set(id, { at: now, pass: pass.count })
  }
  const removeFromTable = (id: PeerId) => {
    table.remove(id)
    joined.delete(id)
  }
  /** The maintenance pass in which a new version of each key came from its publisher. */
  const publishedIn = new BoundedMap<string, number>(Math.min(16_384, Math.max(1, options.maxRecords)))
  /** The maintenance pass in which each key's current version came here. */
  const arrivedIn = new BoundedMap<string, number>(Math.min(16_384, Math.max(1, options.maxRecords)))
  /** Which peers hold which records, as far as this holder knows (maintenance.ts). */
  const holders = new HolderKnowledge<PeerId>(4 * options.replicationFactor * NEAR_FACTOR, Math.max(1, options.maxRecords))
  /** When `peer` acked or sent `version` of `key` during its current stay in the table. */
  const knownAt = (key: string, version: number, peer: PeerId, how: Knowledge): number | undefined => {
    if (peer === self) return undefined
    const at = holders.knownAt(key, version, peer, how)
    const since = joined.get(peer)
    return at !== undefined && since !== undefined && at >= since.at ? at : undefined
  }
  const settled = (peer: PeerId) => {
    const since = joined.get(peer)
    return since !== undefined && since.pass < pass.count
  }
  /** `peer` has been in the table, and `key` here, for `GRACE_PASSES` passes. */
  const graceOver = (key: string, peer: PeerId) => {
    const since = joined.get(peer)
    const arrived = arrivedIn.get(key) ?? Number.NEGATIVE_INFINITY
    return since !== undefined && pass.count - Math.max(since.pass, arrived) >= GRACE_PASSES
  }

  /** A peer known from the mesh: into the routing table unless there. */
  const know = (id: PeerId, now: number) => {
    if (id !== self && !table.has(id)) addToTable(id, now)
  }
  /**
   * Peers signaling announced and then said left (it tells a leaver's XOR-closest peers, and
   * those hold the records near it), unless linked: they leave the routing table at once,
   * which starts the churn repair of the records they held, and for `UNRESPONSIVE_MS` are not
   * taken back from the presence list, which lags. A link or an announcement takes them back
   * at once; so does an answer of theirs.
   */
  let meshLive = new Set<PeerId>()
  const departed = new Map<PeerId, number>()
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
    removeFromTable(id)
    unresponsive.set(id, now + UNRESPONSIVE_MS)
  }
  /** A peer heard from (an answer, or a signed request): into the table, or to its bucket's recent end. */
  const heardFrom = (id: PeerId, now: number) => {
    failures.delete(id)
    unresponsive.delete(id)
    departed.delete(id)
    if (id !== self && !table.touch(id)) addToTable(id, now)
  }
  const learnFromMesh = (id: PeerId, now: number) => {
    const until = unresponsive.get(id)
    if (until !== undefined) {
      if (until > now) return
      unresponsive.delete(id)
    }
    know(id, now)
  }
  /** Peers known from the mesh (links, discovery, presence) go into the routing table; departed ones leave it. */
  let refreshedAt = Number.NEGATIVE_INFINITY
  const refreshTable = Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    refreshedAt = now
    const linked = yield* connections.connected
    const announced = yield* discovery.discovered
    const live = new Set<PeerId>(announced.map((d) => d.peerId))
    for (const id of meshLive) {
      if (live.has(id) || linked.includes(id)) continue
      departed.set(id, now + UNRESPONSIVE_MS)
      removeFromTable(id)
    }
    meshLive = live
    // linked peers are there: they stay in the table even after missed RPCs (a busy moment)
    for (const id of linked) {
      departed.delete(id)
      know(id, now)
    }
    for (const d of announced) {
      departed.delete(d.peerId)
      learnFromMesh(d.peerId, now)
    }
    for (const id of (yield* discovery.reachable).keys()) {
      const until = departed.get(id)
      if (until !== undefined && until > now) continue
      departed.delete(id)
      learnFromMesh(id, now)
    }
  })
  /** `refreshTable`, at most once per `TABLE_REFRESH_MS`. */
  const refreshIfStale = (now: number) => (now - refreshedAt >= TABLE_REFRESH_MS ? refreshTable : Effect.void)
  /** Forgets health entries that no longer matter. */
  const sweepPeers = (now: number) => {
    for (const [id, until] of unresponsive) if (until <= now) unresponsive.delete(id)
    for (const id of failures.keys()) if (!table.has(id) && !unresponsive.has(id)) failures.delete(id)
    for (const [id, until] of departed) if (until <= now) departed.delete(id)
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

  /** Key ids of the keys held and asked for, so a maintenance pass hashes nothing it hashed before. */
  const ids = new BoundedMap<string, PeerId>(Math.min(16_384, Math.max(1, options.maxRecords)))
  const keyOf = (key: string): Effect.Effect<PeerId> => {
    const known = ids.get(key)
    return known !== undefined ? Effect.succeed(known) : Effect.tap(keyId(mesh.networkName, key), (id) => Effect.sync(() => ids.set(key, id)))
  }

  /** The `replicationFactor` peers closest to `id` this peer knows, itself included, closest first. */
  const view = (id: PeerId): Array<PeerId> => sortByDistance(id, [...table.closest(id, options.replicationFactor), self]).slice(0, options.replicationFactor)

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
    holders,
    publishedIn,
    arrivedIn,
    knownAt,
    settled,
    graceOver,
    pass,
    stats,
    heardFrom,
    unanswered,
    refreshTable,
    refreshIfStale,
    sweepPeers,
    validRecord,
    isNear,
    view,
    keyOf
  }
}

export type DhtContext = ReturnType<typeof makeContext>
