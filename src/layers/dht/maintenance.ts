/**
 * Maintenance, every `replicateInterval`: drop expired records and watch leases, bring the
 * routing table up to date with the mesh (departed peers leave it), then for every record
 * held as one of its key's closest peers apply the replication rule of
 * internal/dhtReplication.ts: the record's primary (no closer peer sent it a copy) stores it
 * on the peers of its view that have not acked it, at once when the view changed (churn
 * repair) and else once per `refreshInterval`; the others stay quiet but for a one-time copy
 * to a peer they know nothing of. The pass itself is local (no lookup, no message) unless
 * there is something to send; at most `maxReplicatePerPass` stores a pass, the next pass
 * going on where it stopped. Subscribers renew their watches; publishers republish their own
 * records every `republishInterval` (default ttl / 2). Both loops are supervised.
 *
 * @since 2.0.0
 */
import { Clock, Effect, Schedule } from "effect"
import { GRACE_PASSES, passSends, planReplication } from "../../internal/dhtReplication.ts"
import { makeNonce } from "../../internal/identityProof.ts"
import { supervised } from "../../internal/supervise.ts"
import type { DhtRecord } from "../../schema/DhtMessages.ts"
import type { PeerId } from "../../schema/PeerId.ts"
import type { DhtContext } from "./context.ts"
import type { Lookup } from "./lookup.ts"
import type { Network } from "./network.ts"
import type { Subscriptions } from "./subscriptions.ts"
import type { Writes } from "./writes.ts"

/** Stores of one pass in flight at once. */
const PASS_CONCURRENCY = 8

/** The default `refreshInterval`, in passes: 60 x 10 s. */
export const REFRESH_PASSES = 60

export const startMaintenance = Effect.fnUntraced(function*(
  ctx: DhtContext,
  net: Network,
  lookup: Lookup,
  subs: Subscriptions,
  writes: Writes
) {
  const { options, self, stats, store } = ctx
  const republishEvery = options.republishInterval ?? Math.max(1, Math.floor(options.ttl / 2))
  const refreshEvery = options.refreshInterval ?? REFRESH_PASSES * options.replicateInterval
  let cursor = 0

  /** Stores `record` on `holder`; any answer (taken, newer held, refused) means it need not be asked again before the next refresh. */
  const storeCopy = (holder: PeerId, record: DhtRecord) =>
    Effect.gen(function*() {
      const answer = yield* net.rpc(holder, { op: "store", rid: makeNonce(), record })
      if (answer?.op === "stored") ctx.holders.note(record.key, record.version, holder, "acked", yield* Clock.currentTimeMillis)
    })

  const replicate = Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    ctx.pass.count++
    store.sweep(now)
    ctx.leases.sweep(now)
    ctx.sweepPeers(now)
    yield* ctx.refreshTable
    for (const key of [...ctx.holders.keys()]) if (store.get(key, now) === undefined) ctx.holders.forget(key)
    for (const [key, pass] of [...ctx.publishedIn]) if (ctx.pass.count - pass > 2) ctx.publishedIn.delete(key)
    for (const [key, pass] of [...ctx.arrivedIn]) if (ctx.pass.count - pass > GRACE_PASSES) ctx.arrivedIn.delete(key)
    const records = store.nearRecords(now).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    const targets: Array<ReadonlyArray<PeerId>> = []
    for (const r of records) {
      const plan = planReplication({
        self,
        view: ctx.view(yield* ctx.keyOf(r.key)),
        ackedAt: (peer) => ctx.knownAt(r.key, r.version, peer, "acked"),
        sentAt: (peer) => ctx.knownAt(r.key, r.version, peer, "sent"),
        settled: ctx.settled,
        graceOver: (peer) => ctx.graceOver(r.key, peer),
        justPublished: ctx.pass.count - (ctx.publishedIn.get(r.key) ?? Number.NEGATIVE_INFINITY) <= 2,
        now,
        refreshInterval: refreshEvery
      })
      if (plan.targets.length === 0) stats.replicationsSkipped++
      targets.push(plan.targets)
    }
    const { next, sends } = passSends(targets, cursor, options.maxReplicatePerPass)
    cursor = next
    stats.replications += sends.length
    yield* Effect.forEach(sends, ([index, holder]) => storeCopy(holder, records[index]!), { concurrency: PASS_CONCURRENCY, discard: true })
    for (const [key, sub] of subs.mine) {
      yield* subs.watchAtHolders(lookup, net, key, true).pipe(Effect.ignore)
      yield* subs.flush(sub, now, false)
    }
  })

  const republish = Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    for (const key of [...writes.published]) {
      const held = store.get(key, now)
      const { closest, record } = yield* lookup(yield* ctx.keyOf(key), key)
      const current = record ?? held
      if (current === undefined || current.publisher !== self || current.deleted) {
        writes.published.delete(key)
        continue
      }
      const fresh = yield* writes.sign(key, {
        value: current.value,
        version: current.version,
        writable: current.writable,
        deleted: false,
        ttl: current.expiresAt - current.ts,
        owner: current.owner
      })
      yield* writes.storeOn(fresh, closest).pipe(Effect.ignore)
    }
  })

  yield* Effect.forkScoped(supervised("Dht.replicate", replicate.pipe(Effect.repeat(Schedule.spaced(options.replicateInterval)))))
  yield* Effect.forkScoped(supervised("Dht.republish", republish.pipe(Effect.repeat(Schedule.spaced(republishEvery)))))
})
