import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { PeerPigeonMesh, PeerPigeonServer } from "../../src/index.ts"
import { until } from "../support/facade.ts"

describe("a peer that vanishes without closing", () => {
  it("is dropped once its connection stays lost, and the survivor keeps working", async () => {
    const server = new PeerPigeonServer({ host: "127.0.0.1", port: 0 })
    await server.start()
    const url = `ws://127.0.0.1:${server.port}`
    const mesh = new PeerPigeonMesh({ networkName: "vanish", optimizeInterval: 300 })
    const script = fileURLToPath(new URL("../fixtures/mesh-peer.ts", import.meta.url))
    const child = spawn(process.execPath, [script, url, "vanish"], { stdio: ["ignore", "pipe", "inherit"] })
    try {
      const remoteId = await new Promise<string>((resolve, reject) => {
        child.stdout.once("data", (d: Buffer) => resolve((JSON.parse(String(d)) as { peerId: string }).peerId))
        child.once("exit", () => reject(new Error("peer process exited early")))
      })
      const dropped = new Promise<string>((resolve) =>
        mesh.addEventListener("peerDisconnected", ({ peerId, reason }) => {
          if (peerId === remoteId) resolve(reason)
        })
      )
      await mesh.connect(url)
      await until("linked", () => mesh.hasPeer(remoteId), 20_000)
      child.kill("SIGKILL") // no goodbye, no close frame, no DTLS alert
      const reason = await dropped
      expect(typeof reason).toBe("string")
      expect(mesh.hasPeer(remoteId)).toBe(false)
      expect(mesh.getStatus().connected).toBe(true)
    } finally {
      child.kill("SIGKILL")
      await mesh.disconnect()
      await server.stop()
    }
  }, 60_000)
})
