/**
 * The iterative Kademlia lookup: finds the `k` peers closest to a target (self included) and,
 * for a key, the record a read returns (`chooseRecord`: the owner most holders name, its
 * newest copy within a bounded step).
 *
 * Asynchronous, as in Kademlia: up to `alpha` queries are active at once, and each answer
 * launches the next query at once rather than waiting for the round's slowest peer. A query
 * that has not answered within the stall time (twice the smoothed answer time, at most half
 * of `rpcTimeout`) stops holding its slot, but its answer still counts if it comes before
 * `rpcTimeout`. The lookup ends when the `k` closest peers known (that did not time out) have
 * all answered; with `firstRecord` (reads), once `READ_QUORUM` peers answered with copies of
 * the same owner it launches nothing more and returns when its active queries are in.
 *
 * Peers named in answers are candidates of this lookup only; they enter the routing table
 * when they answer themselves.
 *
 * @since 2.0.0
 */
import { Clock, Effect, Exit, Queue, Scope } from "effect"
import { chooseRecord, type Copy, ownerOf } from "../../internal/dhtRecords.ts"
import { makeNonce } from "../../internal/identityProof.ts"
import type { DhtRecord } from "../../schema/DhtMessages.ts"
import { type PeerId, sortByDistance } from "../../schema/PeerId.ts"
import { READ_QUORUM } from "./constants.ts"
import type { DhtContext } from "./context.ts"
import type { Answer, Network } from "./network.ts"

export interface LookupResult {
  readonly closest: ReadonlyArray<PeerId>
  readonly record: DhtRecord | undefined
  /** Peers other than self that answered. */
  readonly answered: number
  readonly unanswered: number
}

export const makeLookup = (ctx: DhtContext, net: Network) => {
  const { options, self, stats, table } = ctx

  return Effect.fnUntraced(function*(target: PeerId, key?: string, firstRecord = false): Effect.fn.Return<LookupResult> {
    yield* ctx.refreshTable
    stats.lookups++
    const now = yield* Clock.currentTimeMillis
    const depth = new Map<PeerId, number>()
    for (const id of table.closest(target, options.k * 2)) depth.set(id, 1)
    const queried = new Set<PeerId>()
    const answered = new Set<PeerId>([self])
    const failed = new Set<PeerId>()
    const inFlight = new Set<PeerId>()
    const stalled = new Set<PeerId>()
    const copies: Array<Copy<DhtRecord>> = []
    const own = key === undefined ? undefined : ctx.store.get(key, now)
    if (own !== undefined) copies.push({ from: self, record: own })
    let rounds = 0
    type Event = { readonly id: PeerId; readonly answer: Answer | undefined } | { readonly id: PeerId; readonly stall: true }
    const events = yield* Queue.unbounded<Event>()
    const scope = yield* Scope.make()
    const stallAfter = net.stallTime()

    /** The `k` closest peers known (self included) that have not failed. */
    const closestLive = () => sortByDistance(target, [...depth.keys(), self].filter((id) => !failed.has(id))).slice(0, options.k)
    /** Enough other peers agree on the record's owner (a copy held here does not count: another holder may be newer). */
    const quorum = () => {
      const chosen = chooseRecord(copies, options.maxVersionStep)
      if (chosen === undefined) return false
      const owner = ownerOf(chosen)
      return copies.filter((c) => c.from !== self && ownerOf(c.record) === owner).length >= READ_QUORUM
    }
    const launch = Effect.fnUntraced(function*(id: PeerId) {
      queried.add(id)
      inFlight.add(id)
      rounds = Math.max(rounds, depth.get(id) ?? 1)
      yield* net.rpc(id, { op: "find", rid: makeNonce(), target, ...(key === undefined ? {} : { key }) }).pipe(
        Effect.flatMap((answer) => Queue.offer(events, { id, answer })),
        Effect.forkIn(scope)
      )
      yield* Effect.sleep(stallAfter).pipe(Effect.flatMap(() => Queue.offer(events, { id, stall: true })), Effect.forkIn(scope))
    })

    const run = Effect.gen(function*() {
      let done = false
      while (true) {
        if (!done) {
          let candidates = closestLive().filter((id) => id !== self && !queried.has(id))
          const remote = copies.some((c) => c.from !== self)
          if (candidates.length === 0 && key !== undefined && !remote && queried.size < options.k * 3) {
            // converged without finding the key: widen to the next-closest known peers, in
            // case the writer's view of "closest" differed from ours (sparse tables)
            candidates = sortByDistance(target, [...depth.keys()].filter((id) => !queried.has(id)))
          }
          for (const id of candidates) {
            if (inFlight.size - stalled.size >= options.alpha) break
            yield* launch(id)
          }
        }
        const waitingOnClosest = closestLive().some((id) => inFlight.has(id))
        const active = inFlight.size - stalled.size
        if (active === 0 && (done || !waitingOnClosest)) break
        const event = yield* Queue.take(events)
        if (!inFlight.has(event.id)) continue
        if ("stall" in event) {
          stalled.add(event.id)
          continue
        }
        inFlight.delete(event.id)
        stalled.delete(event.id)
        const answer = event.answer
        if (answer?.op !== "found") {
          failed.add(event.id)
          continue
        }
        answered.add(event.id)
        const next = (depth.get(event.id) ?? 1) + 1
        for (const node of answer.nodes) {
          if (node !== self && !depth.has(node)) depth.set(node, next)
        }
        const r = answer.record
        if (r !== undefined && r.key === key && r.expiresAt > now && (yield* ctx.validRecord(r))) {
          copies.push({ from: event.id, record: r })
          if (firstRecord && quorum()) done = true
        }
      }
    })
    yield* run.pipe(Effect.ensuring(Scope.close(scope, Exit.void)))
    stats.lookupHops += rounds
    const closest = sortByDistance(target, answered).slice(0, options.k)
    return {
      closest,
      record: chooseRecord(copies, options.maxVersionStep),
      answered: answered.size - 1,
      unanswered: failed.size + inFlight.size
    }
  })
}

export type Lookup = ReturnType<typeof makeLookup>
