/**
 * The signaling part of bench:compare: announce -> first peer-discovered latency of N raw
 * `ws` clients (bench/server-load.ts, 2 load processes) against either system's server in
 * its own process, as bench/server.ts measures ours. Both servers speak the 1.x protocol
 * (PROTOCOL.md): `?peerId=` on connect, `announce {peerId}` with `networkName`, and
 * `peer-discovered` back; the load clients send exactly that to either.
 *
 * One seed peer announces first, then the other N - 1 announce evenly over 2 ms x N (2 s at
 * 1,000, the staggering of bench:server's scenario 1). Fresh server and load processes per N.
 */
import { randomBytes } from "node:crypto"
import type { AnnounceResult, ConnectResult, LoadRequest, ServerSample } from "./server-ipc.ts"
import type { Rpc } from "./server-ipc.ts"
import type { System } from "./compare-ipc.ts"
import { childrenCpu, startLoads, startServer, stopServer, waitExit } from "./compare-pool.ts"
import { quantile } from "./compare-stats.ts"

export interface SignalResult {
  readonly system: System
  readonly n: number
  readonly connected: number
  readonly latencies: ReadonlyArray<number>
  /** announcers that got no peer-discovered within the bound */
  readonly missing: number
  readonly p50: number | null
  readonly p95: number | null
  readonly p99: number | null
  /** server CPU seconds over the announce phase */
  readonly serverCpu: number
  readonly wallMs: number
  /** CPU seconds of all of the bench's children over the phase (for the machine-load check) */
  readonly benchCpu: number
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
const cpuSec = (a: NodeJS.CpuUsage, b: NodeJS.CpuUsage): number => (b.user - a.user + b.system - a.system) / 1e6

const LOAD_PROCS = 2
const NETWORK = "compare"

export const announceLatency = async (system: System, n: number, dir: string): Promise<SignalResult> => {
  const server = await startServer(system, dir)
  const loads = startLoads(LOAD_PROCS)
  try {
    // clients dealt round-robin; placement[g] = [load process, local index]
    const ids: Array<Array<string>> = loads.map(() => [])
    const placement: Array<readonly [number, number]> = []
    for (let g = 0; g < n; g++) {
      const p = g % LOAD_PROCS
      placement.push([p, ids[p]!.length])
      ids[p]!.push(randomBytes(20).toString("hex"))
    }
    const conn = await Promise.all(
      loads.map((l, p) => l.call<ConnectResult>({ cmd: "connect", port: server.port, peerIds: ids[p]!, concurrency: 50, timeoutMs: 15_000 }, 120_000))
    )
    const connected = conn.reduce((a, r) => a + r.connected, 0)
    const announce = (who: ReadonlyArray<readonly [number, number]>, offsets: ReadonlyArray<number>, measure: boolean, timeoutMs: number) =>
      Promise.all(
        loads.map((l: Rpc<LoadRequest>, p) => {
          const schedule = who.flatMap(([q, local], i) => (q === p ? [[local, offsets[i] ?? 0] as const] : []))
          return schedule.length === 0
            ? Promise.resolve<AnnounceResult>({ latencies: [], sentAt: [], missing: 0, maxLoopLagMs: 0 })
            : l.call<AnnounceResult>({ cmd: "announce", networkName: NETWORK, schedule, measure, timeoutMs }, timeoutMs + 15_000)
        })
      )
    const [seed, ...rest] = placement
    await announce([seed!], [0], false, 5_000)
    await sleep(100)
    const spread = 2 * n
    const step = rest.length > 1 ? spread / (rest.length - 1) : 0
    const s0 = await server.rpc.call<ServerSample>({ cmd: "sample" }, 10_000)
    const c0 = childrenCpu()
    const t0 = performance.now()
    const results = await announce(rest, rest.map((_, i) => i * step), true, spread + 20_000)
    const wallMs = performance.now() - t0
    const s1 = await server.rpc.call<ServerSample>({ cmd: "sample" }, 10_000)
    const latencies = results.flatMap((r) => [...r.latencies])
    return {
      system,
      n,
      connected,
      latencies,
      missing: results.reduce((a, r) => a + r.missing, 0),
      p50: quantile(latencies, 50),
      p95: quantile(latencies, 95),
      p99: quantile(latencies, 99),
      serverCpu: cpuSec(s0.cpu, s1.cpu),
      wallMs,
      benchCpu: childrenCpu() - c0
    }
  } finally {
    await Promise.allSettled(loads.map((l) => l.call({ cmd: "close", exit: true }, 15_000)))
    await Promise.allSettled(loads.map((l) => waitExit(l.child, 3_000)))
    await stopServer(server)
  }
}
