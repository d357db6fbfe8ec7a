/**
 * `npm run bench:cluster [peers]`: scale-out over Redis (issue 12), not part of the test suite.
 *
 * Topology: every signaling server runs alone in a child process (bench/server-process.ts),
 * load comes from separate child processes holding `ws` clients (bench/server-load.ts), and
 * the redis-server is the bench's own (a unix socket in a temp dir, so no TCP port at all;
 * `--save '' --appendonly no`; stopped by pid). The servers listen on 127.0.0.1, OS-chosen ports.
 *
 * 1. One server without Redis: N peers (default 10,000) announce over N ms; announce -> first
 *    discovery, and announce -> introduction at an existing peer.
 * 2. Three servers over one Redis, the same N peers dealt round-robin, the same announces:
 *    the same two latencies (the introduction counted only at a peer on another server),
 *    Redis time per call of each script (SLOWLOG at 0 us: every call with its duration, by
 *    script SHA) and in total (INFO commandstats), Redis memory per peer (INFO memory).
 * 3. Relay: pairs of peers on different servers send offers to each other, 16 in flight per
 *    sender; relayed offers/s in aggregate, CPU of each process, Redis time per relay.
 * 4. SIGKILL of one server: when Redis forgot its peers (the dead server swept from
 *    `pp:servers`), when the live peers that knew them were told (`peer-disconnected`), and
 *    when every one of its peers was re-admitted on another server (reconnecting in turn to
 *    the live servers every BENCH_RETRY_MS, as a client behind a load balancer would).
 *
 * Knobs: BENCH_LOAD_PROCS=2, BENCH_RELAY_SECONDS=5, BENCH_RELAY_PAIRS=150, BENCH_RETRY_MS=500,
 * BENCH_CPU_PROF=/tmp/dir (servers write --cpu-prof profiles there; the killed one writes none),
 * BENCH_SERVER_ARGS="--trace-gc" (more node flags for the servers).
 */
import { type ChildProcess, fork } from "node:child_process"
import { createHash, randomBytes } from "node:crypto"
import { availableParallelism, loadavg } from "node:os"
import { fileURLToPath } from "node:url"
import { createClient } from "redis"
import * as S from "../src/server/RedisScripts.ts"
import { startRedis } from "../test/support/redis.ts"
import {
  type AnnounceResult,
  type ConnectResult,
  type CountsResult,
  type FailoverResult,
  type LoadRequest,
  Rpc,
  type ServerReady,
  type ServerRequest,
  type ServerSample,
  type TimelineResult
} from "./server-ipc.ts"
import { machineWindow } from "./server-machine.ts"

const env = (name: string, fallback: number): number => {
  const n = Number(process.env[name] ?? NaN)
  return Number.isFinite(n) ? n : fallback
}
const N = Number(process.argv[2] ?? 10_000)
const LOAD_PROCS = env("BENCH_LOAD_PROCS", 2)
const RELAY_SECONDS = env("BENCH_RELAY_SECONDS", 5)
const RELAY_PAIRS = env("BENCH_RELAY_PAIRS", 150)
const RETRY_MS = env("BENCH_RETRY_MS", 500)
const SPREAD_MS = N // 1,000 announces per second, as bench:server's 10k scenario
const CPU_PROF_DIR = process.env["BENCH_CPU_PROF"]
const SERVER_ARGS = process.env["BENCH_SERVER_ARGS"] ?? ""
const NETWORK = "bench"
const SERVER_SCRIPT = fileURLToPath(new URL("./server-process.ts", import.meta.url))
const LOAD_SCRIPT = fileURLToPath(new URL("./server-load.ts", import.meta.url))

const log = (s: string): void => console.log(s)
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
/** The clock the load processes stamp with (CLOCK_MONOTONIC, shared by every process). */
const mono = (): number => Number(process.hrtime.bigint()) / 1e6
const sum = (xs: ReadonlyArray<number>): number => xs.reduce((a, b) => a + b, 0)
const pct = (xs: ReadonlyArray<number>, p: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!
}
const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : "n/a")
const dist = (xs: ReadonlyArray<number>, unit = "ms"): string =>
  `p50 ${f1(pct(xs, 50))} / p95 ${f1(pct(xs, 95))} / max ${f1(pct(xs, 100))} ${unit} (n=${xs.length})`
const cpuSec = (a: NodeJS.CpuUsage, b: NodeJS.CpuUsage): number => (b.user - a.user + b.system - a.system) / 1e6

// ------------------------------------------------------------------ processes

const children = new Set<ChildProcess>()
/** the redis-server while it runs (started by test/support/redis.ts, stopped there by pid; killed here on a signal) */
let redisPid = 0
const killAll = (): void => {
  if (redisPid !== 0) {
    try {
      process.kill(redisPid, "SIGKILL")
    } catch {
      /* already gone */
    }
  }
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL")
}
const exited = (c: ChildProcess, ms: number): Promise<void> =>
  new Promise((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) return resolve()
    const t = setTimeout(() => {
      c.kill("SIGKILL")
      resolve()
    }, ms)
    c.once("exit", () => {
      clearTimeout(t)
      resolve()
    })
  })

const spawnChild = (script: string, execArgv: Array<string>, name: string, extraEnv: Record<string, string> = {}): ChildProcess => {
  const c = fork(script, [], { execArgv, stdio: ["ignore", "inherit", "inherit", "ipc"], serialization: "advanced", env: { ...process.env, ...extraEnv } })
  children.add(c)
  c.once("exit", (code) => {
    children.delete(c)
    if (code !== 0 && code !== null) console.error(`  [${name}] exited with code ${code}`)
  })
  return c
}

interface Server {
  readonly rpc: Rpc<ServerRequest>
  readonly port: number
}

const startServer = async (name: string, options: object): Promise<Server> => {
  const execArgv = CPU_PROF_DIR === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${CPU_PROF_DIR}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`]
  execArgv.push(...SERVER_ARGS.split(" ").filter((a) => a !== ""))
  const child = spawnChild(SERVER_SCRIPT, execArgv, name, { BENCH_SERVER_OPTIONS: JSON.stringify(options) })
  const port = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${name} did not report ready within 30 s`)), 30_000)
    child.on("message", (m: unknown) => {
      if ((m as ServerReady).type === "ready") {
        clearTimeout(t)
        resolve((m as ServerReady).port)
      }
    })
    child.once("exit", (code) => {
      clearTimeout(t)
      reject(new Error(`${name} exited during start (code ${code})`))
    })
  })
  return { rpc: new Rpc<ServerRequest>(child, name), port }
}
const sample = (s: Server) => s.rpc.call<ServerSample>({ cmd: "sample" }, 10_000)
const stopServer = async (s: Server): Promise<void> => {
  await s.rpc.call({ cmd: "stop" }, 15_000).catch(() => undefined)
  await exited(s.rpc.child, 5_000)
}

/** A server process and its load processes; client g goes to load g % LOAD_PROCS and server g % servers. */
class Deployment {
  readonly loads: ReadonlyArray<Rpc<LoadRequest>>
  readonly servers: Array<Server>
  /** per client: [load process, local index, server index] */
  readonly placement: Array<readonly [number, number, number]> = []

  constructor(servers: Array<Server>) {
    this.servers = servers
    this.loads = Array.from({ length: LOAD_PROCS }, (_, i) => new Rpc<LoadRequest>(spawnChild(LOAD_SCRIPT, [], `load${i}`), `load${i}`))
  }

  async connect(n: number): Promise<number> {
    const P = this.loads.length
    const batches = this.loads.map(() => this.servers.map(() => [] as Array<string>))
    for (let g = 0; g < n; g++) batches[g % P]![g % this.servers.length]!.push(randomBytes(20).toString("hex"))
    // a load process numbers its clients in the order of its connect commands: one server after the other
    const first = batches.map((perServer) => perServer.map((_, s) => sum(perServer.slice(0, s).map((ids) => ids.length))))
    const taken = batches.map((perServer) => perServer.map(() => 0))
    for (let g = 0; g < n; g++) {
      const p = g % P
      const s = g % this.servers.length
      this.placement.push([p, first[p]![s]! + taken[p]![s]!++, s])
    }
    const results = await Promise.all(this.loads.map(async (l, p) => {
      const out: Array<ConnectResult> = []
      for (const [s, ids] of batches[p]!.entries()) {
        out.push(await l.call<ConnectResult>({ cmd: "connect", port: this.servers[s]!.port, peerIds: ids, concurrency: 50, timeoutMs: 15_000 }, 300_000))
      }
      return out
    }))
    const flat = results.flat()
    const connected = sum(flat.map((r) => r.connected))
    if (connected !== n) log(`  close reasons: ${JSON.stringify(flat.map((r) => r.closeReasons))}`)
    return connected
  }

  /** The first client announces alone, the others evenly over `spreadMs`. */
  async announceAll(spreadMs: number): Promise<AnnounceResult> {
    const [seed, ...rest] = this.placement
    await this.loads[seed![0]]!.call({ cmd: "announce", networkName: NETWORK, schedule: [[seed![1], 0]], measure: false, timeoutMs: 5_000 }, 15_000)
    await sleep(100)
    const schedules: Array<Array<readonly [number, number]>> = this.loads.map(() => [])
    const step = spreadMs / Math.max(1, rest.length - 1)
    rest.forEach(([p, local], i) => schedules[p]!.push([local, i * step]))
    const rs = await Promise.all(this.loads.map((l, p) =>
      l.call<AnnounceResult>({ cmd: "announce", networkName: NETWORK, schedule: schedules[p]!, measure: true, timeoutMs: spreadMs + 20_000 }, spreadMs + 30_000)))
    return { latencies: rs.flatMap((r) => [...r.latencies]), sentAt: rs.flatMap((r) => [...r.sentAt]), missing: sum(rs.map((r) => r.missing)), maxLoopLagMs: Math.max(...rs.map((r) => r.maxLoopLagMs)) }
  }

  all<R>(req: Parameters<Rpc<LoadRequest>["call"]>[0], timeoutMs = 30_000): Promise<Array<R>> {
    return Promise.all(this.loads.map((l) => l.call<R>(req, timeoutMs)))
  }

  async counts(): Promise<CountsResult> {
    const rs = await this.all<CountsResult>({ cmd: "counts" })
    return {
      peerDiscovered: sum(rs.map((r) => r.peerDiscovered)),
      relayed: sum(rs.map((r) => r.relayed)),
      errorsFromServer: sum(rs.map((r) => r.errorsFromServer)),
      open: sum(rs.map((r) => r.open)),
      cpu: { user: sum(rs.map((r) => r.cpu.user)), system: sum(rs.map((r) => r.cpu.system)) }
    }
  }

  async shutdown(): Promise<void> {
    await Promise.allSettled(this.loads.map((l) => l.call({ cmd: "close", exit: true }, 20_000)))
    await Promise.allSettled(this.loads.map((l) => exited(l.child, 3_000)))
    await Promise.allSettled(this.servers.map(stopServer))
  }
}

/**
 * From the load processes' timelines: per announcer, its announce time and server; and the
 * latency of every introduction (a peer-discovered about a newcomer at a peer that had
 * announced before it), kept only when `cross` says the two servers differ.
 */
const introductions = (tls: ReadonlyArray<TimelineResult>, serverOf: (port: number) => number, cross: boolean): Array<number> => {
  const announced = new Map<string, readonly [number, number]>()
  for (const t of tls) t.peerIds.forEach((id, i) => announced.set(id, [t.announcedAt[i]!, serverOf(t.ports[i]!)]))
  const out: Array<number> = []
  for (const t of tls) {
    const d = t.discovered
    for (let j = 0; j < d.to.length; j++) {
      const about = announced.get(d.about[j]!)
      const toAt = t.announcedAt[d.to[j]!]!
      if (about === undefined || about[0] < 0 || toAt < 0 || toAt >= about[0]) continue
      if (cross && about[1] === serverOf(t.ports[d.to[j]!]!)) continue
      out.push(d.at[j]! - about[0])
    }
  }
  return out
}

/** Worst latency per tenth of the announce window: a stall or steady queueing. */
const timeline = (r: AnnounceResult, spreadMs: number): string => {
  const worst: Array<number> = []
  r.sentAt.forEach((at, i) => {
    const b = Math.min(9, Math.floor((at / spreadMs) * 10))
    worst[b] = Math.max(worst[b] ?? 0, r.latencies[i] ?? 0)
  })
  return Array.from(worst, (w) => (w === undefined ? "-" : w.toFixed(0))).join(" ")
}

// ------------------------------------------------------------------ table

interface Row {
  readonly figure: string
  readonly value: string
  readonly goal: string
  readonly pass: boolean | undefined
}
const rows: Array<Row> = []
const row = (figure: string, value: string, goal = "", pass?: boolean): void => {
  rows.push({ figure, value, goal, pass })
}
let foreignNotes = 0
const foreign = (w: ReturnType<typeof machineWindow>, ours: number, wall: number): void => {
  const m = w(ours)
  if (m === undefined) return
  const share = (m.foreign + m.steal) / wall
  log(`  machine in window: process CPU ${m.total.toFixed(2)} s, ~${m.foreign.toFixed(2)} s outside the bench, irq ${m.irq.toFixed(2)} s, steal ${m.steal.toFixed(2)} s`)
  if (share > 0.1) {
    foreignNotes++
    log(`  WARNING: other processes used ${(share * 100).toFixed(0)}% of a core during this measurement`)
  }
}

// ------------------------------------------------------------------ scenarios

/** 1. One server, no Redis: the reference the cluster's latencies are held to. */
const single = async (): Promise<{ first: number; intro: number }> => {
  log(`\n## 1. one server without Redis: ${N} peers, announces over ${SPREAD_MS} ms (${LOAD_PROCS} load processes)`)
  const d = new Deployment([await startServer("single", {})])
  try {
    log(`  connected ${await d.connect(N)}/${N}`)
    await d.all({ cmd: "record", on: true })
    const s0 = await sample(d.servers[0]!)
    const r = await d.announceAll(SPREAD_MS)
    await sleep(500)
    const s1 = await sample(d.servers[0]!)
    const tls = await d.all<TimelineResult>({ cmd: "timeline" }, 60_000)
    const intro = introductions(tls, () => 0, false)
    log(`  announce -> first discovery: ${dist(r.latencies)}; missing ${r.missing}`)
    log(`  worst first discovery per tenth of the announce window (ms): ${timeline(r, SPREAD_MS)}`)
    log(`  announce -> introduction at an existing peer: ${dist(intro)}`)
    log(`  server CPU ${cpuSec(s0.cpu, s1.cpu).toFixed(2)} s, event-loop max ${f1(s1.loopLag.max)} ms`)
    row("1 server: announce -> first discovery p95", `${f1(pct(r.latencies, 95))} ms (${r.missing} missing)`, "reference")
    row("1 server: announce -> introduction p95", `${f1(pct(intro, 95))} ms`, "reference")
    return { first: pct(r.latencies, 95), intro: pct(intro, 95) }
  } finally {
    await d.shutdown()
  }
}

/** What the bench asks of its own Redis connection. */
interface RedisClient {
  readonly sendCommand: (args: Array<string>) => Promise<unknown>
}

const info = async (redis: RedisClient, section: string): Promise<Map<string, string>> => {
  const text = String(await redis.sendCommand(["INFO", section]))
  return new Map(text.split("\r\n").filter((l) => l.includes(":")).map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1)] as const))
}
const evalshaStats = async (redis: RedisClient): Promise<{ calls: number; usec: number }> => {
  const v = (await info(redis, "commandstats")).get("cmdstat_evalsha") ?? ""
  return { calls: Number(/calls=(\d+)/.exec(v)?.[1] ?? 0), usec: Number(/usec=(\d+)/.exec(v)?.[1] ?? 0) }
}
const redisCpu = async (redis: RedisClient): Promise<number> => {
  const m = await info(redis, "cpu")
  return Number(m.get("used_cpu_user")) + Number(m.get("used_cpu_sys"))
}

const scripts: Record<string, string> = Object.fromEntries(
  Object.entries(S).filter(([, v]) => typeof v === "object" && v !== null && "lua" in v).map(([name, v]) => [
    createHash("sha1").update((v as { lua: string }).lua).digest("hex"),
    name
  ])
)

interface CallStats {
  calls: number
  usec: number
  /** relays carried (relayMany: its target/item pairs) */
  items: number
}

/**
 * Every call logged since `slowlogOn` (SLOWLOG at 0 us logs each command with its duration),
 * then logging is off again: scripts by name (EVALSHA by SHA), and apart from them the
 * commands the scripts ran inside (Redis 7 logs those too).
 */
const slowlogByScript = async (redis: RedisClient): Promise<{ scripts: Map<string, CallStats>; inner: Map<string, CallStats> }> => {
  await redis.sendCommand(["CONFIG", "SET", "slowlog-log-slower-than", "10000"])
  const entries = (await redis.sendCommand(["SLOWLOG", "GET", "-1"])) as unknown as Array<[number, number, number, Array<string>]>
  await redis.sendCommand(["SLOWLOG", "RESET"])
  const scriptStats = new Map<string, CallStats>()
  const inner = new Map<string, CallStats>()
  for (const [, , usec, args] of entries) {
    const command = String(args[0]).toUpperCase()
    const isScript = command === "EVALSHA"
    const name = isScript ? (scripts[String(args[1])] ?? `script ${String(args[1]).slice(0, 8)}`) : command
    const into = isScript ? scriptStats : inner
    const s = into.get(name) ?? { calls: 0, usec: 0, items: 0 }
    s.calls++
    s.usec += Number(usec)
    if (name === "relayMany") {
      // SLOWLOG keeps 32 arguments, the last one then saying "... (n more arguments)"
      const more = /^\.\.\. \((\d+) more arguments\)$/.exec(String(args[args.length - 1]))
      const total = more === null ? args.length : args.length - 1 + Number(more[1])
      s.items += (total - 5) / 2
    }
    into.set(name, s)
  }
  return { scripts: scriptStats, inner }
}
const slowlogOn = async (redis: RedisClient, maxLen: number): Promise<void> => {
  await redis.sendCommand(["CONFIG", "SET", "slowlog-max-len", String(maxLen)])
  await redis.sendCommand(["SLOWLOG", "RESET"])
  await redis.sendCommand(["CONFIG", "SET", "slowlog-log-slower-than", "0"])
}
const perScript = (m: Map<string, CallStats>): string =>
  [...m].sort((a, b) => b[1].usec - a[1].usec).map(([k, v]) => `${k} ${v.calls} x ${f1(v.usec / v.calls)} us`).join(", ")
const logSlowlog = (what: string, r: { scripts: Map<string, CallStats>; inner: Map<string, CallStats> }): void => {
  log(`  Redis per script, ${what} (SLOWLOG): ${perScript(r.scripts)}`)
  log(`    commands inside them: ${perScript(r.inner)}`)
}

const cluster = async (ref: { first: number; intro: number }): Promise<void> => {
  log(`\n## 2. three servers over one Redis: the same ${N} peers round-robin, the same announces`)
  const redisServer = await startRedis()
  redisPid = redisServer.pid()
  const redis = createClient({ socket: { path: redisServer.socket, tls: false as const } })
  redis.on("error", () => undefined)
  await redis.connect()
  const d = new Deployment(await Promise.all([0, 1, 2].map((i) => startServer(`server${i}`, { redisSocket: redisServer.socket }))))
  const serverOf = (port: number) => d.servers.findIndex((s) => s.port === port)
  try {
    const mem0 = Number((await info(redis, "memory")).get("used_memory"))
    log(`  connected ${await d.connect(N)}/${N}`)
    await d.all({ cmd: "record", on: true })
    await redis.sendCommand(["CONFIG", "RESETSTAT"])
    const s0 = await Promise.all(d.servers.map(sample))
    const c0 = await d.counts()
    const cpu0 = await redisCpu(redis)
    const w = machineWindow()
    const t0 = mono()
    // two windows late in the announce phase: INFO commandstats over 60-75 % of the peers in
    // (Redis time per announce, its introductions included: EVALSHA time / ZADD calls, one per
    // announce), then SLOWLOG over 80-90 % (time per script; logging every command inflates it)
    const at = (fraction: number) => sleep(Math.max(0, 100 + fraction * SPREAD_MS - (mono() - t0)))
    const windows = (async () => {
      await at(0.6)
      await redis.sendCommand(["CONFIG", "RESETSTAT"])
      await at(0.75)
      const stats = await info(redis, "commandstats")
      await at(0.8)
      await slowlogOn(redis, 400_000)
      await at(0.9)
      return { stats, slowlog: await slowlogByScript(redis) }
    })()
    const r = await d.announceAll(SPREAD_MS)
    const { stats: windowStats, slowlog: byScript } = await windows
    await sleep(500)
    const wall = (mono() - t0) / 1000
    const s1 = await Promise.all(d.servers.map(sample))
    const c1 = await d.counts()
    const redisSec = (await redisCpu(redis)) - cpu0
    const tls = await d.all<TimelineResult>({ cmd: "timeline" }, 60_000)
    const intro = introductions(tls, serverOf, true)
    const serverSec = d.servers.map((_, i) => cpuSec(s0[i]!.cpu, s1[i]!.cpu))
    log(`  announce -> first discovery: ${dist(r.latencies)}; missing ${r.missing}`)
    log(`  worst first discovery per tenth of the announce window (ms): ${timeline(r, SPREAD_MS)}`)
    log(`  announce -> introduction at a peer on another server: ${dist(intro)}`)
    log(`  CPU over ${wall.toFixed(1)} s: servers ${serverSec.map((x) => x.toFixed(2)).join(" / ")} s, Redis ${redisSec.toFixed(2)} s, load ${cpuSec(c0.cpu, c1.cpu).toFixed(2)} s; server event-loop max ${s1.map((s) => f1(s.loopLag.max)).join(" / ")} ms`)
    foreign(w, sum(serverSec) + redisSec + cpuSec(c0.cpu, c1.cpu), wall)
    const calls = (name: string) => Number(/calls=(\d+)/.exec(windowStats.get(`cmdstat_${name}`) ?? "")?.[1] ?? NaN)
    const usec = (name: string) => Number(/usec=(\d+)/.exec(windowStats.get(`cmdstat_${name}`) ?? "")?.[1] ?? NaN)
    const announceUs = usec("evalsha") / calls("zadd")
    log(`  Redis, ${Math.round(0.6 * N)}-${Math.round(0.75 * N)} peers in (INFO commandstats): ${calls("zadd")} announces, ${calls("evalsha")} script calls, ${f1(announceUs)} us per announce (its introductions included)`)
    logSlowlog(`${Math.round(0.8 * N)}-${Math.round(0.9 * N)} peers in`, byScript)
    const one = (name: string) => (byScript.scripts.get(name)?.usec ?? NaN) / (byScript.scripts.get(name)?.calls ?? NaN)
    await sleep(200)
    const mem1 = Number((await info(redis, "memory")).get("used_memory"))
    const memPerPeer = (mem1 - mem0) / N
    log(`  Redis used_memory ${((mem1 - mem0) / 1048576).toFixed(2)} MB more after ${N} peers connected and announced: ${(memPerPeer / 1024).toFixed(2)} KB per peer`)
    const firstP95 = pct(r.latencies, 95)
    const introP95 = pct(intro, 95)
    row("3 servers: announce -> first discovery p95", `${f1(firstP95)} ms (${r.missing} missing); ${f1(firstP95 / ref.first)}x one server`, "< 50 ms and <= 3x", firstP95 < 50 && firstP95 <= 3 * ref.first && r.missing === 0)
    row("3 servers: announce -> introduction at a peer on another server p95", `${f1(introP95)} ms (n=${intro.length}); ${f1(introP95 / ref.intro)}x one server`, "< 50 ms and <= 3x", introP95 < 50 && introP95 <= 3 * ref.intro)
    row("Redis time per announce, its introductions included (commandstats)", `${f1(announceUs)} us (SLOWLOG: announce ${f1(one("announce"))} + sendMany ${f1(one("sendMany"))} us)`, "<= 300 us", announceUs <= 300)
    row("Redis memory per peer (used_memory)", `${(memPerPeer / 1024).toFixed(2)} KB`, "<= 1 KB", memPerPeer <= 1024)

    await relay(d, redis)
    await kill(d, redis)
  } finally {
    await d.shutdown()
    await redis.close().catch(() => undefined)
    await redisServer.stop()
    redisPid = 0
  }
}

/** 3. Pairs on different servers, inside each load process, both directions, 16 offers in flight per sender. */
const relay = async (d: Deployment, redis: RedisClient): Promise<void> => {
  log(`\n## 3. relay: ${RELAY_PAIRS} pairs of peers on different servers, both directions, 16 in flight per sender, ${RELAY_SECONDS} s after 1 s warm-up`)
  const perLoad = d.loads.map(() => d.servers.map(() => [] as Array<number>))
  for (const [p, local, s] of d.placement) perLoad[p]![s]!.push(local)
  const pairs = d.loads.map(() => [] as Array<readonly [number, number]>)
  for (let i = 0; i < RELAY_PAIRS; i++) {
    const p = i % d.loads.length
    const s = Math.floor(i / d.loads.length) % 3
    const k = Math.floor(i / (3 * d.loads.length))
    // senders take even positions, receivers odd ones: no client is in two pairs
    pairs[p]!.push([perLoad[p]![s]![2 * k]!, perLoad[p]![(s + 1) % 3]![2 * k + 1]!])
  }
  await Promise.all(d.loads.map((l, p) => l.call({ cmd: "relayStart", pairs: pairs[p]!, window: 16, sdpBytes: 200 }, 10_000)))
  await sleep(1000)
  const [s0, c0, e0, cpu0] = await Promise.all([Promise.all(d.servers.map(sample)), d.counts(), evalshaStats(redis), redisCpu(redis)])
  const w = machineWindow()
  await sleep(RELAY_SECONDS * 1000)
  const [s1, c1, e1, cpu1] = await Promise.all([Promise.all(d.servers.map(sample)), d.counts(), evalshaStats(redis), redisCpu(redis)])
  // then one more second with every call logged (SLOWLOG), for the time per script
  await slowlogOn(redis, 200_000)
  await sleep(1000)
  const byScript = await slowlogByScript(redis)
  await d.all({ cmd: "relayStop" })
  const wall = (s1[0]!.at - s0[0]!.at) / 1000
  const relayed = c1.relayed - c0.relayed
  const serverSec = d.servers.map((_, i) => cpuSec(s0[i]!.cpu, s1[i]!.cpu))
  const loadSec = cpuSec(c0.cpu, c1.cpu)
  log(`  relayed ${relayed} offers in ${wall.toFixed(2)} s = ${Math.round(relayed / wall)} /s; error frames ${c1.errorsFromServer - c0.errorsFromServer}`)
  log(`  CPU: servers ${serverSec.map((x) => `${((x / wall) * 100).toFixed(0)}%`).join(" / ")}, Redis ${(((cpu1 - cpu0) / wall) * 100).toFixed(0)}%, load ${((loadSec / wall) * 100).toFixed(0)}% of a core`)
  log(`  server CPU per relay ${f1((sum(serverSec) / relayed) * 1e6)} us (both servers of a relay together)`)
  foreign(w, sum(serverSec) + (cpu1 - cpu0) + loadSec, wall)
  logSlowlog("one more second", byScript)
  const many = byScript.scripts.get("relayMany")
  const relayUs = (many?.usec ?? NaN) / (many?.items ?? NaN)
  log(`  relays coalesced: ${many?.items ?? 0} relays in ${many?.calls ?? 0} relayMany calls (${f1((many?.items ?? NaN) / (many?.calls ?? NaN))} per call), ${f1(relayUs)} us of Redis time per relay`)
  const perRelay = (e1.usec - e0.usec) / relayed
  log(`  Redis EVALSHA in the window (INFO commandstats): ${e1.calls - e0.calls} calls, ${f1((e1.usec - e0.usec) / (e1.calls - e0.calls))} us per call, ${f1(perRelay)} us per relay delivered`)
  row("relayed offers/s across servers, aggregate", `${Math.round(relayed / wall)} (${c1.errorsFromServer - c0.errorsFromServer} errors)`, ">= 30000", relayed / wall >= 30_000)
  row("Redis time per relay (commandstats: script time / relays delivered)", `${f1(perRelay)} us (SLOWLOG: ${f1(relayUs)} us, ${f1((many?.items ?? NaN) / (many?.calls ?? NaN))} relays per call)`, "<= 10 us", perRelay <= 10)
  await sleep(500)
}

/** 4. SIGKILL of server 1: forgotten (Redis, then everyone told), re-admitted on servers 0 and 2. */
const kill = async (d: Deployment, redis: RedisClient): Promise<void> => {
  const dead = d.servers[1]!
  const deadCount = d.placement.filter(([, , s]) => s === 1).length
  log(`\n## 4. SIGKILL of one server holding ${deadCount} peers; they reconnect to the two others (an attempt every ${RETRY_MS} ms +-20 %)`)
  await d.all({ cmd: "timeline" }, 60_000) // drop what was recorded so far
  const live = [d.servers[0]!.port, d.servers[2]!.port]
  await d.all({ cmd: "failoverArm", deadPort: dead.port, ports: live, networkName: NETWORK, retryMs: RETRY_MS, timeoutMs: 30_000 })
  const deadIds = new Set<string>()
  for (const t of await d.all<TimelineResult>({ cmd: "timeline" })) t.peerIds.forEach((id, i) => t.ports[i] === dead.port && deadIds.add(id))
  const killedAt = mono()
  dead.rpc.child.kill("SIGKILL")
  await exited(dead.rpc.child, 5_000)
  let sweptAt = NaN
  while (mono() - killedAt < 20_000) {
    if (Number(await redis.sendCommand(["SCARD", "pp:servers"])) === 2) {
      sweptAt = mono()
      break
    }
    await sleep(10)
  }
  const results = await d.all<FailoverResult>({ cmd: "failoverResult" }, 60_000)
  await sleep(1000)
  const tls = await d.all<TimelineResult>({ cmd: "timeline" }, 60_000)
  const told: Array<number> = []
  for (const t of tls) {
    const g = t.disconnected
    for (let j = 0; j < g.to.length; j++) if (deadIds.has(g.about[j]!) && !deadIds.has(t.peerIds[g.to[j]!]!)) told.push(g.at[j]! - killedAt)
  }
  const back = results.flatMap((r) => r.readmittedAt.filter((x) => x >= 0).map((x) => x - killedAt))
  const closed = results.flatMap((r) => r.closedAt.map((x) => x - killedAt))
  log(`  its sockets seen closed: ${dist(closed)}`)
  log(`  swept from Redis (pp:servers) ${f1(sweptAt - killedAt)} ms after the kill`)
  log(`  peer-disconnected at live peers about its peers: ${dist(told)}`)
  log(`  re-admitted (re-announced, first discovery) on another server: ${back.length}/${deadCount}, ${dist(back)}; ${sum(results.map((r) => r.attempts))} attempts, ${sum(results.map((r) => r.refused))} refused while its lease ran`)
  const forgotten = Math.max(sweptAt - killedAt, pct(told, 100))
  row("killed server: its peers forgotten (swept, everyone told; max)", `${f1(forgotten / 1000)} s (${told.length} notices)`, "< 5 s", forgotten < 5000 && told.length > 0)
  row("killed server: its peers re-admitted elsewhere (max)", `${f1(pct(back, 100) / 1000)} s (${back.length}/${deadCount}; p95 ${f1(pct(back, 95) / 1000)} s)`, "< 10 s", back.length === deadCount && pct(back, 100) < 10_000)
}

// ------------------------------------------------------------------ main

const BEYOND = `Beyond one Redis (nothing measured): one Redis serves every network here. Redis Cluster keeps
each network's keys in one slot through the {network} hash tag, so announce, leave and relay stay
single-slot scripts; the per-server inboxes move to sharded pub/sub (SSUBSCRIBE/SPUBLISH), since a
classic PUBLISH is copied to every node; the owner hash and pp:seq become per-slot keys, and the
introductions are published from Node instead of inside the scripts. A network too large for one
slot splits by id prefix ({network:3a}), since XOR-closest answers stay inside the target's prefix.`

const main = async (): Promise<void> => {
  const t0 = mono()
  log(`# bench:cluster: ${N} peers, ${LOAD_PROCS} load processes, node ${process.version}, ${availableParallelism()} cores, load average ${loadavg().map((x) => x.toFixed(2)).join(" ")}`)
  const ref = await single()
  await cluster(ref)
  log(`\n| figure (${N} peers, one network) | value | goal | |`)
  log("| --- | --- | --- | --- |")
  for (const r of rows) log(`| ${r.figure} | ${r.value} | ${r.goal} | ${r.pass === undefined ? "" : r.pass ? "PASS" : "FAIL"} |`)
  log(`\n${BEYOND}`)
  if (foreignNotes > 0) log(`\nWARNING: ${foreignNotes} measurement(s) ran while other processes loaded the machine.`)
  log(`\nbench took ${((mono() - t0) / 1000).toFixed(1)} s`)
}

const watchdog = setTimeout(() => {
  console.error("bench:cluster watchdog: 12 minutes elapsed, killing children")
  killAll()
  process.exit(2)
}, 12 * 60_000)
watchdog.unref()
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    killAll()
    process.exit(130)
  })
}
try {
  await main()
} catch (err) {
  console.error(err)
  process.exitCode = 1
} finally {
  killAll()
}
