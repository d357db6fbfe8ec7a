import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { PeerPigeonServer } from "../../src/server/index.ts"
import { withServer } from "../support/server.ts"
import { hexId, join, ofType } from "../support/wsClient.ts"

describe("PeerPigeonServer", () => {
  it("emits started, peerConnected, peerAnnounced, peerGoodbye, peerDisconnected, stopped", async () => {
    const server = new PeerPigeonServer({ host: "127.0.0.1", port: 0 })
    const events: Array<[string, unknown]> = []
    for (const name of ["started", "stopped", "peerConnected", "peerDisconnected", "peerAnnounced", "peerGoodbye"] as const) {
      server.on(name, (e: unknown) => events.push([name, e]))
    }
    const bound = await server.start()
    expect(server.port).toBeGreaterThan(0)
    expect(bound).toEqual({ host: "127.0.0.1", port: server.port })
    expect(server.isRunning).toBe(true)
    const a = await join(server.port, hexId(1))
    a.send({ type: "announce", data: {}, networkName: "n1" })
    a.send({ type: "goodbye", data: { reason: "bye" } })
    a.send({ type: "ping" })
    await a.next(ofType("pong"))
    await a.close()
    await server.stop()
    expect(events.map(([n]) => n)).toEqual([
      "started",
      "peerConnected",
      "peerAnnounced",
      "peerGoodbye",
      "peerDisconnected",
      "stopped"
    ])
    expect(events[1]![1]).toEqual({ peerId: hexId(1), totalConnections: 1 })
    expect(events[2]![1]).toEqual({ peerId: hexId(1), networkName: "n1", verified: false })
    expect(events[3]![1]).toEqual({ peerId: hexId(1), reason: "bye" })
    // the test client closes without a status code: 1005, as ws reports it
    expect(events[4]![1]).toMatchObject({ peerId: hexId(1), code: 1005, totalConnections: 0 })
    expect(server.isRunning).toBe(false)
  })

  it("rejects bad options with a RangeError naming the field", () => {
    expect(() => new PeerPigeonServer({ port: 70000 })).toThrow(/port/)
    expect(() => new PeerPigeonServer({ maxConnections: 0 })).toThrow(/maxConnections/)
    expect(() => new PeerPigeonServer({ host: "" })).toThrow(/host/)
    expect(() => new PeerPigeonServer({ maxConnectionsPerIp: 0 })).toThrow(/maxConnectionsPerIp/)
    expect(() => new PeerPigeonServer({ announceTimeout: 1.5 })).toThrow(/announceTimeout/)
    expect(() => new PeerPigeonServer({ announceRateLimit: { perSecond: 0, burst: 1 } })).toThrow(/announceRateLimit/)
  })

  it("start() rejects when the port is taken, and getStats() before start rejects", async () => {
    await withServer({}, async (running) => {
      const clash = new PeerPigeonServer({ host: "127.0.0.1", port: running.port })
      await expect(clash.start()).rejects.toBeDefined()
      expect(clash.isRunning).toBe(false)
      expect(() => clash.getStats()).toThrow(/not running/)
    })
  })

  it("stop() closes every socket with 1001 and the process exits by itself", async () => {
    const script = fileURLToPath(new URL("../fixtures/start-stop.ts", import.meta.url))
    const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) =>
      execFile(process.execPath, [script], { timeout: 15_000 }, (error, stdout, stderr) =>
        error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve({ stdout }))
    )
    expect(JSON.parse(stdout.trim())).toEqual({ closeCode: 1001 })
  })

  it("getPeers() and getStats() describe the connections", () =>
    withServer({}, async (server) => {
      const a = await join(server.port, hexId(1))
      const b = await join(server.port, hexId(2))
      a.send({ type: "announce", data: {}, networkName: "x" })
      b.send({ type: "offer", data: {}, targetPeerId: hexId(1) })
      await b.next(ofType("error"))
      a.send({ type: "ping" })
      await a.next(ofType("pong"))
      const peers = server.getPeers()
      expect(peers.map((p) => [p.peerId, p.announced, p.networkName]).sort()).toEqual([
        [hexId(1), true, "x"],
        [hexId(2), false, undefined]
      ])
      const stats = server.getStats()
      expect(stats).toMatchObject({ connections: 2, peers: 1, networks: { x: 1 }, connectionsAccepted: 2, errorsSent: 1 })
      expect(stats.messagesReceived).toBe(3)
      await Promise.all([a.close(), b.close()])
    }))
})

describe("HTTP endpoints", () => {
  it("GET /health, /stats and /metrics", () =>
    withServer({}, async (server) => {
      const a = await join(server.port, hexId(3))
      a.send({ type: "announce", data: {} })
      a.send({ type: "ping" })
      await a.next(ofType("pong"))
      const base = `http://127.0.0.1:${server.port}`
      const health = (await (await fetch(`${base}/health`)).json()) as { uptime: number; memory: { rss: number } }
      expect(health).toMatchObject({ status: "healthy", connections: 1, peers: 1, networks: 1 })
      expect(health.uptime).toBeGreaterThanOrEqual(0)
      expect(health.memory.rss).toBeGreaterThan(0)
      const stats = await (await fetch(`${base}/stats`)).json()
      expect(stats).toMatchObject({ connections: 1, peers: 1, connectionsAccepted: 1 })
      const metrics = await fetch(`${base}/metrics`)
      expect(metrics.headers.get("content-type")).toContain("text/plain")
      const text = await metrics.text()
      expect(text).toMatch(/^peerpigeon_connections 1$/m)
      expect(text).toMatch(/^peerpigeon_peers 1$/m)
      expect(text).toContain("# TYPE peerpigeon_messages_received_total counter")
      expect(text).toContain("# TYPE peerpigeon_connections gauge")
      for (const counter of ["disconnects_sent", "timeouts", "announce_timeouts", "takeovers", "identity_verified", "identity_rejected"]) {
        expect(text).toMatch(new RegExp(`^peerpigeon_${counter}_total 0$`, "m"))
      }
      await a.close()
    }))

  it("answers CORS preflight and sets the allowed origin", () =>
    withServer({ corsOrigin: "https://app.example" }, async (server) => {
      const base = `http://127.0.0.1:${server.port}`
      const preflight = await fetch(`${base}/health`, {
        method: "OPTIONS",
        headers: { origin: "https://app.example", "access-control-request-method": "GET" }
      })
      expect(preflight.status).toBe(204)
      expect(preflight.headers.get("access-control-allow-origin")).toBe("https://app.example")
      const get = await fetch(`${base}/health`, { headers: { origin: "https://app.example" } })
      expect(get.headers.get("access-control-allow-origin")).toBe("https://app.example")
    }))

  it("a plain GET on a WebSocket path answers 426", () =>
    withServer({}, async (server) => {
      const response = await fetch(`http://127.0.0.1:${server.port}/?peerId=${hexId(1)}`)
      expect(response.status).toBe(426)
      expect(await response.text()).toContain("WebSocket")
    }))
})
