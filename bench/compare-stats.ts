/**
 * Pure figures of bench:compare: percentiles, the RSS slope, whether a set of peer states is
 * a formed mesh, ratios and the printed / README table. No I/O (tested in test/bench).
 */
import { components } from "./mesh-common.ts"

/** Nearest-rank percentile (`p` in 0-100) of an unsorted sample; null when empty. */
export const quantile = (sample: ReadonlyArray<number>, p: number): number | null => {
  if (sample.length === 0) return null
  const sorted = [...sample].sort((a, b) => a - b)
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)))
  return sorted[rank - 1]!
}

/** Least-squares slope of y over x; null with fewer than two distinct x. */
export const slope = (points: ReadonlyArray<readonly [number, number]>): number | null => {
  if (points.length < 2) return null
  const n = points.length
  const mx = points.reduce((a, [x]) => a + x, 0) / n
  const my = points.reduce((a, [, y]) => a + y, 0) / n
  let sxx = 0
  let sxy = 0
  for (const [x, y] of points) {
    sxx += (x - mx) ** 2
    sxy += (x - mx) * (y - my)
  }
  return sxx === 0 ? null : sxy / sxx
}

export interface Links {
  readonly peerId: string
  readonly connected: ReadonlyArray<string>
}

/**
 * A formed mesh: one connected component over all `peers`, and every peer's degree within
 * [min(minPeers, n - 1), maxPeers] (3 peers with minPeers 2 is a triangle; 2 peers need 1 link).
 */
export const meshFormed = (peers: ReadonlyArray<Links>, minPeers: number, maxPeers: number): boolean => {
  if (peers.length === 0) return false
  const low = Math.min(minPeers, peers.length - 1)
  if (!peers.every((p) => p.peerId !== "" && p.connected.length >= low && p.connected.length <= maxPeers)) return false
  return components(new Map(peers.map((p) => [p.peerId, p.connected]))).length === 1
}

/** "degree:count" of the peers' degrees, e.g. "2:5 3:15". */
export const degreeHistogram = (peers: ReadonlyArray<Links>): string => {
  const counts = new Map<number, number>()
  for (const p of peers) counts.set(p.connected.length, (counts.get(p.connected.length) ?? 0) + 1)
  return [...counts.entries()].sort((a, b) => a[0] - b[0]).map(([d, c]) => `${d}:${c}`).join(" ")
}

/** One row of the comparison: a figure for each system and which direction is better. */
export interface Row {
  readonly metric: string
  readonly ours: number | null
  readonly theirs: number | null
  readonly unit: string
  /** "lower": times, memory; "higher": delivery, success shares */
  readonly better: "lower" | "higher"
}

const fmt = (x: number | null, unit: string): string => {
  if (x === null || !Number.isFinite(x)) return "n/a"
  if (unit === "%") return `${(x * 100).toFixed(x >= 0.9995 || x === 0 ? 0 : 1)} %`
  const digits = Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2
  return `${x.toFixed(digits)} ${unit}`.trim()
}

/**
 * How many times better ours is: theirs/ours for "lower" figures, ours/theirs for "higher".
 * null when either side is missing or the divisor is 0.
 */
export const advantage = (r: Row): number | null => {
  if (r.ours === null || r.theirs === null || !Number.isFinite(r.ours) || !Number.isFinite(r.theirs)) return null
  const [num, den] = r.better === "lower" ? [r.theirs, r.ours] : [r.ours, r.theirs]
  return den === 0 ? null : num / den
}

const fmtRatio = (x: number | null): string => (x === null ? "n/a" : x >= 10 ? `${x.toFixed(0)}x` : `${x.toFixed(2)}x`)

/** A Markdown table: metric | ours | 1.1.3 | ours better by. */
export const renderTable = (rows: ReadonlyArray<Row>): string =>
  [
    "| metric | ours | PeerPigeon 1.1.3 | ours better by |",
    "| --- | ---: | ---: | ---: |",
    ...rows.map((r) => `| ${r.metric} | ${fmt(r.ours, r.unit)} | ${fmt(r.theirs, r.unit)} | ${fmtRatio(advantage(r))} |`)
  ].join("\n")
