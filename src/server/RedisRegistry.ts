/**
 * `Registry.layerRedis`: several signaling servers act as one through one Redis. Ownership
 * of peer ids, each network's members and records live in Redis; each operation is one Lua
 * script (RedisScripts.ts); frames for a peer on another server are PUBLISHed to that
 * server's inbox; whom each local peer knows stays on its own server (RedisState.ts). The
 * lease, sweep and fencing loops are in RedisCluster.ts.
 *
 * Every Redis call is bounded by `commandTimeout` and fails with `RegistryUnavailable`; a
 * fenced server (its lease may have expired) fails at once.
 *
 * @since 2.0.0
 */
import { Deferred, Effect } from "effect"
import * as Redis from "effect/persistence/Redis"
import {
  type ClusterCounts,
  type Delivery,
  type Displaced,
  type LeaveResult,
  type PeerRecord,
  RegistryError,
  type RegistryShape,
  RegistryUnavailable
} from "../internal/registry.ts"
import { type PeerId, toBigInt } from "../schema/PeerId.ts"
import * as S from "./RedisScripts.ts"
import { decodeRecord, encodeRecord, inboxItem, type Local, type RedisState } from "./RedisState.ts"

export interface RedisRegistryOptions {
  /** Longest wait for one Redis call before the operation fails. Default 2000 ms. */
  readonly commandTimeout: number
  /** Pause before the one retry of a relay whose target server was not listening. Default 250 ms. */
  readonly relayRetryDelay: number
}

type Eval = Redis.Redis["Service"]["eval"]

export interface RedisOps {
  /** One script call, bounded and typed. */
  readonly run: <A>(operation: string, call: Effect.Effect<A, Redis.RedisError>) => Effect.Effect<A, RegistryUnavailable>
  /** Renews the lease and re-registers local peers when Redis lost its data. */
  readonly resyncNow: Effect.Effect<void, RegistryUnavailable>
  /** Sweeps dead servers now (after an admission found an id held by one). */
  readonly sweepNow: Effect.Effect<void, RegistryUnavailable>
  /** Runs an effect on its own, in the server's context (the coalesced relay calls). */
  readonly fork: (effect: Effect.Effect<void>) => void
}

/** The most relays one `relayMany` call carries. */
const RELAY_BATCH = 256

interface PendingRelay {
  readonly target: string
  readonly item: string
  readonly resume: (effect: Effect.Effect<number, RegistryUnavailable>) => void
}

const byDistance = (target: string) => {
  const t = toBigInt(target)
  return (a: string, b: string) => {
    const da = toBigInt(a) ^ t
    const db = toBigInt(b) ^ t
    return da < db ? -1 : da > db ? 1 : 0
  }
}

export const makeRedisRegistry = (
  state: RedisState,
  evaluate: Eval,
  ops: RedisOps,
  options: RedisRegistryOptions
): RegistryShape => {
  const { locals } = state
  const me = () => state.serverId

  const gapIntroductions = (net: string, g: ReadonlyArray<string | undefined>): LeaveResult["introductions"] => {
    const [pred, predRec, succ, succRec] = g
    if (!pred || !succ || !predRec || !succRec) return []
    return [
      { to: pred as PeerId, about: decodeRecord(succ, net, succRec) },
      { to: succ as PeerId, about: decodeRecord(pred, net, predRec) }
    ]
  }

  /**
   * Releases in flight, by id. An id's next admission waits for its release: otherwise a
   * release sent first could still run in Redis after the admission of the connection that
   * replaced it (its script is loaded on first use, a round trip of its own) and delete that
   * connection's ownership, whose announce would then be refused.
   */
  const releasing = new Map<PeerId, Deferred.Deferred<void>>()
  const releaseDone = (peerId: PeerId): Effect.Effect<void> => {
    const done = releasing.get(peerId)
    return done === undefined ? Effect.void : Deferred.await(done)
  }
  const releaseInRedis = (peerId: PeerId) =>
    Effect.suspend(() => {
      const done = Deferred.makeUnsafe<void>()
      releasing.set(peerId, done)
      return ops.run("release", evaluate(S.release)(peerId, me())).pipe(
        Effect.ensuring(Effect.sync(() => {
          if (releasing.get(peerId) === done) releasing.delete(peerId)
          Deferred.doneUnsafe(done, Effect.void)
        }))
      )
    })

  /**
   * Runs `admit`/`claim`; an id held by a dead server is swept first, then tried once more.
   * A call that timed out may still run in Redis later (it was sent): a release is queued
   * behind it on the same connection, so the id is not left owned by this server with no
   * connection to release it.
   */
  const register = <A extends ReadonlyArray<unknown>>(operation: string, peerId: PeerId, call: () => Effect.Effect<A, Redis.RedisError>) =>
    Effect.flatMap(Effect.andThen(releaseDone(peerId), ops.run(operation, call())), (result) =>
      result[0] === 2 ? Effect.andThen(ops.sweepNow, ops.run(operation, call())) : Effect.succeed(result)).pipe(
        Effect.tapError(() =>
          Effect.forkDetach(Effect.ignore(Effect.suspend(() =>
            locals.has(peerId) ? Effect.void : releaseInRedis(peerId))
          )))
      )

  const releaseEntry = (entry: Local): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (locals.get(entry.peerId) !== entry) return Effect.void
      locals.delete(entry.peerId)
      if (state.stopped) return Effect.void
      return releaseInRedis(entry.peerId).pipe(
        Effect.catchTag("RegistryUnavailable", (e) => Effect.logWarning(`release of ${entry.peerId} not recorded; the sweep repairs it`, e)),
        Effect.asVoid
      )
    })

  const add = (peerId: PeerId, sink: Local["sink"], proven: boolean): Local => {
    const entry: Local = { peerId, sink, connectedAt: Date.now(), announced: undefined, proven, knows: new Set() }
    locals.set(peerId, entry)
    return entry
  }

  const fenced = (operation: string) => Effect.fail(new RegistryUnavailable({ operation }))

  const sendRemote = (deliveries: ReadonlyArray<Delivery>): Effect.Effect<number, RegistryUnavailable> => {
    if (deliveries.length === 0) return Effect.succeed(0)
    return ops.run("deliver", evaluate(S.sendMany)(deliveries.map((d) => d.to), deliveries.map(inboxItem)))
  }

  const deliverAll = (deliveries: ReadonlyArray<Delivery>): Effect.Effect<number, RegistryUnavailable> =>
    Effect.suspend(() => {
      const remote: Array<Delivery> = []
      for (const d of deliveries) {
        if (locals.has(d.to)) state.deliverLocal(d.to, d.note === undefined ? "-" : d.note.kind[0]!, d.note?.about ?? "", d.frame)
        else remote.push(d)
      }
      return sendRemote(remote)
    })

  /**
   * Relays to other servers are coalesced: those of one network that arrive within one
   * event-loop turn (every socket read in one poll phase) leave in one `relayMany` call, one
   * PUBLISH per target server. Per-call costs (the command, its reply, its timeout, the
   * script's epoch check) are then shared; order is kept, since the calls go out in arrival
   * order on one connection and the script keeps the order of each server's frames.
   */
  let pending = new Map<string, Array<PendingRelay>>()
  let flushScheduled = false
  const relayBatch = (net: string, batch: ReadonlyArray<PendingRelay>) => {
    const call = () => evaluate(S.relayMany)(net, state.epoch ?? "", batch.map((r) => r.target), batch.map((r) => r.item))
    return ops.run("relay", call()).pipe(
      Effect.flatMap((r) => r.length === 1 && r[0] === -2 ? Effect.andThen(ops.resyncNow, ops.run("relay", call())) : Effect.succeed(r)),
      Effect.match({
        onFailure: (e) => {
          for (const r of batch) r.resume(Effect.fail(e))
        },
        onSuccess: (out) => {
          batch.forEach((r, i) => r.resume(Effect.succeed(out[i] ?? 0)))
        }
      })
    )
  }
  const flushRelays = () => {
    flushScheduled = false
    const batches = pending
    pending = new Map()
    for (const [net, list] of batches) {
      for (let i = 0; i < list.length; i += RELAY_BATCH) ops.fork(relayBatch(net, list.slice(i, i + RELAY_BATCH)))
    }
  }
  const relayCoalesced = (net: string, target: PeerId, item: string) =>
    Effect.callback<number, RegistryUnavailable>((resume) => {
      let list = pending.get(net)
      if (list === undefined) pending.set(net, list = [])
      list.push({ target, item, resume })
      if (!flushScheduled) {
        flushScheduled = true
        // after the poll phase: the frames read from every socket in this turn go together
        setImmediate(flushRelays)
      }
    })

  return {
    connect: (peerId, sink, maxConnections) =>
      Effect.asVoid(Effect.acquireRelease(
        Effect.suspend(() => {
          if (state.fenced) return fenced("connect")
          if (locals.has(peerId)) return Effect.fail(new RegistryError({ reason: "already-connected", peerId }))
          if (locals.size >= maxConnections) return Effect.fail(new RegistryError({ reason: "capacity", peerId }))
          return Effect.flatMap(register("admit", peerId, () => evaluate(S.admit)(peerId, me(), maxConnections)), ([status]) => {
            // checked again: another connection may have taken the id locally meanwhile
            if (status !== 1 || locals.has(peerId)) return Effect.fail(new RegistryError({ reason: "already-connected", peerId }))
            return Effect.succeed(add(peerId, sink, false))
          })
        }),
        releaseEntry
      )),
    claim: (peerId, sink, maxConnections, reason) =>
      Effect.acquireRelease(
        Effect.suspend(() => {
          if (state.fenced) return fenced("claim")
          const holder = locals.get(peerId)
          if (holder === undefined && locals.size >= maxConnections) return Effect.fail(new RegistryError({ reason: "capacity", peerId }))
          if (holder !== undefined && (holder.proven || holder.announced?.verified === true)) {
            return Effect.fail(new RegistryError({ reason: "already-connected", peerId }))
          }
          return Effect.flatMap(register("claim", peerId, () => evaluate(S.claim)(peerId, me(), reason)), (result) => {
            if (result[0] !== 1) return Effect.fail(new RegistryError({ reason: "already-connected", peerId }))
            const [, , net, ...g] = result
            const networkName = net ? net : undefined
            const local = locals.get(peerId)
            let displaced: Displaced | undefined
            if (local !== undefined) {
              locals.delete(peerId)
              const told = networkName === undefined ? [] : [...local.knows]
              local.knows = new Set()
              displaced = { told, introductions: networkName === undefined ? [] : gapIntroductions(networkName, g), networkName }
            } else if (networkName !== undefined) {
              // the holder's own server tells whom it knew; the ring closes from here
              displaced = { told: [], introductions: gapIntroductions(networkName, g), networkName }
            }
            return Effect.succeed({ entry: add(peerId, sink, true), holder: local, displaced })
          })
        }),
        ({ entry }) => releaseEntry(entry)
      ).pipe(Effect.map(({ displaced, holder }) => {
        holder?.sink.close(1008, reason)
        return displaced
      })),
    announce: (record, k, random) =>
      Effect.suspend(() => {
        const entry = locals.get(record.peerId)
        if (entry === undefined) return Effect.succeed([])
        if (state.fenced) return fenced("announce")
        const call = () =>
          evaluate(S.announce)(record.networkName, record.peerId, me(), encodeRecord(record, me()), record.verified, k, random, state.epoch ?? "")
        return ops.run("announce", call()).pipe(
          Effect.flatMap((r) => r[0] === -2 ? Effect.andThen(ops.resyncNow, ops.run("announce", call())) : Effect.succeed(r)),
          Effect.flatMap((r) => {
            if (r[0] !== 1) return Effect.fail(new RegistryUnavailable({ operation: "announce (not the owner)" }))
            const [, near = [], pred, succ, picks = [], ids = [], recs = []] = r
            const records = new Map<string, PeerRecord>()
            ids.forEach((id, i) => {
              const json = recs[i]
              if (json) records.set(id, decodeRecord(id, record.networkName, json))
            })
            const order = [...near].sort(byDistance(record.peerId))
            for (const id of [pred, succ, ...picks]) if (id && !order.includes(id)) order.push(id)
            entry.announced = record
            if (record.verified) entry.proven = true
            const out: Array<PeerRecord> = []
            for (const id of order) {
              const other = records.get(id)
              if (other === undefined) continue
              entry.knows.add(other.peerId)
              out.push(other)
            }
            return Effect.succeed(out)
          })
        )
      }),
    leave: (peerId) =>
      Effect.suspend(() => {
        const entry = locals.get(peerId)
        const network = entry?.announced?.networkName
        if (entry === undefined || network === undefined) return Effect.succeed({ told: [], introductions: [] })
        entry.announced = undefined
        const told = [...entry.knows]
        entry.knows = new Set()
        return Effect.map(ops.run("leave", evaluate(S.leave)(network, peerId, me())), (r): LeaveResult => ({
          told,
          introductions: r[0] === 1 ? gapIntroductions(network, r.slice(1) as Array<string>) : []
        }))
      }),
    lookup: (peerId) =>
      Effect.suspend(() => {
        const local = locals.get(peerId)
        if (local !== undefined) return Effect.succeed(local.announced)
        return Effect.map(ops.run("lookup", evaluate(S.lookup)(peerId)), ([net, json]) =>
          net === undefined || json === undefined ? undefined : decodeRecord(peerId, net, json))
      }),
    deliver: (peerId, frame) => Effect.map(deliverAll([{ to: peerId, frame }]), (lost) => lost === 0),
    deliverAll: (deliveries) => Effect.asVoid(deliverAll(deliveries)),
    relay: (networkName, target, frame) =>
      Effect.suspend(() => {
        const local = locals.get(target)
        if (local !== undefined) {
          if (local.announced?.networkName !== networkName) return Effect.succeed("unknown" as const)
          local.sink.send(frame)
          return Effect.succeed("delivered" as const)
        }
        if (state.fenced) return Effect.succeed("failed" as const)
        const item = inboxItem({ to: target, frame })
        return relayCoalesced(networkName, target, item).pipe(
          Effect.flatMap((n) => n === 0 ? Effect.andThen(Effect.sleep(options.relayRetryDelay), relayCoalesced(networkName, target, item)) : Effect.succeed(n)),
          Effect.map((n) => n > 0 ? "delivered" as const : n === -1 ? "unknown" as const : "failed" as const)
        )
      }),
    connections: Effect.sync(() =>
      [...locals.values()].map((e) => ({ peerId: e.peerId, connectedAt: e.connectedAt, announced: e.announced }))
    ),
    counts: Effect.sync(() => {
      const networks: Record<string, number> = {}
      let peers = 0
      for (const e of locals.values()) {
        if (e.announced === undefined) continue
        peers++
        networks[e.announced.networkName] = (networks[e.announced.networkName] ?? 0) + 1
      }
      return { connections: locals.size, peers, networks }
    }),
    cluster: Effect.map(ops.run("cluster", evaluate(S.cluster)()), (r): ClusterCounts => {
      const networks: Record<string, number> = {}
      let peers = 0
      for (let i = 2; i + 1 < r.length; i += 2) {
        const n = Number(r[i + 1])
        networks[String(r[i])] = n
        peers += n
      }
      return { servers: Number(r[0]), connections: Number(r[1]), peers, networks }
    }),
    healthy: Effect.sync(() => !state.fenced && state.epoch !== undefined)
  }
}
