/**
 * `PeerPigeonServer`: the signaling server for plain TypeScript/JavaScript users, with the
 * Promise and event API of the PeerPigeon documentation. It runs the Effect program of
 * `SignalingServer` in a `ManagedRuntime`; `stop()` closes every socket (1001) and releases
 * everything, so the process exits by itself afterwards.
 *
 * @since 2.0.0
 */
import { EventEmitter } from "node:events"
import { Effect, Layer, ManagedRuntime } from "effect"
import { Registry } from "./Registry.ts"
import { resolveOptions, type ServerOptions } from "./ServerConfig.ts"
import { ServerHooks, type ServerHooksShape } from "./ServerEvents.ts"
import { clusterSnapshot, statsSnapshot } from "./Endpoints.ts"
import { boundPort, layer } from "./SignalingServer.ts"

export type PeerPigeonServerOptions = Partial<ServerOptions>

export interface PeerPigeonServerEvents {
  started: [{ readonly host: string; readonly port: number }]
  stopped: [{ readonly host: string; readonly port: number }]
  peerConnected: [{ readonly peerId: string; readonly totalConnections: number }]
  peerDisconnected: [{ readonly peerId: string; readonly reason: string; readonly code: number; readonly totalConnections: number }]
  peerAnnounced: [{ readonly peerId: string; readonly networkName: string; readonly verified: boolean }]
  peerGoodbye: [{ readonly peerId: string; readonly reason: string }]
  error: [Error]
}

export interface PeerInfo {
  readonly peerId: string
  readonly connectedAt: number
  readonly announced: boolean
  readonly networkName: string | undefined
  readonly verified: boolean
}

type Runtime = ManagedRuntime.ManagedRuntime<Layer.Success<ReturnType<typeof layer>>, Layer.Error<ReturnType<typeof layer>>>

export class PeerPigeonServer extends EventEmitter<PeerPigeonServerEvents> {
  readonly options: ServerOptions
  #runtime: Runtime | undefined
  #port: number | undefined
  #transition: Promise<unknown> = Promise.resolve()

  constructor(options: PeerPigeonServerOptions = {}) {
    super()
    this.options = resolveOptions(options)
  }

  /** The bound port once started (useful with `port: 0`). */
  get port(): number {
    return this.#port ?? this.options.port
  }

  get host(): string {
    return this.options.host
  }

  get isRunning(): boolean {
    return this.#runtime !== undefined
  }

  /**
   * Binds and starts accepting connections; resolves the bound address (as 1.x). Rejects
   * (and emits `error`) if the port is taken or the Redis given as `redis` is unreachable.
   */
  start(): Promise<{ readonly host: string; readonly port: number }> {
    return this.#serial(async () => {
      if (this.#runtime !== undefined) return { host: this.host, port: this.port }
      const hooks: ServerHooksShape = {
        peerConnected: (e) => this.emit("peerConnected", e),
        peerDisconnected: (e) => this.emit("peerDisconnected", e),
        peerAnnounced: (e) => this.emit("peerAnnounced", e),
        peerGoodbye: (e) => this.emit("peerGoodbye", e),
        error: (e) => this.#emitError(e.error)
      }
      const runtime: Runtime = ManagedRuntime.make(
        layer(this.options).pipe(Layer.provide(Layer.succeed(ServerHooks, hooks)))
      )
      try {
        this.#port = await runtime.runPromise(boundPort)
      } catch (cause) {
        await runtime.dispose()
        const error = cause instanceof Error ? cause : new Error(String(cause))
        this.#emitError(error)
        throw error
      }
      this.#runtime = runtime
      this.emit("started", { host: this.host, port: this.port })
      return { host: this.host, port: this.port }
    })
  }

  /** Closes every connection (1001), stops listening, and releases all resources. */
  stop(): Promise<void> {
    return this.#serial<void>(async () => {
      const runtime = this.#runtime
      if (runtime === undefined) return
      this.#runtime = undefined
      await runtime.dispose()
      this.emit("stopped", { host: this.host, port: this.port })
    })
  }

  /** This server's counters, connection and network figures, memory (synchronous, as 1.x). */
  getStats(): Effect.Success<typeof statsSnapshot> {
    return this.#runtimeOrThrow().runSync(statsSnapshot)
  }

  /**
   * The deployment's figures when several servers share a Redis (servers alive, connections,
   * announced peers per network); `undefined` for a server on its own. Rejects while Redis
   * is unreachable.
   */
  getClusterStats(): Promise<Effect.Success<typeof clusterSnapshot>> {
    return this.#runtimeOrThrow().runPromise(clusterSnapshot)
  }

  /** Every peer connected to this server (synchronous, as 1.x). */
  getPeers(): ReadonlyArray<PeerInfo> {
    return this.#runtimeOrThrow().runSync(
      Registry.use((r) =>
        Effect.map(r.connections, (list) =>
          list.map((c): PeerInfo => ({
            peerId: c.peerId,
            connectedAt: c.connectedAt,
            announced: c.announced !== undefined,
            networkName: c.announced?.networkName,
            verified: c.announced?.verified ?? false
          })))
      )
    )
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }

  #runtimeOrThrow(): Runtime {
    const runtime = this.#runtime
    if (runtime === undefined) throw new Error("PeerPigeonServer is not running; call start() first")
    return runtime
  }

  #emitError(error: Error) {
    // an `error` event without listeners would throw: only emit when someone listens
    if (this.listenerCount("error") > 0) this.emit("error", error)
  }

  #serial<A>(task: () => Promise<A>): Promise<A> {
    const next = this.#transition.then(task, task)
    this.#transition = next.catch(() => undefined)
    return next
  }
}
