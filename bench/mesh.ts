/**
 * Mesh benchmark: `npm run bench:mesh` (not part of the test suite). Prints markdown tables.
 *
 * Each scenario runs in its own child process (started with --expose-gc, so memory is
 * measured after a full GC), bounded by a hard timeout; a child reports figures as it goes,
 * so a scenario that times out still prints what it measured.
 *
 *   A. real werift peers in one process, a real PeerPigeonServer on 127.0.0.1 port 0
 *      (bench/mesh-webrtc.ts): formation, broadcast and direct delivery and latency, memory
 *      per peer at N = 10 and 20; 1 KB messages/s over one link; binary data (16 KiB and
 *      1 MiB messages over one link, a 100 MiB stream over two hops: bench/mesh-binary.ts).
 *   B. MemoryNetwork simulations (bench/mesh-memory.ts): 1000 nodes with 5% loss and 10%
 *      churn, and 10,000 nodes without.
 *
 * Environment knobs (all optional):
 *   BENCH_ONLY=a10,a20,a20fix,m5,m25,link,link1p,bin16k,bin1m,stream100,b1000,b10000   run only these
 *   BENCH_MAXPEERS=3 BENCH_MINPEERS=2                    link bounds of scenario A
 *   BENCH_CPU_PROF=/tmp/dir                              children run with --cpu-prof into that directory
 *   BENCH_BUDGET_S=690                                   optional scenarios are skipped past this many seconds
 */
import { type ChildProcess, execSync, fork } from "node:child_process"
import { cpus, loadavg, totalmem } from "node:os"
import { fileURLToPath } from "node:url"
import type { ChildMessage, Figure } from "./mesh-common.ts"

const WEBRTC = fileURLToPath(new URL("./mesh-webrtc.ts", import.meta.url))
const MEMORY = fileURLToPath(new URL("./mesh-memory.ts", import.meta.url))
const BINARY = fileURLToPath(new URL("./mesh-binary.ts", import.meta.url))
const ONLY = process.env["BENCH_ONLY"] === undefined ? undefined : new Set(process.env["BENCH_ONLY"].split(",").map((s) => s.trim()))
const MAX_PEERS = Number(process.env["BENCH_MAXPEERS"] ?? 3)
const MIN_PEERS = Number(process.env["BENCH_MINPEERS"] ?? 2)
const CPU_PROF = process.env["BENCH_CPU_PROF"]
const BUDGET_S = Number(process.env["BENCH_BUDGET_S"] ?? 690)
const started = Date.now()
const elapsed = () => (Date.now() - started) / 1000

interface Scenario {
  readonly id: string
  readonly title: string
  readonly script: string
  readonly args: ReadonlyArray<string>
  readonly execArgv?: ReadonlyArray<string>
  readonly timeoutS: number
  /** Skipped when the run is already past the budget. */
  readonly optional?: boolean
}

interface Outcome {
  readonly figures: Map<string, Figure>
  status: string
  seconds: number
}

/**
 * V8 grows its young generation under load (semi-spaces of 1 MB up to 16 MB or more), once
 * per process: tens of MB of RSS that would otherwise be divided among N peers as if each
 * peer used them. Pinned at 16 MB, as in the server benchmark, the memory rows count what the
 * peers themselves hold. (Unpinned, N = 20 read 5.5 MB per peer where pinned read 1.3 MB.)
 */
const PINNED_YOUNG_GENERATION = ["--min-semi-space-size=16", "--max-semi-space-size=16"]

const scenarios: ReadonlyArray<Scenario> = [
  { id: "a10", title: `A. werift, N = 10 (maxPeers ${MAX_PEERS}, minPeers ${MIN_PEERS})`, script: WEBRTC, args: ["--mode=mesh", "--n=10", `--maxPeers=${MAX_PEERS}`, `--minPeers=${MIN_PEERS}`], execArgv: PINNED_YOUNG_GENERATION, timeoutS: 150 },
  { id: "a20", title: `A. werift, N = 20 (maxPeers ${MAX_PEERS}, minPeers ${MIN_PEERS})`, script: WEBRTC, args: ["--mode=mesh", "--n=20", `--maxPeers=${MAX_PEERS}`, `--minPeers=${MIN_PEERS}`], execArgv: PINNED_YOUNG_GENERATION, timeoutS: 180 },
  { id: "link", title: "A. werift, 1 KB direct messages over one link (receiver in its own process)", script: WEBRTC, args: ["--mode=link", "--split=1", "--seconds=3"], timeoutS: 60 },
  { id: "bin16k", title: "A. werift, 16 KiB binary messages over one link (both peers in one process)", script: BINARY, args: ["--mode=binary", "--size=16384", "--seconds=3"], timeoutS: 60 },
  { id: "bin1m", title: "A. werift, 1 MiB binary messages over one link (both peers in one process)", script: BINARY, args: ["--mode=binary", "--size=1048576", "--seconds=3"], timeoutS: 60 },
  { id: "stream100", title: "A. werift, a 100 MiB stream over two hops (all peers in one process)", script: BINARY, args: ["--mode=stream", "--mib=100", "--warmup=30"], timeoutS: 240 },
  { id: "b1000", title: "B. MemoryNetwork, N = 1000, 5% loss, 10% churn", script: MEMORY, args: ["--n=1000", "--loss=0.05", "--churn=0.1", "--messages=100", "--gap=200", "--formationTimeout=30000", "--drainTimeout=60000"], timeoutS: 300 },
  { id: "b10000", title: "B. MemoryNetwork, N = 10,000, no loss, no churn", script: MEMORY, args: ["--n=10000", "--messages=20", "--gap=1000", "--formationTimeout=60000", "--drainTimeout=240000", "--startBudget=600000", "--teardownTimeout=30000", "--optimizeInterval=10000", "--repairInterval=5000"], execArgv: ["--max-old-space-size=12288"], timeoutS: 1300 },
  { id: "link1p", title: "A. werift, 1 KB direct messages over one link (both peers in one process)", script: WEBRTC, args: ["--mode=link", "--split=0", "--seconds=3"], timeoutS: 60, optional: true },
  { id: "a20fix", title: `A. werift, N = 20, with the werift STUN workaround (bench-side platform)`, script: WEBRTC, args: ["--mode=mesh", "--n=20", `--maxPeers=${MAX_PEERS}`, `--minPeers=${MIN_PEERS}`, "--weriftFix=1"], timeoutS: 150, optional: true },
  // memory per peer as a slope between two sizes, each in a fresh process, young generation not pinned
  { id: "m5", title: "A. werift, N = 5, for the memory slope (young generation not pinned)", script: WEBRTC, args: ["--mode=mesh", "--n=5", `--maxPeers=${MAX_PEERS}`, `--minPeers=${MIN_PEERS}`], timeoutS: 120, optional: true },
  { id: "m25", title: "A. werift, N = 25, for the memory slope (young generation not pinned)", script: WEBRTC, args: ["--mode=mesh", "--n=25", `--maxPeers=${MAX_PEERS}`, `--minPeers=${MIN_PEERS}`], timeoutS: 240, optional: true }
]

// ------------------------------------------------------------------------------ running

const children = new Set<ChildProcess>()
process.on("exit", () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL")
})

const run = (s: Scenario): Promise<Outcome> =>
  new Promise((resolve) => {
    const outcome: Outcome = { figures: new Map(), status: "ok", seconds: 0 }
    const t0 = Date.now()
    const execArgv = ["--expose-gc", ...(s.execArgv ?? []), ...(CPU_PROF !== undefined ? ["--cpu-prof", `--cpu-prof-dir=${CPU_PROF}`] : [])]
    const child = fork(s.script, [...s.args], { execArgv, stdio: ["ignore", "inherit", "inherit", "ipc"] })
    children.add(child)
    let finished = false
    let exitTimer: NodeJS.Timeout | undefined
    child.on("message", (m: ChildMessage) => {
      if (m.kind === "figure") outcome.figures.set(m.key, m.value)
      else if (m.kind === "log") console.error(`  [${s.id}] ${m.text}`)
      else if (m.kind === "done") {
        finished = true
        // it must now exit by itself: nothing of the library may keep it alive
        exitTimer = setTimeout(() => {
          outcome.status = "did not exit by itself within 20 s of its last figure (killed)"
          child.kill("SIGKILL")
        }, 20_000)
      }
    })
    const hard = setTimeout(() => {
      outcome.status = `TIMEOUT after ${s.timeoutS} s (killed; partial figures)`
      child.kill("SIGKILL")
    }, s.timeoutS * 1000)
    child.on("exit", (code, signal) => {
      clearTimeout(hard)
      if (exitTimer !== undefined) clearTimeout(exitTimer)
      children.delete(child)
      if (outcome.status === "ok" && !finished) outcome.status = `exited early (code ${code}, signal ${signal})`
      else if (outcome.status === "ok" && code !== 0) outcome.status = `exit code ${code}`
      outcome.seconds = (Date.now() - t0) / 1000
      resolve(outcome)
    })
  })

// ------------------------------------------------------------------------------ formatting

const num = (v: Figure | undefined, digits = 0): string => {
  if (v === undefined) return "—"
  if (v === null) return "not reached"
  if (typeof v === "string") return v
  return v.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })
}
const pct = (v: Figure | undefined): string => (typeof v === "number" ? `${(v * 100).toFixed(2)}%` : num(v))
const ms = (v: Figure | undefined): string => (typeof v === "number" ? `${num(v)} ms` : num(v))
const secs = (v: Figure | undefined, digits = 1): string => (typeof v === "number" ? `${num(v, digits)} s` : num(v))
const mb = (v: Figure | undefined): string => (typeof v === "number" ? `${v.toFixed(2)} MB` : num(v))

const isNumber = (v: Figure | undefined): v is number => typeof v === "number"

const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string =>
  [
    `| ${header.join(" | ")} |`,
    `| ${header.map(() => "---").join(" | ")} |`,
    ...rows.map((r) => `| ${r.map((c) => c.replaceAll("|", "/")).join(" | ")} |`)
  ].join("\n")

const rawTable = (s: Scenario, o: Outcome) =>
  `### ${s.title}\n\nstatus: ${o.status}; ${o.seconds.toFixed(1)} s\n\n` +
  table(["figure", "value"], [...o.figures].map(([k, v]) => [k, typeof v === "number" ? num(v, Number.isInteger(v) ? 0 : 3) : num(v)]))

// ------------------------------------------------------------------------------ main

const load = () => loadavg().map((l) => l.toFixed(2)).join(", ")
console.log(`# peerpigeon mesh benchmark\n`)
console.log(`${new Date().toISOString()}; Node ${process.version}; ${cpus().length} CPUs (${cpus()[0]?.model ?? "?"}); ${(totalmem() / 2 ** 30).toFixed(0)} GB RAM`)
const git = (args: string) => {
  try {
    return execSync(`git ${args}`, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim()
  } catch {
    return "?"
  }
}
const dirty = git("status --porcelain src").split("\n").filter((l) => l.trim() !== "").length
console.log(`code: commit ${git("rev-parse --short HEAD")}${dirty > 0 ? ` with ${dirty} uncommitted change(s) under src/` : ""} (each child loads src/ when it starts)`)
console.log(`load average at start (1, 5, 15 min): ${load()} — other jobs share this machine; figures are wall-clock under that load\n`)

const results = new Map<string, Outcome>()
for (const s of scenarios) {
  if (ONLY !== undefined && !ONLY.has(s.id)) continue
  if (s.optional === true && elapsed() > BUDGET_S) {
    console.log(`### ${s.title}\n\nskipped: the run is past its ${BUDGET_S} s budget\n`)
    continue
  }
  console.error(`[${elapsed().toFixed(0)} s] ${s.title} (load ${load()})`)
  const o = await run(s)
  results.set(s.id, o)
  console.log(rawTable(s, o) + `\n\nload average after: ${load()}\n`)
}

const f = (id: string, key: string): Figure | undefined => results.get(id)?.figures.get(key)
const has = (id: string) => results.has(id)

// ---- A tables
const aIds = ["a10", "a20", "a20fix"].filter(has)
if (aIds.length > 0) {
  const names: Record<string, string> = { a10: "N = 10", a20: "N = 20", a20fix: "N = 20, werift STUN workaround" }
  console.log(`## A. Real werift peers, one process, real server (maxPeers ${MAX_PEERS}, minPeers ${MIN_PEERS}, other options default)\n`)
  const row = (label: string, g: (id: string) => string) => [label, ...aIds.map(g)]
  console.log(table(["figure", ...aIds.map((id) => names[id]!)], [
    row("formation: connect() -> all degrees in bounds and graph connected", (id) => ms(f(id, "formation_ms"))),
    row("degrees at formation (degree:peers)", (id) => num(f(id, "formation_degrees"))),
    row("broadcast delivered / expected (500 msgs, each to N-1)", (id) => `${num(f(id, "broadcast_delivered"))} / ${num(f(id, "broadcast_expected"))} = ${pct(f(id, "broadcast_ratio"))}`),
    row("broadcast send rate achieved (target 100/s)", (id) => `${num(f(id, "broadcast_rate"))} msg/s`),
    row("broadcast latency p50 / p99 / max", (id) => `${ms(f(id, "broadcast_p50_ms"))} / ${ms(f(id, "broadcast_p99_ms"))} / ${ms(f(id, "broadcast_max_ms"))}`),
    row("broadcast hops mean / max; duplicates at the app", (id) => `${num(f(id, "broadcast_hops_mean"), 2)} / ${num(f(id, "broadcast_hops_max"))}; ${num(f(id, "broadcast_duplicates"))}`),
    row("direct delivered / sent (random pairs)", (id) => `${num(f(id, "direct_delivered"))} / ${num(f(id, "direct_sent"))} = ${pct(f(id, "direct_ratio"))}`),
    row("direct latency p50 / p99; hops mean / max", (id) => `${ms(f(id, "direct_p50_ms"))} / ${ms(f(id, "direct_p99_ms"))}; ${num(f(id, "direct_hops_mean"), 2)} / ${num(f(id, "direct_hops_max"))}`),
    row("link changes during traffic (connects, disconnects, evictions)", (id) => num(f(id, "link_changes_during_traffic"))),
    row("memory per peer after formation: RSS / heap", (id) => `${mb(f(id, "mem_rss_per_peer_mb"))} / ${mb(f(id, "mem_heap_per_peer_mb"))}`),
    row("memory per peer after traffic: RSS / heap", (id) => `${mb(f(id, "mem_rss_per_peer_after_traffic_mb"))} / ${mb(f(id, "mem_heap_per_peer_after_traffic_mb"))}`),
    row("event-loop delay: formation / broadcast", (id) => `${num(f(id, "formation_loop_delay"))} / ${num(f(id, "broadcast_loop_delay"))}`),
    row("teardown (disconnect all)", (id) => ms(f(id, "teardown_ms"))),
    row("status", (id) => `${results.get(id)!.status} (${results.get(id)!.seconds.toFixed(0)} s)`)
  ]))
  console.log(`\nMemory: process RSS and V8 heapUsed growth after a full GC (--expose-gc), divided by N; the baseline is taken after a 2-peer warm-up, with the server already running; V8's young generation is pinned at 16 MB (--min/max-semi-space-size), so its one-off growth under load is not divided among the peers.\n`)
}
const linkIds = ["link", "link1p"].filter(has)
if (linkIds.length > 0) {
  console.log(`## A. Throughput of 1 KB messages over one link (sendDirectMessage to the neighbour, ~3 s after 0.5 s warm-up)\n`)
  console.log(table(["setup", "received msg/s", "MB/s", "offered msg/s", "all arrived", "status"], linkIds.map((id) => {
    const p = id === "link" ? "link" : "link1p"
    return [
      id === "link" ? "sender and receiver in separate processes" : "both peers in one process",
      num(f(id, `${p}_msgs_per_s`)),
      num(f(id, `${p}_mbytes_per_s`), 2),
      num(f(id, `${p}_sent_per_s`)),
      num(f(id, `${p}_all_received`)),
      results.get(id)!.status
    ]
  })))
  console.log("")
}
const binIds = ["bin16k", "bin1m"].filter(has)
if (binIds.length > 0 || has("stream100")) {
  console.log(`## A. Binary data over werift (every peer in one process)\n`)
  const rows: Array<Array<string>> = binIds.map((id) => [
    `sendBinaryData, ${id === "bin16k" ? "16 KiB" : "1 MiB"} messages, one link (~3 s after 0.5 s warm-up)`,
    `${num(f(id, `${id}_mb_per_s`), 1)} MB/s`,
    `all arrived: ${num(f(id, `${id}_all_arrived`))}`,
    results.get(id)!.status
  ])
  if (has("stream100")) {
    rows.push([
      "a 100 MiB stream, a -> b -> c (after a 30 MiB warm-up stream)",
      `${secs(f("stream100", "stream_seconds"))}, ${num(f("stream100", "stream_mb_per_s"), 1)} MB/s, intact: ${num(f("stream100", "stream_intact"))}`,
      `peak RSS +${num(f("stream100", "stream_peak_rss_growth_mb"))} MB (+${num(f("stream100", "stream_peak_rss_beyond_warmup_mb"))} MB beyond the warm-up's peak); after GC heap +${num(f("stream100", "stream_heap_growth_after_gc_mb"), 1)} MB`,
      results.get("stream100")!.status
    ])
  }
  console.log(table(["figure", "throughput", "detail", "status"], rows))
  console.log("")
}
if (has("m5") && has("m25")) {
  // (RSS(25) - RSS(5)) / 20: what one more peer costs, without the per-process share
  const slope = (key: string) => {
    const a = f("m5", key)
    const b = f("m25", key)
    return typeof a === "number" && typeof b === "number" ? (b * 25 - a * 5) / 20 : null
  }
  console.log("### Memory per werift peer as a slope (RSS at N = 25 minus RSS at N = 5, over 20; unpinned)\n")
  console.log(table(["figure", "MB per peer", "status"], [
    ["after formation", num(slope("mem_rss_per_peer_mb"), 2), `${results.get("m5")!.status} / ${results.get("m25")!.status}`],
    ["after the broadcast and direct traffic", num(slope("mem_rss_per_peer_after_traffic_mb"), 2), ""]
  ]))
  console.log("")
}
const bIds = ["b1000", "b10000"].filter(has)
if (bIds.length > 0) {
  const names: Record<string, string> = { b1000: "N = 1000, 5% loss, 10% churn", b10000: "N = 10,000" }
  console.log(`## B. MemoryNetwork simulation (one process; options in the rows below)\n`)
  const row = (label: string, g: (id: string) => string) => [label, ...bIds.map(g)]
  console.log(table(["figure", ...bIds.map((id) => names[id]!)], [
    row("options", (id) => num(f(id, "options"))),
    row("nodes started; time to start them", (id) => `${num(f(id, "nodes_started"))}; ${secs(f(id, "start_s"))}`),
    row("CPU of the idle simulation (5 s, nothing sent)", (id) => (isNumber(f(id, "idle_cpu_percent")) ? `${num(f(id, "idle_cpu_percent"))}% of one core` : num(f(id, "idle_cpu_percent")))),
    row("formed (bounds + connected), from the first start", (id) => secs(f(id, "formed_s"))),
    row("components / degrees before the message window", (id) => `${num(f(id, "formation_components"))}; ${num(f(id, "formation_degrees"))}`),
    row("messages / window", (id) => `${num(f(id, "messages"))} / ${secs(f(id, "window_s"))}`),
    row("churn during the window", (id) => num(f(id, "churned"))),
    row("delivery: at nodes alive for the whole window", (id) => `${num(f(id, "delivered"))} / ${num(f(id, "expected"))} = ${pct(f(id, "ratio"))}`),
    row("duplicates per delivery (Gossip stats, all nodes)", (id) => num(f(id, "dup_per_delivery"), 2)),
    row("repaired frames (ihave/iwant); link msgs dropped by loss", (id) => `${num(f(id, "gossip_repaired"))}; ${num(f(id, "net_dropped"))}`),
    row("hops mean / max", (id) => `${num(f(id, "hops_mean"), 2)} / ${num(f(id, "hops_max"))}`),
    row("latency p50 / p99", (id) => `${ms(f(id, "latency_p50_ms"))} / ${ms(f(id, "latency_p99_ms"))}`),
    row("components at the end", (id) => num(f(id, "final_components"))),
    row("memory per node: RSS / heap", (id) => `${num(f(id, "mem_rss_per_node_kb"))} KB / ${num(f(id, "mem_heap_per_node_kb"))} KB`),
    row("run time (start to figures); teardown", (id) => `${secs(f(id, "run_s"))}; ${secs(f(id, "teardown_s"))}`),
    row("status", (id) => `${results.get(id)!.status} (${results.get(id)!.seconds.toFixed(0)} s)`)
  ]))
  console.log(`\nDelivery counts only the initial nodes that were not churned (alive for the whole window); senders are drawn from them.\n`)
}

// ---- summary
const verdict = (ok: boolean | undefined) => (ok === undefined ? "n/a" : ok ? "pass" : "FAIL")
const isNum = (v: Figure | undefined): v is number => typeof v === "number"
const summary: Array<Array<string>> = []
if (has("a20")) {
  const v = f("a20", "formation_ms")
  summary.push([`mesh formation, 20 Node peers (maxPeers ${MAX_PEERS})`, "in bounds, connected, < 3 s", ms(v), verdict(isNum(v) && v < 3000)])
}
if (has("a20fix")) {
  const v = f("a20fix", "formation_ms")
  summary.push(["  same, with the werift STUN workaround", "< 3 s", ms(v), verdict(isNum(v) && v < 3000)])
}
for (const id of ["a10", "a20"].filter(has)) {
  const v = f(id, "broadcast_ratio")
  summary.push([`broadcast delivery, ${id === "a10" ? 10 : 20} werift peers`, "100%", pct(v), verdict(v === undefined ? undefined : v === 1)])
}
for (const id of ["a10", "a20"].filter(has)) {
  const v = f(id, "direct_ratio")
  summary.push([`direct message delivery, ${id === "a10" ? 10 : 20} werift peers`, "100%", pct(v), verdict(v === undefined ? undefined : v === 1)])
}
for (const id of ["a10", "a20"].filter(has)) {
  summary.push([`broadcast latency p50 / p99, ${id === "a10" ? 10 : 20} peers`, "(no target)", `${ms(f(id, "broadcast_p50_ms"))} / ${ms(f(id, "broadcast_p99_ms"))}`, "n/a"])
}
if (has("link")) {
  const v = f("link", "link_msgs_per_s")
  summary.push(["data channel throughput, 1 KB messages, one link", ">= 5k msg/s", `${num(v)} msg/s`, verdict(isNum(v) && v >= 5000)])
}
if (has("bin16k")) {
  const v = f("bin16k", "bin16k_mb_per_s")
  summary.push(["binary throughput, 16 KiB messages, one werift link", ">= 8 MB/s", `${num(v, 1)} MB/s`, verdict(isNum(v) && v >= 8)])
}
if (has("a20")) {
  const v = f("a20", "mem_rss_per_peer_mb")
  const after = f("a20", "mem_rss_per_peer_after_traffic_mb")
  summary.push(["memory per Node peer (RSS growth / N, N = 20)", "< 5 MB", `${mb(v)} formed; ${mb(after)} after traffic`, verdict(isNum(v) && isNum(after) && Math.max(v, after) < 5)])
}
if (has("b1000")) {
  const v = f("b1000", "ratio")
  summary.push(["broadcast delivery, 1000 simulated peers, 5% loss, 10% churn", "100%", pct(v), verdict(v === undefined ? undefined : v === 1)])
}
if (has("b10000")) {
  const v = f("b10000", "ratio")
  const t = f("b10000", "run_s")
  summary.push(["memory-network simulation, 10,000 peers: delivery", "100%", pct(v), verdict(v === undefined ? undefined : v === 1)])
  const all = f("b10000", "nodes_started") === 10_000
  summary.push(["memory-network simulation, 10,000 peers: run time", "minutes on 2 cores", `${secs(t, 0)}${all ? "" : ` (${num(f("b10000", "nodes_started"))})`}`, verdict(isNum(t) && all ? t < 600 : false)])
}
console.log(`## Summary\n`)
console.log(table(["figure", "target", "measured", "pass/fail"], summary))
console.log(`\ntotal run time ${elapsed().toFixed(0)} s; load average at the end: ${load()}`)
