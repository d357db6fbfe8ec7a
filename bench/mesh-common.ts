/**
 * Shared by the mesh benchmark's parent (bench/mesh.ts) and its child processes
 * (bench/mesh-webrtc.ts, bench/mesh-memory.ts): the IPC messages, small statistics and
 * memory helpers, and a bounded wait.
 *
 * A child reports figures as it goes (`report`), so the parent still has the partial
 * results of a child it had to kill on a timeout.
 */

/** A figure: a number, a string, or nothing measured (timed out, skipped). */
export type Figure = number | string | null

export type ChildMessage =
  | { readonly kind: "figure"; readonly key: string; readonly value: Figure }
  | { readonly kind: "log"; readonly text: string }
  | { readonly kind: "done" }

const send = (m: ChildMessage): void => {
  if (process.send !== undefined) process.send(m)
  else if (m.kind === "figure") console.log(`${m.key} = ${JSON.stringify(m.value)}`)
  else if (m.kind === "log") console.log(m.text)
}

const started = Date.now()

export const report = (key: string, value: Figure): void => send({ kind: "figure", key, value })
export const log = (text: string): void => send({ kind: "log", text: `[${((Date.now() - started) / 1000).toFixed(1)}s] ${text}` })
export const done = (): void => send({ kind: "done" })

/** Reads a numeric argument `--name=value` of this process. */
export const arg = (name: string, fallback: number): number => {
  const found = process.argv.find((a) => a.startsWith(`--${name}=`))
  const n = found === undefined ? NaN : Number(found.slice(name.length + 3))
  return Number.isFinite(n) ? n : fallback
}
export const argString = (name: string, fallback: string): string => {
  const found = process.argv.find((a) => a.startsWith(`--${name}=`))
  return found === undefined ? fallback : found.slice(name.length + 3)
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Resolves with `value` after `ms` without keeping the process alive (for bounding a race). */
export const deadline = <A>(ms: number, value: A): Promise<A> =>
  new Promise((resolve) => setTimeout(() => resolve(value), ms).unref())

/** Polls `check` every `everyMs` until it holds (true) or `timeoutMs` passes (false). */
export const until = async (check: () => boolean, timeoutMs: number, everyMs = 25): Promise<boolean> => {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) return false
    await sleep(everyMs)
  }
  return true
}

/** Nearest-rank percentile of an unsorted sample (`p` in 0-100); null when empty. */
export const percentile = (sample: ReadonlyArray<number>, p: number): number | null => {
  if (sample.length === 0) return null
  const sorted = [...sample].sort((a, b) => a - b)
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)))
  return sorted[rank - 1]!
}

export const mean = (sample: ReadonlyArray<number>): number | null =>
  sample.length === 0 ? null : sample.reduce((a, b) => a + b, 0) / sample.length

export interface MemorySample {
  readonly rss: number
  readonly heapUsed: number
  readonly external: number
}

const gc = (globalThis as { gc?: () => void }).gc

export const canGc = gc !== undefined

/** Process memory after a full GC where `--expose-gc` allows it (twice, with a pause for finalizers). */
export const memory = async (): Promise<MemorySample> => {
  if (gc !== undefined) {
    gc()
    await sleep(100)
    gc()
  }
  const m = process.memoryUsage()
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external + m.arrayBuffers }
}

export const MB = 1024 * 1024

/** Components of an undirected graph given as adjacency lists (links counted from both ends). */
export const components = (adjacency: ReadonlyMap<string, ReadonlyArray<string>>): Array<number> => {
  const both = new Map<string, Set<string>>()
  for (const id of adjacency.keys()) both.set(id, new Set())
  for (const [a, peers] of adjacency) {
    for (const b of peers) {
      if (!both.has(b)) continue
      both.get(a)!.add(b)
      both.get(b)!.add(a)
    }
  }
  const seen = new Set<string>()
  const sizes: Array<number> = []
  for (const start of both.keys()) {
    if (seen.has(start)) continue
    seen.add(start)
    const stack = [start]
    let size = 0
    while (stack.length > 0) {
      size++
      for (const next of both.get(stack.pop()!)!) {
        if (!seen.has(next)) {
          seen.add(next)
          stack.push(next)
        }
      }
    }
    sizes.push(size)
  }
  return sizes.sort((a, b) => b - a)
}

/** "degree:count" pairs of a degree sample, e.g. "2:5 3:15". */
export const histogram = (degrees: ReadonlyArray<number>): string => {
  const counts = new Map<number, number>()
  for (const d of degrees) counts.set(d, (counts.get(d) ?? 0) + 1)
  return [...counts.entries()].sort((a, b) => a[0] - b[0]).map(([d, c]) => `${d}:${c}`).join(" ")
}

/** A seeded PRNG (mulberry32), so runs pick the same senders and pairs. */
export const prng = (seed: number): () => number => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
