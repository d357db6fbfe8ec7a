/**
 * This peer's subscriptions: `watch` leases at a key's holders (renewed by the maintenance
 * loop every `replicateInterval`), and the notifications they send, delivered per key in
 * version order. A notice counts only for the key's owner as the subscription first saw it,
 * and within the bounded version step.
 *
 * @since 2.0.0
 */
import { Clock, Effect, PubSub, type Schema } from "effect"
import { MAX_VERSION_STEP, ownerOf } from "../../internal/dhtRecords.ts"
import { makeNonce } from "../../internal/identityProof.ts"
import type { DhtRecord } from "../../schema/DhtMessages.ts"
import type { DhtChange } from "../../services/Dht.ts"
import { GAP_SKIP_MS } from "./constants.ts"
import type { DhtContext } from "./context.ts"
import type { Lookup } from "./lookup.ts"
import type { Network } from "./network.ts"

export interface Subscription {
  lastVersion: number
  /** The value the subscriber last saw: the old value of the next change. */
  lastValue: Schema.Json | null
  /** The key's owner, once a record of it was seen. */
  owner: string | undefined
  /** Out-of-order notifications waiting for the versions before them, with arrival time. */
  readonly waiting: Map<number, { readonly change: DhtChange; readonly at: number }>
}

export const makeSubscriptions = Effect.fnUntraced(function*(ctx: DhtContext) {
  const { options } = ctx
  const mine = new Map<string, Subscription>()
  const changes = yield* Effect.acquireRelease(PubSub.unbounded<DhtChange>(), PubSub.shutdown)
  const maxStep = options.maxVersionStep ?? MAX_VERSION_STEP

  const deliver = (sub: Subscription, change: DhtChange) => {
    const complete = { ...change, oldValue: sub.lastValue }
    sub.lastValue = change.newValue
    return PubSub.publish(changes, complete)
  }

  /** Delivers notifications per key in version order; a gap older than `GAP_SKIP_MS` is skipped. */
  const flush = Effect.fnUntraced(function*(sub: Subscription, now: number, force: boolean) {
    while (sub.waiting.size > 0) {
      const next = sub.waiting.get(sub.lastVersion + 1)
      if (next !== undefined) {
        sub.waiting.delete(sub.lastVersion + 1)
        sub.lastVersion++
        yield* deliver(sub, next.change)
        continue
      }
      const lowest = Math.min(...sub.waiting.keys())
      const entry = sub.waiting.get(lowest)!
      if (!force && now - entry.at < GAP_SKIP_MS) return
      sub.waiting.delete(lowest)
      sub.lastVersion = lowest
      yield* deliver(sub, entry.change)
    }
  })

  const onNotify = Effect.fnUntraced(function*(record: DhtRecord, oldValue: Schema.Json | null) {
    const sub = mine.get(record.key)
    if (sub === undefined || record.version <= sub.lastVersion || record.version - sub.lastVersion > maxStep) return
    const owner = ownerOf(record)
    if (sub.owner !== undefined && owner !== sub.owner) return
    sub.owner = owner
    if (sub.waiting.size >= maxStep) return
    const now = yield* Clock.currentTimeMillis
    sub.waiting.set(record.version, {
      at: now,
      change: {
        key: record.key,
        newValue: record.deleted ? null : record.value,
        oldValue,
        publisher: record.publisher,
        version: record.version,
        deleted: record.deleted
      }
    })
    yield* flush(sub, now, false)
  })

  /** Sends a watch (or its end) to the key's `replicationFactor` closest peers; returns the record read on the way. */
  const watchAtHolders = Effect.fnUntraced(function*(lookup: Lookup, net: Network, key: string, on: boolean) {
    const id = yield* ctx.keyOf(key)
    const { closest, record } = yield* lookup(id, key)
    yield* Effect.forEach(
      closest.slice(0, options.replicationFactor),
      (holder) => net.rpc(holder, { op: "watch", rid: makeNonce(), key, on }, 2),
      { concurrency: "unbounded", discard: true }
    )
    return record
  })

  /** Starts a subscription with the record a watch read (or none). */
  const start = (key: string, record: DhtRecord | undefined) => {
    const current = record === undefined || record.deleted ? null : record.value
    if (!mine.has(key)) {
      mine.set(key, {
        lastVersion: record?.version ?? 0,
        lastValue: current,
        owner: record === undefined ? undefined : ownerOf(record),
        waiting: new Map()
      })
    }
    return current
  }

  return { mine, changes, flush, onNotify, watchAtHolders, start }
})

export type Subscriptions = Effect.Success<ReturnType<typeof makeSubscriptions>>
