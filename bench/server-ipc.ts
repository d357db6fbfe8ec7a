/**
 * IPC messages between the bench orchestrator (bench/server.ts), the server child
 * (bench/server-process.ts) and the load children (bench/server-load.ts).
 *
 * Every request carries an `id`; the child answers with a `Reply` carrying the same id.
 */
import type { ChildProcess } from "node:child_process"

// ---------------------------------------------------------------- server child

export type ServerRequest =
  | { readonly id: number; readonly cmd: "sample" }
  | { readonly id: number; readonly cmd: "gc" }
  | { readonly id: number; readonly cmd: "stop" }
  /** write a V8 heap snapshot into `dir`; replies with its path */
  | { readonly id: number; readonly cmd: "heapSnapshot"; readonly dir: string }

export interface ServerSample {
  readonly memory: NodeJS.MemoryUsage
  /** V8 heap spaces: name -> [space_size (committed), space_used_size] in bytes */
  readonly spaces: Record<string, readonly [number, number]>
  readonly cpu: NodeJS.CpuUsage
  /** performance.now() in the server process, for elapsed-time computations. */
  readonly at: number
  /** event-loop delay of the server since the previous sample: max and p99 in ms */
  readonly loopLag: { readonly max: number; readonly p99: number }
  readonly stats: unknown
}

export interface ServerReady {
  readonly type: "ready"
  readonly port: number
}

// ---------------------------------------------------------------- load child

export interface ConnectCmd {
  readonly id: number
  readonly cmd: "connect"
  readonly port: number
  readonly peerIds: ReadonlyArray<string>
  /** simultaneous handshakes in flight in this process */
  readonly concurrency: number
  readonly timeoutMs: number
}

export interface ConnectResult {
  readonly connected: number
  readonly rejected: number
  readonly errors: number
  readonly closeReasons: Record<string, number>
  readonly ms: number
}

export interface AnnounceCmd {
  readonly id: number
  readonly cmd: "announce"
  readonly networkName: string
  /** [local client index, send offset in ms from receipt of this command] */
  readonly schedule: ReadonlyArray<readonly [number, number]>
  /** measure announce -> first peer-discovered latency for these clients */
  readonly measure: boolean
  readonly timeoutMs: number
}

export interface AnnounceResult {
  /** latencies in ms, one per measured client that got a discovery */
  readonly latencies: ReadonlyArray<number>
  /** for each latency, when its announce was sent (ms after the command arrived) */
  readonly sentAt: ReadonlyArray<number>
  /** measured clients that got no peer-discovered before the timeout */
  readonly missing: number
  /** worst event-loop lag seen in this load process while announcing (ms) */
  readonly maxLoopLagMs: number
}

export interface CountsResult {
  readonly peerDiscovered: number
  readonly relayed: number
  readonly errorsFromServer: number
  readonly open: number
  readonly cpu: NodeJS.CpuUsage
}

export interface RelayStartCmd {
  readonly id: number
  readonly cmd: "relayStart"
  /** pairs of local indexes; both directions send */
  readonly pairs: ReadonlyArray<readonly [number, number]>
  readonly window: number
  readonly sdpBytes: number
}

/** bench/cluster.ts: the clients on `deadPort` reconnect to `ports` (in turn) once their socket closes, and re-announce. */
export interface FailoverArmCmd {
  readonly id: number
  readonly cmd: "failoverArm"
  readonly deadPort: number
  readonly ports: ReadonlyArray<number>
  readonly networkName: string
  /** pause between attempts (the first one comes uniformly within it after the close), +-20 % */
  readonly retryMs: number
  readonly timeoutMs: number
}

/** Times are `process.hrtime` milliseconds (one monotonic clock for every process of the machine). */
export interface FailoverResult {
  readonly closedAt: ReadonlyArray<number>
  /** when the re-announce got its first peer-discovered, or -1 */
  readonly readmittedAt: ReadonlyArray<number>
  readonly attempts: number
  /** attempts refused (the id still held, or the socket closed before the discovery) */
  readonly refused: number
}

/**
 * What the clients of a load process received while recording (bench/cluster.ts): every
 * peer-discovered and peer-disconnected, by receiving client, about whom, when (hrtime ms).
 */
export interface TimelineResult {
  readonly peerIds: ReadonlyArray<string>
  readonly ports: ReadonlyArray<number>
  /** when each client last sent its announce (hrtime ms), or -1 */
  readonly announcedAt: ReadonlyArray<number>
  readonly discovered: Received
  readonly disconnected: Received
}
export interface Received {
  readonly to: ReadonlyArray<number>
  readonly about: ReadonlyArray<string>
  readonly at: ReadonlyArray<number>
}

export type LoadRequest =
  | ConnectCmd
  | AnnounceCmd
  | RelayStartCmd
  | FailoverArmCmd
  | { readonly id: number; readonly cmd: "failoverResult" }
  /** start (or stop) recording what bench/cluster.ts reads with `timeline` */
  | { readonly id: number; readonly cmd: "record"; readonly on: boolean }
  | { readonly id: number; readonly cmd: "timeline" }
  | { readonly id: number; readonly cmd: "counts" }
  | { readonly id: number; readonly cmd: "relayStop" }
  /** close every client; `exit` also ends the load process afterwards */
  | { readonly id: number; readonly cmd: "close"; readonly exit: boolean }

// ---------------------------------------------------------------- replies

export type Reply =
  | { readonly type: "reply"; readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly type: "reply"; readonly id: number; readonly ok: false; readonly error: string }

export const isReply = (m: unknown): m is Reply =>
  typeof m === "object" && m !== null && (m as { type?: unknown }).type === "reply"

/** Answer IPC requests in a child process with `handler`. */
export const serveRequests = <Req extends { readonly id: number; readonly cmd: string }>(
  handler: (req: Req) => Promise<unknown>
): void => {
  process.on("message", (raw) => {
    const req = raw as Req
    handler(req).then(
      (result) => send({ type: "reply", id: req.id, ok: true, result }),
      (err: unknown) => send({ type: "reply", id: req.id, ok: false, error: String(err instanceof Error ? err.stack ?? err.message : err) })
    )
  })
}

const send = (m: Reply): void => {
  if (process.send !== undefined && process.connected) process.send(m)
}

/** Request/response over a child's IPC channel, with a timeout per call. */
export class Rpc<Req extends { readonly id: number; readonly cmd: string }> {
  private next = 1
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>()
  readonly child: ChildProcess
  readonly name: string

  constructor(child: ChildProcess, name: string) {
    this.child = child
    this.name = name
    child.on("message", (m: unknown) => {
      if (!isReply(m)) return
      const p = this.pending.get(m.id)
      if (p === undefined) return
      this.pending.delete(m.id)
      clearTimeout(p.timer)
      if (m.ok) p.resolve(m.result)
      else p.reject(new Error(`${this.name}: ${m.error}`))
    })
    child.on("exit", (code, signal) => this.failAll(new Error(`${this.name} exited (code ${code}, signal ${signal})`)))
  }

  call<R>(req: DistributiveOmit<Req, "id">, timeoutMs: number): Promise<R> {
    const id = this.next++
    return new Promise<R>((resolve, reject) => {
      if (!this.child.connected) {
        reject(new Error(`${this.name}: IPC channel closed`))
        return
      }
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(new Error(`${this.name}: '${req.cmd}' timed out after ${timeoutMs} ms`))
      }, timeoutMs)
      timer.unref() // a hung child is still bounded by this timer; a finished bench is not held by it
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer })
      try {
        this.child.send({ ...req, id })
      } catch (err) {
        clearTimeout(timer)
        this.pending.delete(id)
        reject(err instanceof Error ? err : new Error(String(err)))
      }
    })
  }

  private failAll(err: Error): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer)
      this.pending.delete(id)
      p.reject(err)
    }
  }
}

export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never
