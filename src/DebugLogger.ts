/**
 * `DebugLogger`: the per-module debug switch of the PeerPigeon documentation, over Effect's
 * Logger. Off by default; `enable("Gossip")`/`enableModules(["Gossip"])`, `enableAll()`,
 * `disableAll()`; `create("MyModule")` gives an application its own switchable logger.
 * Modules: Mesh, Connections, Dht, Discovery, Gossip, Router, Signaling, WebRtcTransport, and
 * those `create`d. Warnings and errors are always printed.
 *
 * @since 2.0.0
 */
import { Layer, Logger, References } from "effect"

const enabled = new Set<string>()
let all = false
/** The library's modules (the `module` log annotation of each layer), and those `create`d. */
const knownModules = new Set(["Mesh", "Connections", "Dht", "Discovery", "Gossip", "Router", "Signaling", "WebRtcTransport"])

/** A module's logger from `DebugLogger.create`: `log`/`info`/`debug` print while the module is enabled. */
export interface ModuleLogger {
  readonly module: string
  log(...args: ReadonlyArray<unknown>): void
  info(...args: ReadonlyArray<unknown>): void
  debug(...args: ReadonlyArray<unknown>): void
  warn(...args: ReadonlyArray<unknown>): void
  error(...args: ReadonlyArray<unknown>): void
}

export interface DebugLoggerState {
  /** `enableAll()` is in force. */
  readonly all: boolean
  readonly enabled: ReadonlyArray<string>
  readonly modules: ReadonlyArray<string>
}

const prefix = (module: string, level: string) => `[${new Date().toISOString()}] [${module}] ${level}`

export const DebugLogger = {
  /** A logger for `module` (1.x): `log`, `info`, `debug` only while it is enabled; `warn`, `error` always. */
  create(module: string): ModuleLogger {
    knownModules.add(module)
    return {
      module,
      log: (...args) => {
        if (DebugLogger.isEnabled(module)) console.log(prefix(module, "DEBUG"), ...args)
      },
      info: (...args) => {
        if (DebugLogger.isEnabled(module)) console.log(prefix(module, "INFO"), ...args)
      },
      debug: (...args) => {
        if (DebugLogger.isEnabled(module)) console.log(prefix(module, "DEBUG"), ...args)
      },
      warn: (...args) => console.warn(prefix(module, "WARN"), ...args),
      error: (...args) => console.error(prefix(module, "ERROR"), ...args)
    }
  },
  enable(module: string): void {
    enabled.add(module)
  },
  disable(module: string): void {
    enabled.delete(module)
  },
  /** Every module that can be enabled. */
  listModules(): ReadonlyArray<string> {
    return [...knownModules]
  },
  getState(): DebugLoggerState {
    return { all, enabled: [...enabled], modules: [...knownModules] }
  },
  enableModules(modules: ReadonlyArray<string>): void {
    for (const m of modules) enabled.add(m)
  },
  disableModules(modules: ReadonlyArray<string>): void {
    for (const m of modules) enabled.delete(m)
  },
  enableAll(): void {
    all = true
  },
  disableAll(): void {
    all = false
    enabled.clear()
  },
  isEnabled(module: string): boolean {
    return all || enabled.has(module)
  },
  getEnabledModules(): ReadonlyArray<string> {
    return all ? ["*"] : [...enabled]
  }
}

const logger = Logger.make((options) => {
  const annotations = options.fiber.getRef(References.CurrentLogAnnotations)
  const module = typeof annotations["module"] === "string" ? annotations["module"] : "Mesh"
  const severe = options.logLevel === "Warn" || options.logLevel === "Error" || options.logLevel === "Fatal"
  if (!severe && !DebugLogger.isEnabled(module)) return
  const parts: ReadonlyArray<unknown> = Array.isArray(options.message) ? options.message : [options.message]
  const line = `[${options.date.toISOString()}] [${module}] ${options.logLevel.toUpperCase()}`
  if (severe) console.warn(line, ...parts)
  else console.log(line, ...parts)
})

/** The logger of a mesh runtime: debug output per enabled module. */
export const layer = Layer.mergeAll(
  Logger.layer([logger]),
  Layer.succeed(References.MinimumLogLevel, "Debug")
)
