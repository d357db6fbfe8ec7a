/**
 * From bench:compare's raw results to what it prints and draws: a summary per system and N,
 * the rows of the comparison table (with ratios), and the SVG charts. Pure (tested in test/bench).
 */
import type { System } from "./compare-ipc.ts"
import type { RunResult } from "./compare-mesh.ts"
import { quantile, slope, type Row } from "./compare-stats.ts"
import { barChart } from "./compare-svg.ts"

/** What one system did at one N over its runs. */
export interface Summary {
  readonly system: System
  readonly n: number
  readonly runs: number
  /** runs whose degrees came within [minPeers, maxPeers] with one component, within the bound */
  readonly formedShare: number
  /** runs that became one component with every peer linked, within the bound */
  readonly connectedShare: number
  readonly formedP50: number | null
  readonly formedP95: number | null
  readonly connectedP50: number | null
  readonly connectedP95: number | null
  readonly broadcastDelivery: number | null
  readonly broadcastP50: number | null
  readonly broadcastP99: number | null
  readonly directDelivery: number | null
  readonly directP50: number | null
  /** median RSS of one peer's process after traffic, bytes */
  readonly rssPerProcess: number | null
  /** median over runs of the summed RSS of the N peer processes, bytes */
  readonly rssTotal: number | null
  readonly startErrors: number
  readonly libraryErrors: number
  readonly misdeliveredOrDuplicate: number
  /** state polls (at the end of formation) that timed out: the bench's IPC, not the library */
  readonly unknownStates: number
}

const known = (x: number | null): x is number => x !== null
const share = (part: number, whole: number): number | null => (whole === 0 ? null : part / whole)
const sum = (xs: ReadonlyArray<number>): number => xs.reduce((a, b) => a + b, 0)

/** Summarises the runs of one system at one N (`directs` attempted per run). */
export const summarise = (system: System, n: number, runs: ReadonlyArray<RunResult>, directs: number): Summary => {
  const formed = runs.flatMap((r) => (r.formationMs === null ? [] : [r.formationMs]))
  const connected = runs.flatMap((r) => (r.connectedMs === null ? [] : [r.connectedMs]))
  const bLat = runs.flatMap((r) => r.broadcastLatencies)
  const dLat = runs.flatMap((r) => r.directLatencies)
  return {
    system,
    n,
    runs: runs.length,
    formedShare: share(formed.length, runs.length) ?? 0,
    connectedShare: share(connected.length, runs.length) ?? 0,
    formedP50: quantile(formed, 50),
    formedP95: quantile(formed, 95),
    connectedP50: quantile(connected, 50),
    connectedP95: quantile(connected, 95),
    broadcastDelivery: share(sum(runs.map((r) => r.broadcastDelivered)), sum(runs.map((r) => r.broadcastExpected))),
    broadcastP50: quantile(bLat, 50),
    broadcastP99: quantile(bLat, 99),
    directDelivery: share(sum(runs.map((r) => r.directDelivered)), directs * runs.length),
    directP50: quantile(dLat, 50),
    rssPerProcess: quantile(runs.flatMap((r) => r.rssAfter.filter(known)), 50),
    rssTotal: quantile(runs.filter((r) => r.rssAfter.filter(known).length === n).map((r) => sum(r.rssAfter.filter(known))), 50),
    startErrors: sum(runs.map((r) => r.startErrors.length)),
    libraryErrors: sum(runs.map((r) => r.libraryErrors)),
    misdeliveredOrDuplicate: sum(runs.map((r) => r.misdeliveredOrDuplicate)),
    unknownStates: sum(runs.map((r) => r.unknownStates ?? 0))
  }
}

export interface SignalSummary {
  readonly system: System
  readonly n: number
  readonly p50: number | null
  readonly p95: number | null
  readonly p99: number | null
  readonly missing: number
}

const MB = 1024 * 1024

/** Memory of the peer processes of one system over the whole mesh part (each process serves many runs). */
export interface ProcessMemory {
  /** median over processes of their RSS before their first mesh (Node plus the library loaded), bytes */
  readonly loaded: number | null
  /** median over processes of what their first mesh added (RSS after its traffic - RSS before its init), bytes */
  readonly firstMeshAdded: number | null
  /** median over processes of RSS after their last run - RSS after their first run, bytes (what runs leave behind) */
  readonly growthOverRuns: number | null
}

/** `runs` in the order they ran; a process is an index into each run's `rssAfter` / `rssBefore`. */
export const processMemory = (runs: ReadonlyArray<RunResult>): ProcessMemory => {
  const first = new Map<number, { readonly before: number; readonly after: number }>()
  const last = new Map<number, number>()
  for (const r of runs) {
    r.rssAfter.forEach((after, i) => {
      if (after === null) return
      const before = r.rssBefore[i] ?? null
      if (!first.has(i) && before !== null) first.set(i, { before, after })
      last.set(i, after)
    })
  }
  const added = [...first.values()].map((f) => f.after - f.before)
  const growth = [...first.entries()].flatMap(([i, f]) => (last.has(i) ? [last.get(i)! - f.after] : []))
  return { loaded: quantile([...first.values()].map((f) => f.before), 50), firstMeshAdded: quantile(added, 50), growthOverRuns: quantile(growth, 50) }
}

/** Slope of the summed RSS of the peer processes over N, MB per peer (null with < 2 sizes). */
export const rssSlope = (sums: ReadonlyArray<Summary>): number | null => {
  const s = slope(sums.flatMap((x) => (x.rssTotal === null ? [] : [[x.n, x.rssTotal / MB] as const])))
  return s
}

const pair = (all: ReadonlyArray<Summary>, n: number) => ({
  ours: all.find((s) => s.system === "ours" && s.n === n),
  theirs: all.find((s) => s.system === "theirs" && s.n === n)
})

/** The comparison table's rows: per N, then memory, then signaling per N. */
export const tableRows = (
  mesh: ReadonlyArray<Summary>,
  signal: ReadonlyArray<SignalSummary>,
  memory?: { readonly ours: ProcessMemory; readonly theirs: ProcessMemory }
): Array<Row> => {
  const rows: Array<Row> = []
  const sizes = [...new Set(mesh.map((s) => s.n))].sort((a, b) => a - b)
  for (const n of sizes) {
    const { ours, theirs } = pair(mesh, n)
    const row = (metric: string, f: (s: Summary) => number | null, unit: string, better: Row["better"]): Row => ({
      metric: `N=${n}: ${metric}`,
      ours: ours === undefined ? null : f(ours),
      theirs: theirs === undefined ? null : f(theirs),
      unit,
      better
    })
    rows.push(
      row("runs forming a mesh within bounds (degrees in [minPeers, maxPeers], connected)", (s) => s.formedShare, "%", "higher"),
      row("formation time within bounds, median", (s) => s.formedP50, "ms", "lower"),
      row("formation time within bounds, p95", (s) => s.formedP95, "ms", "lower"),
      row("runs connected (one component, every peer linked)", (s) => s.connectedShare, "%", "higher"),
      row("time to connected, median", (s) => s.connectedP50, "ms", "lower"),
      row("time to connected, p95", (s) => s.connectedP95, "ms", "lower"),
      row("broadcast delivery", (s) => s.broadcastDelivery, "%", "higher"),
      row("broadcast latency p50", (s) => s.broadcastP50, "ms", "lower"),
      row("broadcast latency p99", (s) => s.broadcastP99, "ms", "lower"),
      row("direct-message delivery", (s) => s.directDelivery, "%", "higher"),
      row("RSS of a peer's process (median, after traffic)", (s) => (s.rssPerProcess === null ? null : s.rssPerProcess / MB), "MB", "lower")
    )
  }
  const slopes = { ours: rssSlope(mesh.filter((s) => s.system === "ours")), theirs: rssSlope(mesh.filter((s) => s.system === "theirs")) }
  if (sizes.length >= 2) rows.push({ metric: `memory per peer: slope of the summed RSS of the peer processes over N = ${sizes.join(", ")}`, ...slopes, unit: "MB", better: "lower" })
  if (memory !== undefined) {
    const mb = (x: number | null) => (x === null ? null : x / MB)
    rows.push(
      { metric: "RSS of a fresh peer process before its first mesh (Node and the library loaded; median)", ours: mb(memory.ours.loaded), theirs: mb(memory.theirs.loaded), unit: "MB", better: "lower" },
      { metric: "RSS the first mesh added to a fresh peer process (median; after its traffic - before its init)", ours: mb(memory.ours.firstMeshAdded), theirs: mb(memory.theirs.firstMeshAdded), unit: "MB", better: "lower" },
      { metric: "RSS growth of a peer process from its first run to its last (median; what disconnected meshes leave behind)", ours: mb(memory.ours.growthOverRuns), theirs: mb(memory.theirs.growthOverRuns), unit: "MB", better: "lower" }
    )
  }
  for (const n of [...new Set(signal.map((s) => s.n))].sort((a, b) => a - b)) {
    const o = signal.find((s) => s.system === "ours" && s.n === n)
    const t = signal.find((s) => s.system === "theirs" && s.n === n)
    rows.push({ metric: `signaling, ${n} peers: announce -> discovery p95`, ours: o?.p95 ?? null, theirs: t?.p95 ?? null, unit: "ms", better: "lower" })
  }
  return rows
}

const OURS = "#2f6fb0"
const OURS_LIGHT = "#8db6e0"
const THEIRS = "#d9822b"
const THEIRS_LIGHT = "#f2c08d"
const pct = (x: number | null): number | null => (x === null ? null : x * 100)

/** The charts, as [file name, SVG]. */
export const charts = (mesh: ReadonlyArray<Summary>, signal: ReadonlyArray<SignalSummary>, note: string): Array<readonly [string, string]> => {
  const sizes = [...new Set(mesh.map((s) => s.n))].sort((a, b) => a - b)
  const at = (system: System, f: (s: Summary) => number | null) => sizes.map((n) => {
    const s = mesh.find((x) => x.system === system && x.n === n)
    return s === undefined ? null : f(s)
  })
  const cats = sizes.map((n) => `N = ${n}`)
  const sigSizes = [...new Set(signal.map((s) => s.n))].sort((a, b) => a - b)
  const sigAt = (system: System, f: (s: SignalSummary) => number | null) => sigSizes.map((n) => {
    const s = signal.find((x) => x.system === system && x.n === n)
    return s === undefined ? null : f(s)
  })
  return [
    ["compare-formation.svg", barChart({
      title: "Time until connected, runs that connected (median, whisker p95)",
      yLabel: "ms from start (init + connect)",
      categories: cats,
      series: [
        { name: "ours (werift)", color: OURS, values: at("ours", (s) => s.connectedP50), whiskers: at("ours", (s) => s.connectedP95) },
        { name: "PeerPigeon 1.1.3 (wrtc)", color: THEIRS, values: at("theirs", (s) => s.connectedP50), whiskers: at("theirs", (s) => s.connectedP95) }
      ],
      format: (v) => `${(v / 1000).toFixed(2)} s`,
      note
    })],
    ["compare-formed.svg", barChart({
      title: "Runs that formed a mesh within the bound (%)",
      yLabel: "% of runs",
      categories: cats,
      yMax: 100,
      series: [
        { name: "ours in bounds", color: OURS, values: at("ours", (s) => pct(s.formedShare)) },
        { name: "ours connected", color: OURS_LIGHT, values: at("ours", (s) => pct(s.connectedShare)) },
        { name: "1.1.3 in bounds", color: THEIRS, values: at("theirs", (s) => pct(s.formedShare)) },
        { name: "1.1.3 connected", color: THEIRS_LIGHT, values: at("theirs", (s) => pct(s.connectedShare)) }
      ],
      format: (v) => v.toFixed(0),
      note: `${note}; in bounds: degrees in [minPeers, maxPeers]`
    })],
    ["compare-delivery.svg", barChart({
      title: "Messages delivered (%)",
      yLabel: "% delivered",
      categories: cats,
      yMax: 100,
      series: [
        { name: "ours broadcast", color: OURS, values: at("ours", (s) => pct(s.broadcastDelivery)) },
        { name: "ours direct", color: OURS_LIGHT, values: at("ours", (s) => pct(s.directDelivery)) },
        { name: "1.1.3 broadcast", color: THEIRS, values: at("theirs", (s) => pct(s.broadcastDelivery)) },
        { name: "1.1.3 direct", color: THEIRS_LIGHT, values: at("theirs", (s) => pct(s.directDelivery)) }
      ],
      format: (v) => v.toFixed(v >= 99.95 || v === 0 ? 0 : 1),
      note
    })],
    ["compare-announce.svg", barChart({
      title: "Signaling: announce -> first peer-discovered, p95 (whisker p99)",
      yLabel: "ms (log scale)",
      categories: sigSizes.map((n) => `${n} peers`),
      scale: "log",
      series: [
        { name: "ours", color: OURS, values: sigAt("ours", (s) => s.p95), whiskers: sigAt("ours", (s) => s.p99) },
        { name: "PeerPigeon 1.1.3", color: THEIRS, values: sigAt("theirs", (s) => s.p95), whiskers: sigAt("theirs", (s) => s.p99) }
      ],
      format: (v) => (v >= 100 ? v.toFixed(0) : v.toFixed(1)),
      note
    })]
  ]
}
