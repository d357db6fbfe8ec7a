/**
 * The 1.x methods of `PeerPigeonMesh` for peers and diagnostics, the statics, the
 * environment detector and the component classes (`PeerConnection`, `SignalingClient`),
 * over a `MemoryNetwork`.
 */
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { PeerConnection, SignalingClient } from "../../src/facade/compat.ts"
import { EnvironmentDetector, environmentReport } from "../../src/facade/environment.ts"
import { MemoryNetwork } from "../../src/layers/MemoryNetwork.ts"
import type { PeerId } from "../../src/schema/PeerId.ts"
import { joiner, memoryMesh, PeerPigeonMeshBase, record, until } from "./support.ts"

const { join, release, track } = joiner("memory://diag")
afterEach(release)

describe("PeerPigeonMesh peers and diagnostics (memory network)", () => {
  it("without autoDiscovery nothing links; forceConnectToAllPeers links every discovered peer, seen in attempts, details and summary", async () => {
    const [a, ...others] = await join(new MemoryNetwork(), 4, { autoDiscovery: false, maxPeers: 5, minPeers: 0 })
    await until("all discovered", () => a!.getDiscoveredPeers().length === 3)
    expect(a!.getPeers()).toEqual([])
    expect(a!.getPeerStateSummary()).toMatchObject({ connected: 0, connecting: 0, discovered: 3 })
    const tried = await a!.forceConnectToAllPeers()
    expect([...tried].sort()).toEqual(others.map((o) => o.peerId).sort())
    // right after: each one is being linked (an attempt) or already linked
    const attempts = a!.getConnectionAttempts()
    for (const o of others) {
      const attempt = attempts.find((x) => x.peerId === o.peerId)
      expect(attempt?.status === "connecting" || a!.getConnectedPeerIds().includes(o.peerId)).toBe(true)
      if (attempt?.status === "connecting") expect(attempt.initiator).toBe(true)
    }
    await until("all linked", () => a!.getConnectedPeerIds().length === 3)
    // getPeers: connected peer ids (1.x); the details stay available
    expect([...a!.getPeers()].sort()).toEqual(others.map((o) => o.peerId).sort())
    expect(a!.getPeers()).toEqual(a!.getConnectedPeerIds())
    expect(a!.getPeerDetails().every((l) => l.status === "connected" && l.initiator)).toBe(true)
    // discovered: only those not linked
    expect(a!.getDiscoveredPeers()).toEqual([])
    expect(a!.getConnectionAttempts()).toEqual([])
    expect(a!.getPeerStateSummary()).toMatchObject({ connected: 3, connecting: 0, discovered: 0, coolingDown: 0 })
    const report = a!.debugConnectivity()!
    expect(report.status).toMatchObject({ peerId: a!.peerId, connected: true, connectedCount: 3 })
    expect(report.summary.connected).toBe(3)
    expect(report.links).toHaveLength(3)
    expect(report.router).toHaveProperty("sent")
    expect(report.gossip).toHaveProperty("published")
    expect(report.dht).toHaveProperty("records")
    expect(await a!.forceConnectToAllPeers()).toEqual([])
  })

  it("a failed attempt leaves the peer cooling down, in getConnectionAttempts and the summary", async () => {
    const network = new MemoryNetwork()
    const [a, b] = await join(network, 2, { autoDiscovery: false, minPeers: 0, connectionTimeout: 1000 })
    await until("discovered", () => a!.getDiscoveredPeers().length === 1)
    await Effect.runPromise(network.partition([[a!.peerId as PeerId], [b!.peerId as PeerId]]))
    expect(await a!.forceConnectToAllPeers()).toEqual([b!.peerId])
    await until("cooling down", () => a!.getConnectionAttempts().some((x) => x.status === "cooldown"))
    const attempt = a!.getConnectionAttempts().find((x) => x.peerId === b!.peerId)!
    expect(attempt.status === "cooldown" && attempt.retryAt).toBeGreaterThan(Date.now() - 1)
    expect(a!.getPeerStateSummary()).toMatchObject({ connected: 0, connecting: 0, discovered: 1, coolingDown: 1 })
  })

  it("getStatus().uptime counts from the connection; getPublicKey; debugConnectivity before init", async () => {
    const a = memoryMesh(new MemoryNetwork())
    track(a)
    expect(a.getPublicKey()).toBeNull()
    expect(a.debugConnectivity()).toBeNull()
    await a.init()
    expect(a.getPublicKey()).toMatch(/^[A-Za-z0-9_-]{43}$/)
    const initAt = Date.now()
    await until("time passed since init", () => Date.now() > initAt + 20)
    expect(a.getStatus().uptime).toBe(0)
    await a.connect("memory://diag")
    const connectedAt = Date.now()
    expect(a.getStatus().uptime).toBeLessThan(20)
    await until("uptime grows", () => a.getStatus().uptime >= 30)
    expect(a.getStatus().uptime).toBeLessThanOrEqual(Date.now() - connectedAt + 5)
  })

  it("PeerConnection and SignalingClient: thin handles over a mesh's link and signaling", async () => {
    // no autoDiscovery: the link closed below stays closed
    const [a, b] = await join(new MemoryNetwork(), 2, { autoDiscovery: false, minPeers: 0 })
    await until("discovered", () => a!.getDiscoveredPeers().length === 1)
    await a!.connectToPeer(b!.peerId)
    await until("linked", () => a!.getConnectedPeerIds().includes(b!.peerId))
    const link = a!.getPeerConnection(b!.peerId)!
    expect(link).toBeInstanceOf(PeerConnection)
    expect(link.getStatus()).toBe("connected")
    expect(link.verified).toBe(true)
    expect(link.isInitiator).toBe(true)
    expect(link.connectionStartTime).toBeGreaterThan(0)
    expect(a!.getPeerConnection("0".repeat(40))).toBeUndefined()
    const inbox = record(b!, "messageReceived")
    const id = link.sendMessage({ via: "PeerConnection" })
    expect(typeof id).toBe("string")
    await until("delivered", () => inbox.length === 1)
    expect(inbox[0]).toMatchObject({ from: a!.peerId, direct: true, content: { via: "PeerConnection" } })
    const gone = record(a!, "peerDisconnected")
    await new PeerConnection(a!, b!.peerId).close()
    await until("closed", () => gone.length === 1)
    expect(gone[0]).toMatchObject({ peerId: b!.peerId })
    expect(link.getStatus()).toBe("closed")
    // 1.x's two-argument form
    await a!.connectToPeer(b!.peerId)
    await until("linked again", () => link.getStatus() === "connected")
    const goneAgain = record(a!, "peerDisconnected")
    await a!.disconnectPeer(b!.peerId, "testing partition")
    await until("closed again", () => link.getStatus() === "closed")
    await until("told", () => goneAgain.length === 1)
    // the reason given, on this side too (the link's fiber is stopped with it)
    expect(goneAgain[0]).toMatchObject({ peerId: b!.peerId, reason: "testing partition" })

    const signaling = new SignalingClient(a!)
    expect(a!.signalingClient).toBeInstanceOf(SignalingClient)
    expect(signaling.isConnected()).toBe(true)
    expect(signaling.peerId).toBe(a!.peerId)
    expect(signaling.signalingUrl).toBe("memory://diag")
    const disconnected = record(a!, "disconnected")
    await signaling.disconnect()
    expect(signaling.isConnected()).toBe(false)
    await until("disconnected event", () => disconnected.length === 1)
    await signaling.connect("memory://diag")
    expect(signaling.isConnected()).toBe(true)
  })
})

describe("statics and environment", () => {
  it("validatePeerId and generatePeerId", () => {
    const id = PeerPigeonMeshBase.generatePeerId()
    expect(id).toMatch(/^[0-9a-f]{40}$/)
    expect(PeerPigeonMeshBase.generatePeerId()).not.toBe(id)
    expect(PeerPigeonMeshBase.validatePeerId(id)).toBe(true)
    expect(PeerPigeonMeshBase.validatePeerId(id.toUpperCase())).toBe(true)
    expect(PeerPigeonMeshBase.validatePeerId("abc")).toBe(false)
    expect(PeerPigeonMeshBase.validatePeerId(42)).toBe(false)
    // a generated id is usable as a custom peerId
    expect(memoryMesh(new MemoryNetwork(), { peerId: id, allowUnverifiedPeers: true }).peerId).toBe(id)
  })

  it("EnvironmentDetector and environmentReport in Node", () => {
    expect(EnvironmentDetector.isNodeJS()).toBe(true)
    expect(EnvironmentDetector.isBrowser()).toBe(false)
    expect(EnvironmentDetector.isWorker()).toBe(false)
    expect(EnvironmentDetector.hasWebRTC()).toBe(true)
    expect(EnvironmentDetector.hasWebSocket()).toBe(typeof globalThis.WebSocket === "function")
    const report = EnvironmentDetector.getEnvironmentReport()
    expect(report.runtime).toMatchObject({ isNodeJS: true, isBrowser: false, isWorker: false, isNativeScript: false, nodeVersion: process.versions.node })
    expect(report.capabilities.webrtc).toBe(true)
    const mesh = memoryMesh(new MemoryNetwork())
    expect(mesh.environmentReport).toBe(environmentReport)
    expect(mesh.environmentReport.runtime.isNodeJS).toBe(true)
    expect(mesh.hasWebRTCSupport()).toBe(true)
  })
})
