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
import { boundPort, layer, statsSnapshot } from "./SignalingServer.ts"

export type PeerPigeonServerOptions = Partial<ServerOptions>

export interface PeerPigeonServerEvents {
  started: [{ readonly host: string; readonly port: number }]
  stopped: [{ readonly host: string; readonly port: number }]
  peerConnected: [{ readonly peerId: string; readonly totalConnections: number }]
  peerDisconnected: [{ readonly peerId: string; readonly reason: string; readonly totalConnections: number }]
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
  #transition: Promise<void> = Promise.resolve()

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

  /** Binds and starts accepting connections. Rejects (and emits `error`) if the port is taken. */
  start(): Promise<void> {
    return this.#serial(async () => {
      if (this.#runtime !== undefined) return
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
    })
  }

  /** Closes every connection (1001), stops listening, and releases all resources. */
  stop(): Promise<void> {
    return this.#serial(async () => {
      const runtime = this.#runtime
      if (runtime === undefined) return
      this.#runtime = undefined
      await runtime.dispose()
      this.emit("stopped", { host: this.host, port: this.port })
    })
  }

  /** Counters, connection and network figures, memory. */
  getStats(): Promise<Effect.Success<typeof statsSnapshot>> {
    return this.#run(statsSnapshot)
  }

  /** Every connected peer. */
  getPeers(): Promise<ReadonlyArray<PeerInfo>> {
    return this.#run(
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

  #run<A, E>(effect: Effect.Effect<A, E, Layer.Success<ReturnType<typeof layer>>>): Promise<A> {
    const runtime = this.#runtime
    if (runtime === undefined) return Promise.reject(new Error("PeerPigeonServer is not running; call start() first"))
    return runtime.runPromise(effect)
  }

  #emitError(error: Error) {
    // an `error` event without listeners would throw: only emit when someone listens
    if (this.listenerCount("error") > 0) this.emit("error", error)
  }

  #serial(task: () => Promise<void>): Promise<void> {
    const next = this.#transition.then(task, task)
    this.#transition = next.catch(() => undefined)
    return next
  }
}
