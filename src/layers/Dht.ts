/**
 * The `Dht` layer: a Kademlia-style store over the mesh, composed from the parts in
 * `layers/dht/`:
 *
 * - `context.ts`: shared state (routing table and its peers' health, record store, watch
 *   leases, counters) and the record checks;
 * - `network.ts`: RPCs as routed direct messages of kind "dht", answers tied to the peer
 *   asked, a bounded and supervised inbox;
 * - `handlers.ts`: find, store (owner and version rules of internal/dhtRecords.ts, quotas of
 *   `store.ts`), watch (leases), notify;
 * - `lookup.ts`: the asynchronous iterative lookup, and which copy a read returns;
 * - `writes.ts`, `subscriptions.ts`, `maintenance.ts` (replicate, republish).
 *
 * Ids: a key's id is the first 20 bytes of SHA-256(`networkName` + "\n" + key), in the
 * peer-id space; a record lives on the `replicationFactor` peers XOR-closest to it.
 *
 * @since 2.0.0
 */
import { Clock, Effect, Layer, Stream } from "effect"
import { makeNonce } from "../internal/identityProof.ts"
import { Connections } from "../services/Connections.ts"
import { DhtConfig, DhtDisabled, Dht, type DhtStats, DhtTimeout, NotFound } from "../services/Dht.ts"
import { Discovery } from "../services/Discovery.ts"
import { Identity } from "../services/Identity.ts"
import { MeshConfig } from "../services/MeshConfig.ts"
import { PeerKeys } from "../services/PeerKeys.ts"
import { Router } from "../services/Router.ts"
import { makeContext } from "./dht/context.ts"
import { makeHandler } from "./dht/handlers.ts"
import { makeLookup } from "./dht/lookup.ts"
import { startMaintenance } from "./dht/maintenance.ts"
import { makeNetwork } from "./dht/network.ts"
import { makeSubscriptions } from "./dht/subscriptions.ts"
import { makeWrites } from "./dht/writes.ts"

export { keyId } from "./dht/context.ts"

const emptyStats: DhtStats = {
  records: 0,
  cachedRecords: 0,
  storedBytes: 0,
  watchers: 0,
  refusedStores: 0,
  droppedRpcs: 0,
  lookups: 0,
  lookupHops: 0,
  rpcsSent: 0,
  rpcTimeouts: 0,
  replications: 0,
  replicationsSkipped: 0,
  passes: 0
}

/** A Dht that refuses every call: for `enableWebDHT: false`. */
export const layerDisabled = Layer.succeed(Dht, Dht.of({
  put: () => Effect.fail(new DhtDisabled()),
  get: () => Effect.fail(new DhtDisabled()),
  update: () => Effect.fail(new DhtDisabled()),
  delete: () => Effect.fail(new DhtDisabled()),
  subscribe: () => Effect.fail(new DhtDisabled()),
  unsubscribe: () => Effect.fail(new DhtDisabled()),
  changes: Stream.empty,
  holders: () => Effect.fail(new DhtDisabled()),
  stats: Effect.succeed(emptyStats)
}))

export const layer = Layer.effect(
  Dht,
  Effect.gen(function*() {
    const ctx = makeContext({
      options: yield* DhtConfig,
      mesh: yield* MeshConfig,
      identity: yield* Identity,
      router: yield* Router,
      connections: yield* Connections,
      discovery: yield* Discovery,
      keys: yield* PeerKeys
    })
    const { store, table } = ctx
    const net = makeNetwork(ctx)
    const subs = yield* makeSubscriptions(ctx)
    yield* net.serve(makeHandler(ctx, { reply: net.reply, onNotify: subs.onNotify }))
    const lookup = makeLookup(ctx, net)
    const writes = makeWrites(ctx, net, lookup)
    yield* startMaintenance(ctx, net, lookup, subs, writes)

    return Dht.of({
      put: (key, value, putOptions) => writes.write(key, value, "put", putOptions ?? {}),
      update: (key, value) => writes.write(key, value, "update"),
      delete: (key) => Effect.asVoid(writes.write(key, null, "delete")),
      get: (key) =>
        Effect.gen(function*() {
          const id = yield* ctx.keyOf(key)
          let found = yield* lookup(id, key, true)
          // peers that did not answer (busy, or their reply lost) may be the holders: ask once more
          if (found.record === undefined && found.unanswered > 0) found = yield* lookup(id, key, true)
          const { answered, record } = found
          // nobody answered and nothing is held here: that is a timeout, not an absence
          if (record === undefined && answered === 0 && table.size > 0) return yield* new DhtTimeout({ key, operation: "get" })
          if (record === undefined || record.deleted) return yield* new NotFound({ key })
          return record.value
        }),
      subscribe: (key) => Effect.map(subs.watchAtHolders(lookup, net, key, true), (record) => subs.start(key, record)),
      unsubscribe: (key) =>
        Effect.gen(function*() {
          if (!subs.mine.delete(key)) return
          yield* subs.watchAtHolders(lookup, net, key, false)
        }),
      changes: Stream.fromPubSub(subs.changes),
      holders: (key) =>
        Effect.gen(function*() {
          const id = yield* ctx.keyOf(key)
          const { closest } = yield* lookup(id, key)
          const now = yield* Clock.currentTimeMillis
          const answers = yield* Effect.forEach(
            closest,
            (peer) => Effect.map(net.rpc(peer, { op: "find", rid: makeNonce(), target: id, key }), (answer) => [peer, answer] as const),
            { concurrency: "unbounded" }
          )
          return answers
            .filter(([, a]) => a?.op === "found" && a.record !== undefined && a.record.expiresAt > now)
            .map(([peer]) => peer)
        }),
      stats: Effect.sync((): DhtStats => ({
        ...ctx.stats,
        records: store.size,
        cachedRecords: store.cached,
        storedBytes: store.bytes,
        watchers: ctx.leases.size,
        passes: ctx.pass.count
      }))
    })
  }).pipe(Effect.annotateLogs("module", "Dht"))
)
