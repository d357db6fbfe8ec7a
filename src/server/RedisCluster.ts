/**
 * The Redis deployment's background work, for one server: the connection (node-redis through
 * Effect's `Redis` service and platform-node's `NodeRedis` layer), the inbox subscriber, the
 * lease (renewed every `renewInterval`, expiring after `leaseTtl`), the sweep of servers whose
 * lease is gone, fencing (a server whose last renewal is older than `fenceAfter` closes its
 * sockets with 1013 and refuses work before anyone can take its peers over), and the resync
 * after Redis lost its data (a new epoch: every local peer is registered again).
 *
 * @since 2.0.0
 */
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import { Effect, Schedule, Semaphore } from "effect"
import * as Redis from "effect/persistence/Redis"
import { type RegistryShape, RegistryUnavailable } from "../internal/registry.ts"
import { supervised } from "../internal/supervise.ts"
import type { PeerId } from "../schema/PeerId.ts"
import * as S from "./RedisScripts.ts"
import { makeRedisRegistry, type RedisOps } from "./RedisRegistry.ts"
import { decodeRecord, encodeRecord, RedisState, randomToken } from "./RedisState.ts"
import { discoveredFrame } from "./ServerFrames.ts"

export interface RedisClusterOptions {
  /** `redis://[user:password@]host:port[/db]`, `rediss://` for TLS, or `redis+unix:///path` is not supported: use `socketPath`. */
  readonly url?: string | undefined
  /** A unix socket path instead of a URL (tests). */
  readonly socketPath?: string | undefined
  /** Default 2000 ms. */
  readonly commandTimeout?: number
  /** Default 3000 ms. */
  readonly leaseTtl?: number
  /** Default 1000 ms. */
  readonly renewInterval?: number
  /** Default 2500 ms (under `leaseTtl`). */
  readonly fenceAfter?: number
  /** Commands queued while Redis is slow before new ones fail at once. Default 10000. */
  readonly maxQueued?: number
}

/** The state of a running Redis registry, for tests and the cluster benchmark. */
export interface RedisClusterHandle {
  readonly state: RedisState
}

export const makeRedisCluster = Effect.fnUntraced(function*(options: RedisClusterOptions) {
  const redis = yield* Redis.Redis
  const { client } = yield* NodeRedis.NodeRedis
  const commandTimeout = options.commandTimeout ?? 2000
  const leaseTtl = options.leaseTtl ?? 3000
  const renewInterval = options.renewInterval ?? 1000
  const fenceAfter = options.fenceAfter ?? 2500
  const state = new RedisState()
  const resyncLock = yield* Semaphore.make(1)

  const run = <A>(operation: string, call: Effect.Effect<A, Redis.RedisError>): Effect.Effect<A, RegistryUnavailable> =>
    call.pipe(
      Effect.timeoutOrElse({
        duration: commandTimeout,
        orElse: () => Effect.fail(new RegistryUnavailable({ operation: `${operation} (timed out)` }))
      }),
      Effect.catchTag("RedisError", (cause) => Effect.fail(new RegistryUnavailable({ operation, cause })))
    )

  const registerAll = Effect.gen(function*() {
    const rows: Array<string> = []
    for (const e of state.locals.values()) {
      const r = e.announced
      rows.push(e.peerId, e.proven || r?.verified ? "1" : "0", r?.networkName ?? "", r === undefined ? "" : encodeRecord(r, state.serverId))
    }
    for (let i = 0; i < rows.length; i += 2000) yield* run("resync", redis.eval(S.resync)(state.serverId, rows.slice(i, i + 2000)))
    if (rows.length > 0) yield* Effect.logInfo(`re-registered ${rows.length / 4} peers in Redis`)
  })

  /** One lease renewal; a new epoch (Redis lost its data) re-registers every local peer first. */
  const renewOnce = resyncLock.withPermits(1)(Effect.gen(function*() {
    const epoch = yield* run("renew", redis.eval(S.renew)(state.serverId, randomToken(), leaseTtl, state.epoch ?? ""))
    if (state.fenced) {
      // back after a partition: whatever this server still owned in Redis goes, as for a dead server
      yield* sweepWith(true)
      state.fenced = false
      state.epoch = epoch
      yield* Effect.logWarning("Redis reachable again: serving")
    } else if (state.epoch !== undefined && state.epoch !== epoch) {
      yield* Effect.logWarning("Redis lost its data (new epoch): re-registering local peers")
      state.inboxSeq = undefined
      yield* registerAll
      state.epoch = epoch
    } else {
      state.epoch = epoch
    }
    state.lastRenewal = Date.now()
  }))

  // set once the registry exists; the loops above it may run before (they then skip it)
  const built: { registry?: RegistryShape } = {}

  const sweepWith = (self: boolean) =>
    Effect.gen(function*() {
      const out = yield* run("sweep", redis.eval(S.sweep)(state.serverId, self))
      const first = out.indexOf("|")
      const second = out.indexOf("|", first + 1)
      const dead = out.slice(0, first)
      if (dead.length === 0 || (self && first === 1 && second === first + 1)) return
      const removed = out.slice(first + 1, second)
      const intros = out.slice(second + 1)
      const pairs: Array<string> = []
      for (let i = 0; i + 1 < removed.length; i += 2) pairs.push(`${removed[i]}\n${removed[i + 1]}`)
      // every server (this one too) tells its own peers that knew them
      for (let i = 0; i < pairs.length; i += 1000) {
        yield* run("sweep notice", redis.send("PUBLISH", "pp:ctl", `x\n${pairs.slice(i, i + 1000).join("\n")}`))
      }
      const deliveries = []
      const ts = Date.now()
      for (let i = 0; i + 4 < intros.length; i += 5) {
        const [net, pred, predRec, succ, succRec] = intros.slice(i, i + 5) as [string, string, string, string, string]
        if (!predRec || !succRec) continue
        const a = decodeRecord(pred, net, predRec)
        const b = decodeRecord(succ, net, succRec)
        deliveries.push({ to: a.peerId, frame: discoveredFrame(b, a.peerId, ts), note: { kind: "intro" as const, about: b.peerId } })
        deliveries.push({ to: b.peerId, frame: discoveredFrame(a, b.peerId, ts), note: { kind: "intro" as const, about: a.peerId } })
      }
      if (deliveries.length > 0 && built.registry !== undefined) yield* built.registry.deliverAll(deliveries)
      yield* Effect.logInfo(`swept ${dead.length} dead server(s): ${pairs.length} peers removed`)
    })

  const runFork = Effect.runForkWith(yield* Effect.context<never>())
  const ops: RedisOps = {
    run,
    resyncNow: renewOnce,
    sweepNow: sweepWith(false),
    fork: (effect) => {
      runFork(effect)
    }
  }
  const registry = makeRedisRegistry(state, redis.eval, ops, { commandTimeout, relayRetryDelay: 250 })
  built.registry = registry

  // first lease and epoch before the first connection
  yield* renewOnce

  /**
   * Redis dropped inbox messages it had accepted for this server (it cut a subscriber that
   * fell behind its output buffer limit): which peers missed which frames is unknown, so
   * every local connection is closed with 1013 (they reconnect and signal again) and
   * removed from Redis as a dead server's would be, the others told.
   */
  const inboxLost = (lost: number) =>
    Effect.gen(function*() {
      const closed = state.closeAll("Signaling messages lost; try again")
      yield* Effect.logWarning(`${lost} inbox message(s) lost (subscriber cut by Redis?): closed ${closed} connections (1013)`)
      yield* Effect.ignore(resyncLock.withPermits(1)(sweepWith(true)))
    })

  // the inbox and the control channel: handed straight to local sockets in node-redis's callback
  const subscriber = client.duplicate()
  subscriber.on("error", () => undefined) // reconnects by itself; the lease loop reports outages
  const onMessage = (message: string, channel: string) => {
    if (channel === "pp:ctl") {
      if (!message.startsWith("x\n")) return
      const lines = message.split("\n")
      const removed: Array<readonly [string, PeerId]> = []
      for (let i = 1; i + 1 < lines.length; i += 2) removed.push([lines[i]!, lines[i + 1] as PeerId])
      state.forget(removed)
      return
    }
    const lost = state.inboxGap(Number(message.slice(0, message.indexOf("\n"))))
    if (lost > 0) runFork(inboxLost(lost))
    const told = state.onInbox(message)
    if (told.length > 0) runFork(Effect.ignore(registry.deliverAll(told)))
  }
  yield* Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        await subscriber.connect()
        await subscriber.subscribe([`pp:to:${state.serverId}`, "pp:ctl"], onMessage)
      },
      catch: (cause) => new RegistryUnavailable({ operation: "subscribe", cause })
    }),
    () => Effect.sync(() => subscriber.destroy())
  )

  const lease = Effect.repeat(
    Effect.catchTag(renewOnce, "RegistryUnavailable", (e) => Effect.logWarning("lease renewal failed", e)),
    Schedule.spaced(renewInterval)
  )
  const sweeper = Effect.repeat(
    Effect.catchTag(Effect.suspend(() => state.fenced ? Effect.void : sweepWith(false)), "RegistryUnavailable", () => Effect.void),
    Schedule.spaced(renewInterval)
  )
  const fence = Effect.repeat(
    Effect.sync(() => {
      if (state.fenced || Date.now() - state.lastRenewal <= fenceAfter) return
      state.fenced = true
      const closed = state.closeAll("Signaling store unreachable; try again later")
      runFork(Effect.logWarning(`Redis unreachable for ${fenceAfter} ms: closed ${closed} connections (1013)`))
    }),
    // a cheap check, often: the fence must fall well before the lease expires (leaseTtl - fenceAfter)
    Schedule.spaced(50)
  )
  yield* supervised("signaling-server.redis-lease", lease).pipe(Effect.forkScoped)
  yield* supervised("signaling-server.redis-sweep", sweeper).pipe(Effect.forkScoped)
  yield* supervised("signaling-server.redis-fence", fence).pipe(Effect.forkScoped)

  // a graceful stop drops the lease and this server's peers first: they are admitted elsewhere at once
  yield* Effect.addFinalizer(() =>
    Effect.ignore(run("stop", redis.send("DEL", `pp:srv:${state.serverId}`)).pipe(
      Effect.andThen(Effect.ignore(sweepWith(true))),
      // the sockets still closing release nothing more: the sweep removed all of this server's peers
      Effect.andThen(Effect.sync(() => {
        state.stopped = true
      }))
    ))
  )
  return { registry, handle: { state } satisfies RedisClusterHandle }
})

/** node-redis options from ours: bounded queue, command timeout, and our URL or socket. */
export const nodeRedisLayer = (options: RedisClusterOptions) =>
  NodeRedis.layer(
    options.socketPath === undefined
      ? { ...(options.url === undefined ? {} : { url: options.url }), commandsQueueMaxLength: options.maxQueued ?? 10_000 }
      : { socket: { path: options.socketPath, tls: false as const }, commandsQueueMaxLength: options.maxQueued ?? 10_000 }
  )
