/**
 * `DebugLogger`: the per-module debug switch of the PeerPigeon documentation, over Effect's
 * Logger. Off by default; `enableModules(["Gossip"])`, `enableAll()`, `disableAll()`.
 * Modules: Mesh, Connections, Discovery, Gossip, Router, Signaling, WebRtcTransport.
 * Warnings and errors are always printed.
 *
 * @since 2.0.0
 */
import { Layer, Logger, References } from "effect"

const enabled = new Set<string>()
let all = false

export const DebugLogger = {
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
  const parts = Array.isArray(options.message) ? options.message : [options.message]
  const line = `[${options.date.toISOString()}] [${module}] ${options.logLevel.toUpperCase()}`
  if (severe) console.warn(line, ...parts)
  else console.log(line, ...parts)
})

/** The logger of a mesh runtime: debug output per enabled module. */
export const layer = Layer.mergeAll(
  Logger.layer([logger]),
  Layer.succeed(References.MinimumLogLevel, "Debug")
)
