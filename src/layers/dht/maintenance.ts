/**
 * Maintenance: holders re-replicate to the current closest peers every `replicateInterval`
 * (at most `maxReplicatePerPass` records a pass, going on where the last pass stopped) and
 * drop expired records and watch leases. A record whose closest peers, as this holder's
 * routing table knows them, are the same as at its last replication is skipped, for up to
 * `QUIET_PASSES` passes: churn changes that set (departed peers leave the table), so repair
 * stays prompt, while a quiet network no longer pays a lookup per record per pass. A record
 * stored here within the last interval (by its publisher or another holder's replication) is
 * skipped too: of the holders of a record, the first whose pass comes replicates it; subscribers renew their watches; publishers
 * republish every `republishInterval`. Both loops are supervised.
 *
 * @since 2.0.0
 */
import { Clock, Effect, Schedule } from "effect"
import { makeNonce } from "../../internal/identityProof.ts"
import { supervised } from "../../internal/supervise.ts"
import type { DhtContext } from "./context.ts"
import type { Lookup } from "./lookup.ts"
import type { Network } from "./network.ts"
import type { Subscriptions } from "./subscriptions.ts"
import type { Writes } from "./writes.ts"

/** Passes a record with the same closest peers may be skipped before it is replicated anyway. */
export const QUIET_PASSES = 6

/** The records of a pass: up to `budget` from `cursor` on, wrapping around. */
export const passSlice = <A>(items: ReadonlyArray<A>, cursor: number, budget: number): { readonly slice: ReadonlyArray<A>; readonly next: number } => {
  if (items.length === 0 || budget <= 0) return { slice: [], next: 0 }
  const start = cursor % items.length
  const n = Math.min(budget, items.length)
  const slice = Array.from({ length: n }, (_, i) => items[(start + i) % items.length]!)
  return { slice, next: (start + n) % items.length }
}

export const startMaintenance = Effect.fnUntraced(function*(
  ctx: DhtContext,
  net: Network,
  lookup: Lookup,
  subs: Subscriptions,
  writes: Writes
) {
  const { options, self, stats, store } = ctx
  const republishEvery = options.republishInterval ?? Math.max(1, Math.floor(options.ttl / 2))
  let cursor = 0
  /** Per record key: the closest peers the table knew at its last replication, and when. */
  const replicated = new Map<string, { readonly near: string; readonly at: number }>()

  const replicate = Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    store.sweep(now)
    ctx.leases.sweep(now)
    ctx.sweepPeers(now)
    const records = store.nearRecords(now).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    const pass = passSlice(records, cursor, options.maxReplicatePerPass)
    cursor = pass.next
    for (const key of replicated.keys()) if (store.get(key, now) === undefined) replicated.delete(key)
    for (const r of pass.slice) {
      const id = yield* ctx.keyOf(r.key)
      const near = ctx.table.closest(id, options.replicationFactor + 1).join(",")
      const last = replicated.get(r.key)
      // another holder (or the publisher) stored it here within the interval: it is being
      // replicated, and this holder's copies would only repeat that
      const storedHere = ctx.storedAt.get(r.key)
      const quiet = last !== undefined && last.near === near && now - last.at < QUIET_PASSES * options.replicateInterval
      if (quiet || (storedHere !== undefined && now - storedHere < options.replicateInterval)) {
        stats.replicationsSkipped++
        continue
      }
      replicated.set(r.key, { near, at: now })
      const { closest } = yield* lookup(id)
      for (const holder of closest.slice(0, options.replicationFactor)) {
        if (holder === self) continue
        stats.replications++
        yield* net.rpc(holder, { op: "store", rid: makeNonce(), record: r })
      }
    }
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
