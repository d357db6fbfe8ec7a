/**
 * The `Dht` layer: a Kademlia-style store over the mesh.
 *
 * - Ids: a key's id is the first 20 bytes of SHA-256(`networkName` + "\n" + key), in the
 *   peer-id space; a record lives on the `replicationFactor` peers XOR-closest to it.
 * - Lookup: iterative, `alpha` parallel `find` RPCs per round to the closest unqueried
 *   candidates, until the `k` closest known have all answered (or time out). RPCs travel as
 *   routed direct messages of kind "dht", so any peer of the network can be asked.
 * - Writes are signed records with a version; holders apply `judge` (internal/dhtRecords.ts).
 * - Subscribers `watch` a key at its holders; holders `notify` every accepted change; the
 *   subscriber delivers versions in order.
 * - Churn: holders re-replicate to the current closest peers every `replicateInterval`
 *   (and drop expired records); publishers republish every `republishInterval`.
 *
 * @since 2.0.0
 */
import { Clock, Deferred, Effect, Exit, Layer, PubSub, Queue, Schedule, Schema, Scope, Stream } from "effect"
import { type DhtRecord as Record, DhtRpc } from "../schema/DhtMessages.ts"
import { judge, newer, recordBytes } from "../internal/dhtRecords.ts"
import { makeNonce } from "../internal/identityProof.ts"
import { RoutingTable } from "../internal/kbucket.ts"
import { type PeerId, sortByDistance, toHex } from "../schema/PeerId.ts"
import { Connections } from "../services/Connections.ts"
import {
  type DhtChange,
  DhtConfig,
  DhtDisabled,
  Dht,
  type DhtError,
  type DhtStats,
  DhtTimeout,
  NotFound,
  Unauthorized,
  ValueTooLarge
} from "../services/Dht.ts"
import { Discovery } from "../services/Discovery.ts"
import { Identity, peerIdMatchesKey, verifySignature } from "../services/Identity.ts"
import { MeshConfig } from "../services/MeshConfig.ts"
import { PeerKeys } from "../services/PeerKeys.ts"
import { Router } from "../services/Router.ts"

const encoder = new TextEncoder()
const decodeRpc = Schema.decodeUnknownExit(DhtRpc)

/** The DHT id of a key in a network. */
export const keyId = (networkName: string, key: string): Effect.Effect<PeerId> =>
  Effect.promise(() => crypto.subtle.digest("SHA-256", encoder.encode(`${networkName}\n${key}`))).pipe(
    Effect.map((digest) => toHex(new Uint8Array(digest).subarray(0, 20)) as PeerId)
  )

interface Subscription {
  lastVersion: number
  /** The value the subscriber last saw: the old value of the next change. */
  lastValue: Schema.Json | null
  /** Out-of-order notifications waiting for the versions before them, with arrival time. */
  readonly waiting: Map<number, { readonly change: DhtChange; readonly at: number }>
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
  stats: Effect.succeed({ records: 0, lookups: 0, lookupHops: 0, rpcsSent: 0, rpcTimeouts: 0, replications: 0 })
}))

export const layer = Layer.effect(
  Dht,
  Effect.gen(function*() {
    const options = yield* DhtConfig
    const mesh = yield* MeshConfig
    const identity = yield* Identity
    const router = yield* Router
    const connections = yield* Connections
    const discovery = yield* Discovery
    const keys = yield* PeerKeys
    const self = identity.peerId
    const table = new RoutingTable<PeerId>(self, { k: 20 })
    const store = new Map<string, Record>()
    const watchers = new Map<string, Set<PeerId>>()
    const mine = new Map<string, Subscription>()
    const published = new Set<string>()
    const pending = new Map<string, Deferred.Deferred<DhtRpc>>()
    const changes = yield* Effect.acquireRelease(PubSub.unbounded<DhtChange>(), PubSub.shutdown)
    const stats = { lookups: 0, lookupHops: 0, rpcsSent: 0, rpcTimeouts: 0, replications: 0 }
    const republishEvery = options.republishInterval ?? Math.max(1, Math.floor(options.ttl / 2))

    /** A peer named by someone: into the routing table unless known. */
    const know = (id: PeerId) => {
      if (id !== self && !table.has(id)) table.add(id)
    }
    /** A peer heard from: into the routing table (or to its bucket's most recent end). */
    const learn = (id: PeerId) => {
      if (id === self || table.touch(id)) return
      table.add(id)
    }
    /**
     * A peer that left `FORGET_AFTER` RPCs in a row unanswered leaves the routing table (a
     * departed peer would otherwise cost later lookups a timeout), and for `UNRESPONSIVE_MS`
     * is not taken back from the mesh's lists, which may lag. Any answer or message from it
     * clears its count; another peer's answer naming it puts it back in the table (busy
     * peers of an overloaded network miss a timeout now and then, and are not gone).
     */
    const failures = new Map<PeerId, number>()
    const unresponsive = new Map<PeerId, number>()
    const FORGET_AFTER = 3
    const UNRESPONSIVE_MS = 60_000
    const unanswered = (id: PeerId, now: number) => {
      const count = (failures.get(id) ?? 0) + 1
      failures.set(id, count)
      if (count < FORGET_AFTER) return
      table.remove(id)
      unresponsive.set(id, now + UNRESPONSIVE_MS)
    }
    const heardFrom = (id: PeerId) => {
      failures.delete(id)
      unresponsive.delete(id)
      learn(id)
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

    const sizeOf = (value: Schema.Json) => encoder.encode(JSON.stringify(value)).length

    /** Checks a record's signature and that its publisher id matches its key (or is pinned to it). */
    const validRecord = Effect.fnUntraced(function*(r: Record) {
      if (sizeOf(r.value) > options.maxValueSize) return false
      if (!(yield* verifySignature(r.publisherKey, r.sig, recordBytes(r)))) return false
      if (yield* peerIdMatchesKey(r.publisher, r.publisherKey)) return true
      return keys.pin(r.publisher, r.publisherKey)
    })

    const alive = (r: Record | undefined, now: number) => (r !== undefined && r.expiresAt > now ? r : undefined)

    // ---- RPC plumbing -------------------------------------------------------------------

    /** Notifications are acknowledged and retransmitted by the Router; requests and answers not. */
    const send = (to: PeerId, message: DhtRpc) => router.send(to, message, "dht", { ack: message.op === "notify" })
    const reply = (to: PeerId, message: DhtRpc) => send(to, message).pipe(Effect.ignore)

    /** Handles an RPC from `from`; returns the answer for requests. */
    const handle = Effect.fnUntraced(function*(from: PeerId, message: DhtRpc): Effect.fn.Return<DhtRpc | undefined> {
      const now = yield* Clock.currentTimeMillis
      switch (message.op) {
        case "find": {
          // what this peer knows of its neighbourhood goes into the answer even if it never
          // looked anything up itself (the table is otherwise filled by its own lookups); at
          // most once a second, as the mesh's lists hold every reachable peer with presence on
          if (now - refreshedAt >= 1000) yield* refreshTable
          const nodes = table.closest(message.target, options.k)
          const record = message.key === undefined ? undefined : alive(store.get(message.key), now)
          return { op: "found", rid: message.rid, nodes, ...(record ? { record } : {}) }
        }
        case "store": {
          const r = message.record
          if (sizeOf(r.value) > options.maxValueSize) return { op: "stored", rid: message.rid, ok: false, reason: "too-large" }
          if (!(yield* validRecord(r)) || r.expiresAt <= now) return { op: "stored", rid: message.rid, ok: false, reason: "invalid" }
          const held = alive(store.get(r.key), now)
          const verdict = judge(held, r)
          if (verdict === "stale" || verdict === "unauthorized") return { op: "stored", rid: message.rid, ok: false, reason: verdict }
          if (verdict === "accept" || verdict === "refresh") store.set(r.key, r)
          if (verdict === "accept") {
            for (const watcher of watchers.get(r.key) ?? []) {
              const notice: DhtRpc = { op: "notify", record: r, oldValue: held === undefined || held.deleted ? null : held.value }
              if (watcher === self) yield* onNotify(notice.record, notice.oldValue)
              else yield* reply(watcher, notice)
            }
          }
          return { op: "stored", rid: message.rid, ok: true }
        }
        case "watch": {
          let set = watchers.get(message.key)
          if (message.on) {
            if (set === undefined) watchers.set(message.key, set = new Set())
            set.add(from)
          } else {
            set?.delete(from)
          }
          return { op: "watched", rid: message.rid }
        }
        case "notify":
          if (yield* validRecord(message.record)) yield* onNotify(message.record, message.oldValue)
          return undefined
        case "found":
        case "stored":
        case "watched": {
          const waiter = pending.get(message.rid)
          if (waiter !== undefined) yield* Deferred.succeed(waiter, message)
          return undefined
        }
      }
    })

    /**
     * Smoothed answer time of this peer's RPCs (an exponentially weighted mean, as TCP's
     * SRTT): a lookup lets a query hold its slot for twice that (at most half the RPC
     * timeout), so a departed peer delays the next query by a fraction of the timeout.
     */
    let smoothedRtt: number | undefined
    const stallTime = () =>
      Math.min(options.rpcTimeout / 2, Math.max(100, smoothedRtt === undefined ? options.rpcTimeout / 4 : 2 * smoothedRtt))

    /**
     * Sends a request and waits for its answer; `undefined` when none came. Requests and
     * answers travel unacknowledged (the answer is the acknowledgement): an unanswered
     * request is sent again, same id, after `rpcTimeout`, up to `attempts` times in all.
     */
    const rpc = Effect.fnUntraced(function*(to: PeerId, message: DhtRpc, attempts = 1) {
      if (to === self) return yield* handle(self, message)
      const rid = "rid" in message ? message.rid : makeNonce()
      const waiter = yield* Deferred.make<DhtRpc>()
      pending.set(rid, waiter)
      const started = yield* Clock.currentTimeMillis
      let answer: DhtRpc | undefined
      for (let attempt = 0; attempt < attempts && answer === undefined; attempt++) {
        stats.rpcsSent++
        const sent = yield* Effect.exit(send(to, message))
        if (Exit.isFailure(sent)) break
        answer = yield* Deferred.await(waiter).pipe(
          Effect.timeoutOrElse({ duration: options.rpcTimeout, orElse: () => Effect.succeed(undefined) })
        )
        if (answer === undefined) stats.rpcTimeouts++
      }
      pending.delete(rid)
      if (answer === undefined) {
        unanswered(to, yield* Clock.currentTimeMillis)
      } else {
        heardFrom(to)
        const rtt = (yield* Clock.currentTimeMillis) - started
        smoothedRtt = smoothedRtt === undefined ? rtt : 0.875 * smoothedRtt + 0.125 * rtt
      }
      return answer
    })

    // incoming DHT messages
    const inbox = yield* router.subscribe
    yield* Effect.gen(function*() {
      while (true) {
        const m = yield* PubSub.take(inbox)
        if (m.kind !== "dht") continue
        const decoded = decodeRpc(m.content)
        if (Exit.isFailure(decoded)) continue
        heardFrom(m.origin)
        yield* Effect.gen(function*() {
          const answer = yield* handle(m.origin, decoded.value)
          if (answer !== undefined) yield* reply(m.origin, answer)
        }).pipe(Effect.forkScoped)
      }
    }).pipe(Effect.forkScoped)

    // ---- lookup -------------------------------------------------------------------------

    /**
     * Finds the `k` peers closest to `target` (self included), and the newest record of `key`.
     *
     * Asynchronous, as in Kademlia: up to `alpha` queries are active at once, and each answer
     * launches the next query at once rather than waiting for the round's slowest peer. A
     * query that has not answered within the stall time (`stallTime`: twice the smoothed
     * answer time, at most half of `rpcTimeout`) stops holding its slot, but its answer still
     * counts if it comes before `rpcTimeout`. The lookup ends when the `k` closest peers known
     * (that did not time out) have all answered; with `firstRecord`, once a record is found
     * it launches nothing more and returns when its active queries are in (reads).
     */
    const lookup = Effect.fnUntraced(function*(target: PeerId, key?: string, firstRecord = false) {
      yield* refreshTable
      stats.lookups++
      const now = yield* Clock.currentTimeMillis
      const depth = new Map<PeerId, number>()
      for (const id of table.closest(target, options.k * 2)) depth.set(id, 1)
      const queried = new Set<PeerId>()
      const answered = new Set<PeerId>([self])
      const failed = new Set<PeerId>()
      const inFlight = new Set<PeerId>()
      const stalled = new Set<PeerId>()
      let record = key === undefined ? undefined : alive(store.get(key), now)
      let foundRemotely = false
      let rounds = 0
      type Event = { readonly id: PeerId; readonly answer: DhtRpc | undefined } | { readonly id: PeerId; readonly stall: true }
      const events = yield* Queue.unbounded<Event>()
      const scope = yield* Scope.make()
      const stallAfter = stallTime()

      /** The `k` closest peers known (self included) that have not failed. */
      const closestLive = () => sortByDistance(target, [...depth.keys(), self].filter((id) => !failed.has(id))).slice(0, options.k)
      const launch = Effect.fnUntraced(function*(id: PeerId) {
        queried.add(id)
        inFlight.add(id)
        rounds = Math.max(rounds, depth.get(id) ?? 1)
        const find: DhtRpc = { op: "find", rid: makeNonce(), target, ...(key === undefined ? {} : { key }) }
        yield* rpc(id, find).pipe(
          Effect.flatMap((answer) => Queue.offer(events, { id, answer })),
          Effect.forkIn(scope)
        )
        yield* Effect.sleep(stallAfter).pipe(Effect.flatMap(() => Queue.offer(events, { id, stall: true })), Effect.forkIn(scope))
      })

      const run = Effect.gen(function*() {
        while (true) {
          // (a copy held here does not end a read: another holder may have a newer version)
          const done = firstRecord && foundRemotely
          if (!done) {
            let candidates = closestLive().filter((id) => id !== self && !queried.has(id))
            if (candidates.length === 0 && key !== undefined && record === undefined && queried.size < options.k * 3) {
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
            if (node === self) continue
            know(node)
            if (!depth.has(node)) depth.set(node, next)
          }
          if (answer.record !== undefined && answer.record.key === key && (yield* validRecord(answer.record))) {
            record = newer(record, answer.record)
            foundRemotely = true
          }
        }
      })
      yield* run.pipe(Effect.ensuring(Scope.close(scope, Exit.void)))
      stats.lookupHops += rounds
      const closest = sortByDistance(target, answered).slice(0, options.k)
      return { closest, record, answered: answered.size - 1, unanswered: failed.size + inFlight.size }
    })

    // ---- writes -------------------------------------------------------------------------

    const sign = Effect.fnUntraced(function*(
      key: string,
      value: Schema.Json,
      version: number,
      writable: boolean,
      deleted: boolean,
      ttl: number
    ) {
      const ts = yield* Clock.currentTimeMillis
      const header = { key, value, publisher: self, publisherKey: identity.publicKey, version, ts, expiresAt: ts + ttl, writable, deleted }
      const sig = yield* identity.sign(recordBytes(header))
      return { ...header, sig } satisfies Record
    })

    /**
     * Stores a record on the `replicationFactor` closest peers that accept it: those that do
     * not answer are replaced by the next closest of the lookup's `closest`, wave by wave.
     * Succeeds when at least one accepts; a refusal (unauthorized, stale, too large) ends it.
     */
    const storeOn = Effect.fnUntraced(function*(record: Record, closest: ReadonlyArray<PeerId>): Effect.fn.Return<void, DhtError> {
      const results: Array<Extract<DhtRpc, { op: "stored" }>> = []
      let stored = 0
      let next = 0
      while (stored < options.replicationFactor && next < closest.length) {
        const wave = closest.slice(next, next + options.replicationFactor - stored)
        next += wave.length
        const answers = yield* Effect.forEach(wave, (id) => rpc(id, { op: "store", rid: makeNonce(), record }, 2), { concurrency: "unbounded" })
        for (const a of answers) {
          if (a?.op !== "stored") continue
          results.push(a)
          if (a.ok) stored++
        }
        if (results.some((a) => !a.ok)) break
      }
      if (stored > 0) return
      if (results.some((a) => a.reason === "unauthorized")) {
        return yield* new Unauthorized({ key: record.key, owner: "", reason: "not-owner" })
      }
      if (results.some((a) => a.reason === "stale")) return yield* new Unauthorized({ key: record.key, owner: "", reason: "stale" })
      if (results.some((a) => a.reason === "too-large")) {
        return yield* new ValueTooLarge({ key: record.key, size: sizeOf(record.value), limit: options.maxValueSize })
      }
      return yield* new DhtTimeout({ key: record.key, operation: "store" })
    })

    const checkSize = (key: string, value: Schema.Json) => {
      const size = sizeOf(value)
      return size > options.maxValueSize ? Effect.fail(new ValueTooLarge({ key, size, limit: options.maxValueSize })) : Effect.void
    }

    const write = Effect.fnUntraced(function*(
      key: string,
      value: Schema.Json,
      mode: "put" | "update" | "delete",
      putOptions: { readonly ttl?: number; readonly writable?: boolean } = {}
    ): Effect.fn.Return<number, DhtError> {
      yield* checkSize(key, value)
      const id = yield* keyId(mesh.networkName, key)
      const { closest, record: existing } = yield* lookup(id, key)
      const present = existing !== undefined && !existing.deleted
      if (mode !== "put" && !present) return yield* new NotFound({ key })
      if (existing !== undefined && existing.publisher !== self && !existing.writable) {
        return yield* new Unauthorized({ key, owner: existing.publisher, reason: "not-owner" })
      }
      const writable = mode === "put" ? putOptions.writable ?? false : existing?.writable ?? false
      const ttl = putOptions.ttl ?? options.ttl
      const record = yield* sign(key, mode === "delete" ? null : value, (existing?.version ?? 0) + 1, writable, mode === "delete", ttl)
      yield* storeOn(record, closest)
      if (mode === "delete") published.delete(key)
      else published.add(key)
      return record.version
    })

    // ---- subscriptions ------------------------------------------------------------------

    const deliver = (sub: Subscription, change: DhtChange) => {
      const complete = { ...change, oldValue: sub.lastValue }
      sub.lastValue = change.newValue
      return PubSub.publish(changes, complete)
    }

    /** Delivers notifications per key in version order; a gap older than 2 s is skipped. */
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
        if (!force && now - entry.at < 2000) return
        sub.waiting.delete(lowest)
        sub.lastVersion = lowest
        yield* deliver(sub, entry.change)
      }
    })

    const onNotify = Effect.fnUntraced(function*(record: Record, oldValue: Schema.Json | null) {
      const sub = mine.get(record.key)
      if (sub === undefined || record.version <= sub.lastVersion) return
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

    const watchAtHolders = Effect.fnUntraced(function*(key: string, on: boolean) {
      const id = yield* keyId(mesh.networkName, key)
      const { closest, record } = yield* lookup(id, key)
      yield* Effect.forEach(
        closest.slice(0, options.replicationFactor),
        (holder) => rpc(holder, { op: "watch", rid: makeNonce(), key, on }, 2),
        { concurrency: "unbounded", discard: true }
      )
      return record
    })

    // ---- maintenance --------------------------------------------------------------------

    const replicate = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      for (const [key, r] of store) if (r.expiresAt <= now) store.delete(key)
      for (const [id, until] of unresponsive) if (until <= now) unresponsive.delete(id)
      for (const id of failures.keys()) if (!table.has(id) && !unresponsive.has(id)) failures.delete(id)
      for (const r of [...store.values()]) {
        const id = yield* keyId(mesh.networkName, r.key)
        const { closest } = yield* lookup(id)
        for (const holder of closest.slice(0, options.replicationFactor)) {
          if (holder === self) continue
          stats.replications++
          yield* rpc(holder, { op: "store", rid: makeNonce(), record: r })
        }
      }
      for (const [key, sub] of mine) {
        yield* watchAtHolders(key, true).pipe(Effect.ignore)
        yield* flush(sub, now, false)
      }
    })
    yield* replicate.pipe(
      Effect.catchCause((cause) => Effect.logWarning("DHT replication pass failed", cause)),
      Effect.repeat(Schedule.spaced(options.replicateInterval)),
      Effect.forkScoped
    )

    const republish = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      for (const key of [...published]) {
        const held = alive(store.get(key), now)
        const id = yield* keyId(mesh.networkName, key)
        const { closest, record } = yield* lookup(id, key)
        const current = newer(held, record)
        if (current === undefined || current.publisher !== self || current.deleted) {
          published.delete(key)
          continue
        }
        const ttl = current.expiresAt - current.ts
        const fresh = yield* sign(key, current.value, current.version, current.writable, false, ttl)
        yield* storeOn(fresh, closest).pipe(Effect.ignore)
      }
    })
    yield* republish.pipe(
      Effect.catchCause((cause) => Effect.logWarning("DHT republish failed", cause)),
      Effect.repeat(Schedule.spaced(republishEvery)),
      Effect.forkScoped
    )

    return Dht.of({
      put: (key, value, putOptions) => write(key, value, "put", putOptions ?? {}),
      update: (key, value) => write(key, value, "update"),
      delete: (key) => Effect.asVoid(write(key, null, "delete")),
      get: (key) =>
        Effect.gen(function*() {
          const id = yield* keyId(mesh.networkName, key)
          let found = yield* lookup(id, key, true)
          // peers that did not answer (busy, or their reply lost) may be the holders: ask once more
          if (found.record === undefined && found.unanswered > 0) found = yield* lookup(id, key, true)
          const { answered, record } = found
          // nobody answered and nothing is held here: that is a timeout, not an absence
          if (record === undefined && answered === 0 && table.size > 0) return yield* new DhtTimeout({ key, operation: "get" })
          if (record === undefined || record.deleted) return yield* new NotFound({ key })
          return record.value
        }),
      subscribe: (key) =>
        Effect.gen(function*() {
          const record = yield* watchAtHolders(key, true)
          const current = record === undefined || record.deleted ? null : record.value
          if (!mine.has(key)) mine.set(key, { lastVersion: record?.version ?? 0, lastValue: current, waiting: new Map() })
          return current
        }),
      unsubscribe: (key) =>
        Effect.gen(function*() {
          if (!mine.delete(key)) return
          yield* watchAtHolders(key, false)
        }),
      changes: Stream.fromPubSub(changes),
      holders: (key) =>
        Effect.gen(function*() {
          const id = yield* keyId(mesh.networkName, key)
          const { closest } = yield* lookup(id, key)
          const now = yield* Clock.currentTimeMillis
          const answers = yield* Effect.forEach(
            closest,
            (peer) => Effect.map(rpc(peer, { op: "find", rid: makeNonce(), target: id, key }), (answer) => [peer, answer] as const),
            { concurrency: "unbounded" }
          )
          return answers.filter(([, a]) => a?.op === "found" && alive(a.record, now) !== undefined).map(([peer]) => peer)
        }),
      stats: Effect.sync((): DhtStats => ({ records: store.size, ...stats }))
    })
  }).pipe(Effect.annotateLogs("module", "Dht"))
)
