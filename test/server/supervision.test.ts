// The server's periodic sweeps are supervised: a defect in one (here a socket whose ping
// throws) restarts it, and the sockets after a restart are still pinged.
import { Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { restartCount } from "../../src/internal/supervise.ts"
import type { LiveConnection } from "../../src/server/Connection.ts"
import { ServerConfig } from "../../src/server/ServerConfig.ts"
import { ServerStats } from "../../src/server/ServerEvents.ts"
import { LiveSockets } from "../../src/server/SignalingServer.ts"
import { hexId } from "../support/wsClient.ts"

const fakeConnection = (ping: () => void): LiveConnection =>
  ({ peerId: hexId(1), ws: { readyState: 1, ping, terminate: () => undefined }, lastSeen: Date.now(), closing: undefined }) as unknown as LiveConnection

describe("server sweeps", () => {
  it("keepalive survives a throwing socket and keeps pinging the others", async () => {
    const before = restartCount("signaling-server.keepalive")
    let pings = 0
    let reached: () => void = () => undefined
    const pingedAfterRestarts = new Promise<void>((resolve) => (reached = resolve))
    const program = Effect.gen(function*() {
      const live = yield* LiveSockets
      live.add(fakeConnection(() => {
        // pinged on every sweep, restarts included
        if (++pings >= 4 && restartCount("signaling-server.keepalive") - before >= 3) reached()
      }))
      live.add(fakeConnection(() => {
        throw new Error("a socket that throws on ping")
      }))
      yield* Effect.promise(() => pingedAfterRestarts)
    })
    await Effect.runPromise(
      program.pipe(
        Effect.provide(LiveSockets.layer.pipe(
          Layer.provide(Layer.mergeAll(ServerConfig.layer({ pingInterval: 5 }), ServerStats.layer))
        )),
        Effect.scoped
      )
    )
    expect(restartCount("signaling-server.keepalive") - before).toBeGreaterThanOrEqual(3)
    expect(pings).toBeGreaterThanOrEqual(4)
  })
})
