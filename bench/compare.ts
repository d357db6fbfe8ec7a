/**
 * `npm run bench:compare`: ours side by side with PeerPigeon 1.1.3, in one run on one machine
 * (not part of the test suite).
 *
 * First use installs peerpigeon@1.1.3 and `@koush/wrtc` (as `@roamhq/wrtc@0.10.0`) into
 * bench/.compare (git-ignored; bench/compare-install.ts); later runs reuse it. Then:
 * 1. Mesh: each system's Node peers, one per child process (bench/compare-peer.ts), against
 *    that system's own server in another process. For each N and run, ours then 1.1.3:
 *    formation, a few broadcasts and direct messages, RSS (bench/compare-mesh.ts).
 * 2. Signaling: announce -> discovery at N raw `ws` clients against each server (bench/compare-signal.ts).
 * Prints the table with ratios, writes the SVG charts into docs/, and the Markdown section
 * plus raw results into bench/.compare/ (last-run.md, last-run.json).
 *
 * Environment knobs (all optional):
 *   BENCH_RUNS=10                 runs per N and system
 *   BENCH_SIZES=3,8,20            mesh sizes
 *   BENCH_SIGNAL_SIZES=100,300,1000  signaling sizes
 *   BENCH_BROADCASTS=10 BENCH_DIRECTS=10   messages per run (20 ms apart)
 *   BENCH_FORMATION_MS=...        formation bound for every N (default 8 s + 0.6 s x N, at most 20 s)
 *   BENCH_ONLY=mesh|signal        one part only
 *   BENCH_CHARTS_DIR=docs         where the SVGs go
 *   BENCH_FROM=bench/.compare/last-run.json   measure nothing: print the table and draw the charts of a saved run
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { cpus, loadavg, totalmem } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { compareDir, ensureInstalled, THEIR_VERSION } from "./compare-install.ts"
import type { System } from "./compare-ipc.ts"
import { runOnce, type MeshConfig, type RunResult } from "./compare-mesh.ts"
import { childrenCpu, killAll, replaceDead, startPeers, startServer, stderrOf, stopPeers, stopServer, type ServerChild } from "./compare-pool.ts"
import { charts, processMemory, summarise, tableRows, type SignalSummary, type Summary } from "./compare-report.ts"
import { announceLatency } from "./compare-signal.ts"
import { renderTable } from "./compare-stats.ts"
import { machineWindow } from "./server-machine.ts"

const list = (name: string, fallback: string): Array<number> =>
  (process.env[name] ?? fallback).split(",").map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n >= 2)
const env = (name: string, fallback: number): number => {
  const n = Number(process.env[name])
  return process.env[name] !== undefined && Number.isFinite(n) ? n : fallback
}

const RUNS = env("BENCH_RUNS", 10)
const SIZES = list("BENCH_SIZES", "3,8,20")
const SIGNAL_SIZES = list("BENCH_SIGNAL_SIZES", "100,300,1000")
const ONLY = process.env["BENCH_ONLY"]
const CHARTS_DIR = process.env["BENCH_CHARTS_DIR"] ?? fileURLToPath(new URL("../docs/", import.meta.url))
const FORMATION_MS = process.env["BENCH_FORMATION_MS"] === undefined ? undefined : env("BENCH_FORMATION_MS", 20_000)
const SYSTEMS: ReadonlyArray<System> = ["ours", "theirs"]

const cfg: MeshConfig = {
  maxPeers: 3,
  minPeers: 2,
  formationTimeoutMs: (n) => FORMATION_MS ?? Math.min(20_000, 8_000 + 600 * n),
  broadcasts: env("BENCH_BROADCASTS", 10),
  directs: env("BENCH_DIRECTS", 10),
  gapMs: 20,
  drainMs: 3_000
}

const log = (s: string): void => console.log(s)
const f0 = (x: number | null): string => (x === null ? "n/a" : x.toFixed(0))
const started = Date.now()
const elapsed = (): string => `${((Date.now() - started) / 1000).toFixed(0)} s`

const meshPart = async (dir: string): Promise<Array<RunResult>> => {
  const results: Array<RunResult> = []
  const maxN = Math.max(...SIZES)
  const servers = new Map<System, ServerChild>()
  const pools = new Map<System, Awaited<ReturnType<typeof startPeers>>>()
  try {
    for (const system of SYSTEMS) {
      servers.set(system, await startServer(system, dir))
      pools.set(system, await startPeers(system, maxN, dir))
      log(`  ${system}: server on port ${servers.get(system)!.port}, ${maxN} peer processes ready (${elapsed()})`)
    }
    for (const n of SIZES) {
      for (let run = 0; run < RUNS; run++) {
        // ours then 1.1.3 in each round, so load on the shared machine falls on both alike
        for (const system of SYSTEMS) {
          // a peer process that died (a crash inside the library) is replaced, and said so
          const replaced = await replaceDead(pools.get(system)!, system, dir)
          if (replaced > 0) log(`  ${system}: replaced ${replaced} dead peer process(es): ${stderrOf(`${system}-peer`).slice(-1).join("")}`)
          const r = await runOnce(system, pools.get(system)!, `ws://127.0.0.1:${servers.get(system)!.port}`, n, run, cfg)
          results.push(r)
          log(
            `  ${system.padEnd(6)} N=${String(n).padStart(2)} run ${run}: ` +
              (r.formed ? `formed in ${f0(r.formationMs)} ms` : r.connectedMs !== null ? `connected in ${f0(r.connectedMs)} ms, degrees not within bounds` : "NOT formed, NOT connected") +
              ` (degrees ${r.degrees}, ${r.components} component(s)); broadcast ${r.broadcastDelivered}/${r.broadcastExpected}, direct ${r.directDelivered}/${cfg.directs}` +
              (r.startErrors.length > 0 ? `; ${r.startErrors.length} start failures: ${r.startErrors[0]}` : "") +
              (r.libraryErrors > 0 ? `; ${r.libraryErrors} exceptions inside the library: ${r.lastLibraryError}` : "")
          )
        }
      }
    }
  } finally {
    for (const pool of pools.values()) await stopPeers(pool)
    for (const s of servers.values()) await stopServer(s)
  }
  return results
}

const signalPart = async (dir: string): Promise<Array<SignalSummary>> => {
  const out: Array<SignalSummary> = []
  for (const n of SIGNAL_SIZES) {
    for (const system of SYSTEMS) {
      try {
        const r = await announceLatency(system, n, dir)
        out.push({ system, n, p50: r.p50, p95: r.p95, p99: r.p99, missing: r.missing })
        log(
          `  ${system.padEnd(6)} ${n} peers: connected ${r.connected}, announce -> discovery p50 ${f0(r.p50)} / p95 ${f0(r.p95)} / p99 ${f0(r.p99)} ms, missing ${r.missing}; ` +
            `server CPU ${r.serverCpu.toFixed(2)} s in ${(r.wallMs / 1000).toFixed(1)} s`
        )
      } catch (e) {
        log(`  ${system} ${n} peers: FAILED ${String(e)}`)
        out.push({ system, n, p50: null, p95: null, p99: null, missing: n - 1 })
      }
    }
  }
  return out
}

/** What one run measured (also what last-run.json holds, from which BENCH_FROM re-renders). */
interface Measured {
  readonly date: string
  /** wall seconds of the run (absent in files of older versions) */
  readonly wall?: number
  readonly machineText: string
  readonly runs: ReadonlyArray<RunResult>
  readonly signal: ReadonlyArray<SignalSummary>
}

const measure = async (): Promise<Measured> => {
  const installed = ensureInstalled()
  log(`# bench:compare: ours vs PeerPigeon ${THEIR_VERSION} (${installed.dir}; @koush/wrtc is ${installed.wrtc}${installed.fresh ? ", just installed" : ""})`)
  log(`runs ${RUNS}, mesh sizes ${SIZES.join(",")}, maxPeers ${cfg.maxPeers}, minPeers ${cfg.minPeers}, ${cfg.broadcasts} broadcasts + ${cfg.directs} direct messages per run; signaling sizes ${SIGNAL_SIZES.join(",")}`)
  const load0 = loadavg()[0]!
  const window = machineWindow()
  const wall0 = performance.now()
  let runs: Array<RunResult> = []
  let signal: Array<SignalSummary> = []
  if (ONLY !== "signal") {
    log("\n## mesh (one peer per process)")
    runs = await meshPart(installed.dir)
  }
  if (ONLY !== "mesh") {
    log("\n## signaling: announce -> first peer-discovered (2 load processes, announces over 2 ms x N)")
    signal = await signalPart(installed.dir)
  }
  const wall = (performance.now() - wall0) / 1000
  const machine = window(childrenCpu())
  const foreignShare = machine === undefined ? undefined : (machine.foreign + machine.steal) / wall
  const machineText =
    `${cpus().length} cores (${cpus()[0]?.model.trim() ?? "?"}), ${(totalmem() / 2 ** 30).toFixed(0)} GB, Node ${process.version}; load average ${load0.toFixed(1)} at start; ` +
    (foreignShare === undefined
      ? "machine load not measured (no /proc/stat)"
      : `processes outside the bench used ${(foreignShare * 100).toFixed(0)}% of a core on average during the run${foreignShare > 0.1 ? " (the machine was shared: figures are distorted by other load)" : ""}`)
  for (const system of SYSTEMS) {
    const tail = stderrOf(`${system}-peer`)
    if (tail.length > 0) log(`last stderr lines of ${system}'s peers:\n  ${tail.slice(-5).join("\n  ")}`)
  }
  return { date: new Date().toISOString().slice(0, 16).replace("T", " "), wall, machineText, runs, signal }
}

const report = (m: Measured, write: { readonly runFile: boolean }): void => {
  const { date, machineText, runs, signal } = m
  const sizes = [...new Set(runs.map((r) => r.n))].sort((a, b) => a - b)
  const summaries: Array<Summary> = SYSTEMS.flatMap((system) => sizes.map((n) => summarise(system, n, runs.filter((r) => r.system === system && r.n === n), cfg.directs)))
    .filter((s) => s.runs > 0)
  const ofSystem = (system: System) => processMemory(runs.filter((r) => r.system === system))
  const rows = tableRows(summaries, signal, runs.length === 0 ? undefined : { ours: ofSystem("ours"), theirs: ofSystem("theirs") })
  const took = m.wall === undefined ? "" : `, ${m.wall.toFixed(0)} s`
  const table = renderTable(rows)
  log(`\n## results (${date} UTC${took})\n${machineText}\n\n${table}`)
  const extra = SYSTEMS.map((system) => {
    const s = summaries.filter((x) => x.system === system)
    return `${system}: ${s.reduce((a, x) => a + x.startErrors, 0)} failed starts, ${s.reduce((a, x) => a + x.libraryErrors, 0)} exceptions thrown inside the library, ${s.reduce((a, x) => a + x.misdeliveredOrDuplicate, 0)} misdelivered or duplicate messages, ${s.reduce((a, x) => a + x.unknownStates, 0)} state polls timed out (bench IPC under load)`
  }).join("; ")
  log(extra)
  const runsPerSize = summaries[0]?.runs ?? 0
  const note = `bench:compare ${date} UTC, ${runsPerSize} runs`
  mkdirSync(CHARTS_DIR, { recursive: true })
  for (const [file, svg] of charts(summaries, signal, note)) {
    if (file !== "compare-announce.svg" && summaries.length === 0) continue
    if (file === "compare-announce.svg" && signal.length === 0) continue
    writeFileSync(join(CHARTS_DIR, file), svg)
    log(`wrote ${join(CHARTS_DIR, file)}`)
  }
  if (!write.runFile) return
  const out = compareDir()
  writeFileSync(join(out, "last-run.md"), `Measured ${date} UTC by \`npm run bench:compare\`${took}. ${machineText}\n\n${table}\n\n${extra}\n`)
  writeFileSync(join(out, "last-run.json"), JSON.stringify({ ...m, cfg: { ...cfg, formationTimeoutMs: sizes.map(cfg.formationTimeoutMs) } }, null, 1))
  log(`wrote ${join(out, "last-run.md")} and last-run.json`)
}

const main = async (): Promise<void> => {
  const from = process.env["BENCH_FROM"]
  if (from === undefined) report(await measure(), { runFile: true })
  // re-render the table and charts from a saved last-run.json, measuring nothing
  else report(JSON.parse(readFileSync(from, "utf8")) as Measured, { runFile: false })
}

try {
  await main()
} catch (e) {
  console.error("bench:compare failed:", e)
  process.exitCode = 1
} finally {
  killAll()
}
