/**
 * One handler per DHT request: `find` (closest peers, and the record held), `store` (judged
 * by the owner and version rules, then kept within the store's quotas), `watch` (a lease) and
 * `notify` (a holder's change notice, for the subscriptions).
 *
 * `makeHandler` is exported so the handler can be driven directly (property tests): it never
 * fails, and whatever a request holds it answers or ignores it.
 *
 * @since 2.0.0
 */
import { Clock, Effect, type Schema } from "effect"
import { judge } from "../../internal/dhtRecords.ts"
import { holderAccepts } from "../../storage/holder.ts"
import { deeperThan, MAX_CONTENT_DEPTH } from "../../internal/jsonLimits.ts"
import type { DhtRecord, DhtRpc } from "../../schema/DhtMessages.ts"
import type { PeerId } from "../../schema/PeerId.ts"
import { MAX_CLOCK_SKEW_MS } from "./constants.ts"
import { type DhtContext, sizeOf } from "./context.ts"
import type { Handler, Request } from "./network.ts"

type Stored = Extract<DhtRpc, { op: "stored" }>

export interface HandlerDeps {
  /** Sends a message without waiting for an answer (notifications to watchers). */
  readonly reply: (to: PeerId, message: DhtRpc) => Effect.Effect<void>
  /** Delivers a change notice to this peer's own subscriptions. */
  readonly onNotify: (record: DhtRecord, oldValue: Schema.Json | null) => Effect.Effect<void>
}

export const makeHandler = (ctx: DhtContext, deps: HandlerDeps): Handler => {
  const { leases, options, self, stats, store } = ctx

  const find = Effect.fnUntraced(function*(message: Extract<Request, { op: "find" }>, now: number) {
    // what this peer knows of its neighbourhood goes into the answer even if it never looked
    // anything up itself; at most once a second, as the mesh's lists hold every reachable peer
    yield* ctx.refreshIfStale(now)
    const nodes = ctx.table.closest(message.target, options.k)
    const record = message.key === undefined ? undefined : store.get(message.key, now)
    return { op: "found", rid: message.rid, nodes, ...(record ? { record } : {}) } satisfies DhtRpc
  })

  const put = Effect.fnUntraced(function*(from: PeerId, message: Extract<Request, { op: "store" }>, now: number) {
    const r = message.record
    const refuse = (reason: NonNullable<Stored["reason"]>): Stored => {
      stats.refusedStores++
      return { op: "stored", rid: message.rid, ok: false, reason }
    }
    if (!(yield* ctx.validRecord(r))) {
      // validRecord checks the depth and size too: say which it was (measuring only what is not too deep)
      return refuse(!deeperThan(r.value, MAX_CONTENT_DEPTH) && sizeOf(r.value) > options.maxValueSize ? "too-large" : "invalid")
    }
    if (r.expiresAt <= now || r.ts > now + MAX_CLOCK_SKEW_MS) return refuse("invalid")
    const held = store.get(r.key, now)
    const verdict = judge(held, r, options.maxVersionStep)
    if (verdict === "stale" || verdict === "unauthorized") return refuse(verdict)
    // storage records and chunks: signatures, grants and space rules (frozen: never replaced)
    if ((verdict === "accept" || verdict === "refresh") && !(yield* holderAccepts(held, r))) return refuse("unauthorized")
    if (verdict === "accept" || verdict === "refresh") {
      const near = ctx.isNear(yield* ctx.keyOf(r.key))
      if (store.put(r, sizeOf(r), near, now) === "quota") return refuse("quota")
      // a new version from its publisher went to the closest peers its lookup found: the
      // holders other than the closest wait a pass for the primary's copy before acting
      if (verdict === "accept") {
        ctx.arrivedIn.set(r.key, ctx.pass.count)
        if (from === r.publisher) ctx.publishedIn.set(r.key, ctx.pass.count)
      }
    }
    // a holder replicating it has this version (its publisher need not hold it)
    if (from !== self && from !== r.publisher) ctx.holders.note(r.key, r.version, from, "sent", now)
    if (verdict === "accept") {
      const notice = { op: "notify", record: r, oldValue: held === undefined || held.deleted ? null : held.value } satisfies DhtRpc
      for (const watcher of leases.watchers(r.key, now)) {
        if (watcher === self) yield* deps.onNotify(notice.record, notice.oldValue)
        else yield* deps.reply(watcher, notice)
      }
    }
    return { op: "stored", rid: message.rid, ok: true } satisfies Stored
  })

  const handle = Effect.fnUntraced(function*(from: PeerId, message: Request): Effect.fn.Return<DhtRpc | undefined> {
    const now = yield* Clock.currentTimeMillis
    switch (message.op) {
      case "find":
        return yield* find(message, now)
      case "store":
        return yield* put(from, message, now)
      case "watch": {
        if (!message.on) {
          leases.unwatch(message.key, from)
          return { op: "watched", rid: message.rid }
        }
        const ok = leases.watch(message.key, from, now)
        return ok ? { op: "watched", rid: message.rid } : { op: "watched", rid: message.rid, ok: false }
      }
      case "notify":
        if (yield* ctx.validRecord(message.record)) yield* deps.onNotify(message.record, message.oldValue)
        return undefined
    }
  })
  return handle
}
