/**
 * Maintenance: holders re-replicate to the current closest peers every `replicateInterval`
 * (at most `maxReplicatePerPass` records a pass, going on where the last pass stopped) and
 * drop expired records and watch leases; subscribers renew their watches; publishers
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

  const replicate = Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    store.sweep(now)
    ctx.leases.sweep(now)
    ctx.sweepPeers(now)
    const records = store.nearRecords(now).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    const pass = passSlice(records, cursor, options.maxReplicatePerPass)
    cursor = pass.next
    for (const r of pass.slice) {
      const { closest } = yield* lookup(yield* ctx.keyOf(r.key))
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
