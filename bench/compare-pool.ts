/**
 * Child processes of bench:compare: spawning (peer children, either system's server, the
 * load children of bench/server-load.ts), readiness with a timeout, the CPU they used
 * (for the machine-load check), and killing every one of them on exit, error or signal.
 */
import { fork, type ChildProcess } from "node:child_process"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { Rpc, type LoadRequest, type ServerRequest } from "./server-ipc.ts"
import type { PeerRequest, System } from "./compare-ipc.ts"

const script = (name: string): string => fileURLToPath(new URL(name, import.meta.url))

const children = new Set<ChildProcess>()
/** Last stderr lines per child name prefix, shown when something fails. */
const stderrTail = new Map<string, Array<string>>()
/** Kills every child still running (SIGKILL): on exit, on a signal, after a failure. */
export const killAll = (): void => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL")
}

let hooked = false
const hookExit = (): void => {
  if (hooked) return
  hooked = true
  process.on("exit", killAll)
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(sig, () => {
      killAll()
      process.exit(130)
    })
  }
}

/** Fields of /proc/<pid>/stat after the command name (index 0 is field 3, the state), or undefined. */
const statFields = (pid: number | "self"): Array<string> | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  } catch {
    return undefined
  }
}
/** fields 14-15 (utime, stime) or 16-17 (cutime, cstime) in seconds (USER_HZ is 100) */
const ticks = (f: Array<string> | undefined, at: number): number => {
  const v = f === undefined ? NaN : (Number(f[at - 3]) + Number(f[at - 2])) / 100
  return Number.isFinite(v) ? v : 0
}

/**
 * CPU seconds used so far by the bench's children: the live ones (utime + stime) plus every
 * child this process has reaped (its cutime + cstime), so children that exited still count.
 */
export const childrenCpu = (): number =>
  ticks(statFields("self"), 16) + [...children].reduce((a, c) => a + (c.pid === undefined ? 0 : ticks(statFields(c.pid), 14)), 0)

export const spawn = (file: string, args: ReadonlyArray<string>, name: string, execArgv: ReadonlyArray<string> = []): ChildProcess => {
  hookExit()
  const c = fork(script(file), [...args], { execArgv: [...execArgv], stdio: ["ignore", "ignore", "pipe", "ipc"], serialization: "advanced" })
  children.add(c)
  const key = name.replace(/[0-9]+$/, "")
  c.stderr?.setEncoding("utf8")
  c.stderr?.on("data", (chunk: string) => {
    const tail = stderrTail.get(key) ?? []
    tail.push(...chunk.split("\n").filter((l) => l.trim() !== "").map((l) => `[${name}] ${l.slice(0, 300)}`))
    stderrTail.set(key, tail.slice(-20))
  })
  c.once("exit", () => children.delete(c))
  return c
}

/** The last stderr lines of children named `prefix*` (for diagnostics). */
export const stderrOf = (prefix: string): ReadonlyArray<string> => stderrTail.get(prefix) ?? []

/** Resolves with the child's first `{type:"ready"}` message; rejects on exit or after `ms`. */
export const ready = <M extends { readonly type: "ready" }>(c: ChildProcess, ms: number, name: string): Promise<M> =>
  new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${name} not ready within ${ms} ms`)), ms)
    const onMessage = (m: unknown): void => {
      if (typeof m === "object" && m !== null && (m as { type?: unknown }).type === "ready") {
        clearTimeout(t)
        c.off("message", onMessage)
        resolve(m as M)
      }
    }
    c.on("message", onMessage)
    c.once("exit", (code, signal) => {
      clearTimeout(t)
      reject(new Error(`${name} exited before ready (code ${code}, signal ${signal})`))
    })
  })

/** Waits for `c` to exit, killing it after `ms`. */
export const waitExit = (c: ChildProcess, ms: number): Promise<void> =>
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

export interface ServerChild {
  readonly rpc: Rpc<ServerRequest>
  readonly port: number
}

/** Our server (bench/server-process.ts) or 1.1.3's (bench/compare-server.ts), ready on 127.0.0.1. */
export const startServer = async (system: System, dir: string): Promise<ServerChild> => {
  const name = `${system}-server`
  const c = system === "ours" ? spawn("./server-process.ts", [], name, ["--expose-gc"]) : spawn("./compare-server.ts", [`--dir=${dir}`], name, ["--expose-gc"])
  const { port } = await ready<{ type: "ready"; port: number }>(c, 30_000, name)
  return { rpc: new Rpc<ServerRequest>(c, name), port }
}

export const stopServer = async (s: ServerChild): Promise<void> => {
  await s.rpc.call({ cmd: "stop" }, 15_000).catch(() => undefined)
  await waitExit(s.rpc.child, 5_000)
}

const startPeer = (system: System, index: number, dir: string): Promise<Rpc<PeerRequest>> => {
  const name = `${system}-peer${index}`
  const c = spawn("./compare-peer.ts", [`--system=${system}`, `--dir=${dir}`], name, ["--expose-gc"])
  return ready(c, 60_000, name).then(() => new Rpc<PeerRequest>(c, name))
}

/** `n` peer children of `system`, each ready (its library loaded). */
export const startPeers = async (system: System, n: number, dir: string): Promise<Array<Rpc<PeerRequest>>> => {
  const out: Array<Rpc<PeerRequest>> = []
  // a few at a time: 20 processes loading their library at once on 2 cores would only queue
  for (let i = 0; i < n; i += 4) {
    out.push(...(await Promise.all(Array.from({ length: Math.min(4, n - i) }, (_, j) => startPeer(system, i + j, dir)))))
  }
  return out
}

/** Replaces the peer children of `pool` that have died (in place); returns how many. */
export const replaceDead = async (pool: Array<Rpc<PeerRequest>>, system: System, dir: string): Promise<number> => {
  let replaced = 0
  for (let i = 0; i < pool.length; i++) {
    const c = pool[i]!.child
    if (c.exitCode === null && c.signalCode === null && c.connected) continue
    c.kill("SIGKILL")
    pool[i] = await startPeer(system, i, dir)
    replaced++
  }
  return replaced
}

export const stopPeers = async (peers: ReadonlyArray<Rpc<PeerRequest>>): Promise<void> => {
  for (const p of peers) if (p.child.connected) p.child.disconnect()
  await Promise.all(peers.map((p) => waitExit(p.child, 5_000)))
}

/** `n` load children (bench/server-load.ts) for raw `ws` clients. */
export const startLoads = (n: number): Array<Rpc<LoadRequest>> =>
  Array.from({ length: n }, (_, i) => new Rpc<LoadRequest>(spawn("./server-load.ts", [], `load${i}`), `load${i}`))
