/**
 * WebDHT benchmark (`npm run bench:dht`): lookup rounds, get/put latency and success under
 * churn on a `MemoryNetwork` (5 ms links) at N = 100 and N = 1000, and get/put latency over
 * real WebRTC (werift) at N = 10 with a real `PeerPigeonServer`.
 *
 * Each scenario runs in its own child process (bench/dht-memory.ts, bench/dht-webrtc.ts)
 * under a hard timeout; a child reports figures as it goes, so a killed child still leaves
 * its partial figures, marked as such. Everything ends by itself; the whole run is bounded
 * by the sum of the timeouts.
 *
 *   npm run bench:dht                           rtc10 and mem100 (about 2 minutes)
 *   npm run bench:dht -- --only=mem1000         one scenario or several (rtc10, mem100, mem1000)
 */
import { type ChildProcess, fork } from "node:child_process"
import { execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import type { ChildMessage, Figure } from "./dht-common.ts"

const MEMORY = fileURLToPath(new URL("./dht-memory.ts", import.meta.url))
const WEBRTC = fileURLToPath(new URL("./dht-webrtc.ts", import.meta.url))

interface Scenario {
  readonly id: string
  readonly title: string
  readonly script: string
  readonly args: ReadonlyArray<string>
  readonly timeoutS: number
}

const scenarios: ReadonlyArray<Scenario> = [
  { id: "rtc10", title: "werift, N = 10", script: WEBRTC, args: ["--n=10", "--puts=20", "--gets=50"], timeoutS: 100 },
  {
    id: "mem100",
    title: "MemoryNetwork, N = 100",
    script: MEMORY,
    args: ["--n=100", "--puts=10", "--gets=20", "--churn=0.3", "--formationTimeout=40000", "--repairWindow=15000", "--opTimeout=30000"],
    timeoutS: 480
  },
  {
    id: "mem1000",
    title: "MemoryNetwork, N = 1000",
    script: MEMORY,
    args: ["--n=1000", "--puts=20", "--gets=40", "--churn=0.3", "--startBudget=150000", "--formationTimeout=60000", "--repairWindow=15000", "--presenceInterval=0"],
    timeoutS: 800
  }
]

const only = process.argv.find((a) => a.startsWith("--only="))?.slice(7)
/**
 * N = 1000 is not in the default run: one process simulates every node on one core, and the
 * scenario takes 6 to 8 minutes. Run it alone with --only=mem1000.
 */
const defaultIds = ["rtc10", "mem100"]
const selected = scenarios.filter((s) => only === undefined ? defaultIds.includes(s.id) : only.split(",").includes(s.id))

interface Outcome {
  readonly figures: Map<string, Figure>
  status: string
  seconds: number
}

const children = new Set<ChildProcess>()
const killAll = () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL")
}
process.on("SIGINT", () => (killAll(), process.exit(130)))
process.on("SIGTERM", () => (killAll(), process.exit(143)))

const run = (s: Scenario): Promise<Outcome> =>
  new Promise((resolve) => {
    const outcome: Outcome = { figures: new Map(), status: "ok", seconds: 0 }
    const t0 = Date.now()
    console.log(`\n--- ${s.title} (timeout ${s.timeoutS} s)`)
    const child = fork(s.script, [...s.args], { stdio: ["ignore", "inherit", "inherit", "ipc"] })
    children.add(child)
    let finished = false
    let exitTimer: NodeJS.Timeout | undefined
    child.on("message", (m: ChildMessage) => {
      if (m.kind === "figure") outcome.figures.set(m.key, m.value)
      else if (m.kind === "log") console.log(`  ${s.id} ${m.text}`)
      else if (m.kind === "done") {
        finished = true
        exitTimer = setTimeout(() => {
          outcome.status = "did not exit within 20 s of its last figure (killed)"
          child.kill("SIGKILL")
        }, 20_000)
      }
    })
    const timer = setTimeout(() => {
      outcome.status = `TIMEOUT after ${s.timeoutS} s (killed; partial figures)`
      child.kill("SIGKILL")
    }, s.timeoutS * 1000)
    child.on("exit", (code, signal) => {
      clearTimeout(timer)
      if (exitTimer !== undefined) clearTimeout(exitTimer)
      children.delete(child)
      if (!finished && outcome.status === "ok") outcome.status = `exited early (code ${code}, signal ${signal})`
      else if (code !== 0 && code !== null && outcome.status === "ok") outcome.status = `failed (exit code ${code})`
      outcome.seconds = (Date.now() - t0) / 1000
      resolve(outcome)
    })
  })

const fmt = (v: Figure | undefined): string => {
  if (v === undefined || v === null) return "—"
  if (typeof v === "string") return v
  if (Number.isInteger(v)) return String(v)
  return Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2)
}

const table = (columns: ReadonlyArray<[string, Outcome]>, rows: ReadonlyArray<[string, string | ((o: Outcome) => string)]>) => {
  const lines = [`| | ${columns.map(([c]) => c).join(" | ")} |`, `|---|${columns.map(() => "---").join("|")}|`]
  for (const [label, key] of rows) {
    lines.push(`| ${label} | ${columns.map(([, o]) => (typeof key === "string" ? fmt(o.figures.get(key)) : key(o))).join(" | ")} |`)
  }
  return lines.join("\n")
}

const uptime = () => {
  try {
    return execFileSync("uptime", { encoding: "utf8" }).trim()
  } catch {
    return "uptime unavailable"
  }
}

const tAll = Date.now()
const loadBefore = uptime()
console.log(`load before: ${loadBefore}`)
const results = new Map<string, Outcome>()
for (const s of selected) results.set(s.id, await run(s))
const loadAfter = uptime()

const mem = selected.filter((s) => s.script === MEMORY).map((s): [string, Outcome] => [s.title.replace("MemoryNetwork, ", ""), results.get(s.id)!])
const ratio = (okKey: string, ratioKey: string) => (o: Outcome) =>
  o.figures.has(okKey) ? `${fmt(o.figures.get(okKey))} (${((Number(o.figures.get(ratioKey)) || 0) * 100).toFixed(0)}%)` : "—"

console.log("\n## WebDHT benchmark\n")
console.log(`Machine load before: \`${loadBefore}\`; after: \`${loadAfter}\`. Run time ${((Date.now() - tAll) / 1000).toFixed(0)} s.\n`)
if (mem.length > 0) {
  console.log("### MemoryNetwork, 5 ms links, maxPeers 4 / minPeers 2, presenceInterval 5 s (N = 1000: off, the ring keeps the mesh connected), replicationFactor 3, k 8, alpha 3\n")
  console.log(table(mem, [
    ["nodes started", "nodes"],
    ["mesh formed at (s)", "formed_s"],
    ["every key record published after (s)", "key_records_published_s"],
    ["log2 N", "log2_n"],
    ["lookup rounds per get (lookupHops / lookups)", "get_rounds_per_lookup"],
    ["lookup rounds per put", "put_rounds_per_lookup"],
    ["find RPCs per get", "get_rpcs_per_lookup"],
    ["mesh forwards per routed RPC message", "get_routed_forwards_per_msg"],
    ["router floods / routed messages sent (gets)", (o) => `${fmt(o.figures.get("get_routed_flooded"))} / ${fmt(o.figures.get("get_routed_sent"))}`],
    ["router drops (hop limit, forged) during gets", "get_routed_dropped"],
    ["link messages per get", "get_link_msgs_per_get"],
    ["link messages per put", "put_link_msgs_per_put"],
    ["RPC timeouts during gets", "get_rpc_timeouts"],
    ["process CPU per get, ms (above the idle share)", (o) => `${fmt(o.figures.get("get_cpu_ms"))} (${fmt(o.figures.get("get_cpu_ms_above_idle"))})`],
    ["process CPU while idle (share of a core)", "idle_cpu_share"],
    ["puts ok", "put_ok"],
    ["put p50 / p95 (ms)", (o) => `${fmt(o.figures.get("put_p50_ms"))} / ${fmt(o.figures.get("put_p95_ms"))}`],
    ["get p50 / p95 (ms)", (o) => `${fmt(o.figures.get("get_p50_ms"))} / ${fmt(o.figures.get("get_p95_ms"))}`],
    ["gets correct", ratio("get_ok", "get_ratio")],
    ["churn: nodes stopped (30%)", "churn_stopped"],
    ["churn: survivors' mesh healed in (s)", "churn_healed_s"],
    ["churn: repair window at 1.5 s replicateInterval (s)", "churn_repair_window_s"],
    ["churn: replication store RPCs in window", "churn_replication_rpcs"],
    ["churn: holders per key before; keys whose every holder stopped", (o) => `${fmt(o.figures.get("churn_holders_per_key"))}; ${fmt(o.figures.get("churn_keys_all_holders_stopped"))}`],
    ["churn: gets correct (every key, random survivor)", ratio("churn_get_ok", "churn_get_ratio")],
    ["churn: gets correct of keys that kept a holder", ratio("churn_kept_get_ok", "churn_kept_get_ratio")],
    ["churn: get p50 / p95 (ms)", (o) => `${fmt(o.figures.get("churn_get_p50_ms"))} / ${fmt(o.figures.get("churn_get_p95_ms"))}`],
    ["churn: failures", "churn_failures"],
    ["scenario time (s)", (o) => o.seconds.toFixed(0)],
    ["status", (o) => o.status]
  ]))
}
const rtc = selected.filter((s) => s.script === WEBRTC).map((s): [string, Outcome] => [s.title, results.get(s.id)!])
if (rtc.length > 0) {
  console.log("\n### Real WebRTC (werift) + PeerPigeonServer on 127.0.0.1, maxPeers 3 / minPeers 2, library defaults\n")
  console.log(table(rtc, [
    ["mesh formed at (s)", "formed_s"],
    ["puts ok", "put_ok"],
    ["put p50 / p95 (ms)", (o) => `${fmt(o.figures.get("put_p50_ms"))} / ${fmt(o.figures.get("put_p95_ms"))}`],
    ["gets correct", "get_ok"],
    ["get p50 / p95 (ms)", (o) => `${fmt(o.figures.get("get_p50_ms"))} / ${fmt(o.figures.get("get_p95_ms"))}`],
    ["teardown", "teardown"],
    ["scenario time (s)", (o) => o.seconds.toFixed(0)],
    ["status", (o) => o.status]
  ]))
}
killAll()
