#!/usr/bin/env node
/**
 * `peerpigeon-server`: starts the signaling server from flags and environment variables and
 * stops it gracefully on SIGINT/SIGTERM.
 *
 * @since 2.0.0
 */
import { parseCli, usage } from "./cliArgs.ts"
import { PeerPigeonServer } from "./PeerPigeonServer.ts"

const parsed = parseCli(process.argv.slice(2), process.env)
if (parsed._tag === "Help") {
  process.stdout.write(usage)
} else if (parsed._tag === "Invalid") {
  process.stderr.write(`peerpigeon-server: ${parsed.message}\n\n${usage}`)
  process.exitCode = 2
} else {
  let server: PeerPigeonServer
  try {
    server = new PeerPigeonServer(parsed.options)
  } catch (error) {
    process.stderr.write(`peerpigeon-server: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(2)
  }
  server.on("error", (error) => process.stderr.write(`peerpigeon-server: ${error.message}\n`))
  let stopping = false
  const shutdown = (signal: string) => {
    if (stopping) return
    stopping = true
    process.stdout.write(`${signal}: closing connections and stopping\n`)
    server.stop().then(
      () => process.stdout.write("stopped\n"),
      (error: unknown) => {
        process.stderr.write(`peerpigeon-server: stop failed: ${String(error)}\n`)
        process.exitCode = 1
      }
    )
  }
  process.once("SIGINT", () => shutdown("SIGINT"))
  process.once("SIGTERM", () => shutdown("SIGTERM"))
  server.start().then(
    () => {
      const host = server.host.includes(":") ? `[${server.host}]` : server.host
      process.stdout.write(`PeerPigeon signaling server listening on ws://${host}:${server.port}\n`)
      process.stdout.write(`health: http://${host}:${server.port}/health\n`)
    },
    (error: unknown) => {
      process.stderr.write(`peerpigeon-server: could not start: ${error instanceof Error ? error.message : String(error)}\n`)
      process.exit(1)
    }
  )
}
