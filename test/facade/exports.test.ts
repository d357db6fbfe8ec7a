/**
 * 1.x code imports these names from the package: both entry points export them, and they are
 * the facade's classes (the browser entry is loaded in Node only to read its exports).
 */
import { describe, expect, it } from "vitest"
import * as browser from "../../src/browser.ts"
import { PeerConnection, SignalingClient, WebDHT } from "../../src/facade/compat.ts"
import { EnvironmentDetector } from "../../src/facade/environment.ts"
import * as node from "../../src/index.ts"
import { PeerPigeonMeshBase } from "../../src/PeerPigeonMesh.ts"

describe("1.x exports", () => {
  it("PeerConnection, SignalingClient, WebDHT, EnvironmentDetector and friends from both entry points", () => {
    for (const entry of [node, browser]) {
      expect(entry.PeerConnection).toBe(PeerConnection)
      expect(entry.SignalingClient).toBe(SignalingClient)
      expect(entry.WebDHT).toBe(WebDHT)
      expect(entry.EnvironmentDetector).toBe(EnvironmentDetector)
      expect(entry.isNodeJS()).toBe(true)
      expect(typeof entry.getEnvironmentReport().runtime.isBrowser).toBe("boolean")
      expect(entry.validatePeerId(entry.generatePeerId())).toBe(true)
      expect(typeof entry.DebugLogger.create).toBe("function")
      expect(Object.getPrototypeOf(entry.PeerPigeonMesh)).toBe(PeerPigeonMeshBase)
      // the statics are inherited by each entry's PeerPigeonMesh
      expect(entry.PeerPigeonMesh.validatePeerId(entry.PeerPigeonMesh.generatePeerId())).toBe(true)
    }
    expect(node.PeerPigeonServer).toBeTypeOf("function")
  })

  it("a Node PeerPigeonMesh has the 1.x handles before init", () => {
    const mesh = new node.PeerPigeonMesh()
    expect(mesh.webDHT).toBeInstanceOf(WebDHT)
    expect(mesh.signalingClient).toBeInstanceOf(SignalingClient)
    expect(mesh.signalingClient.isConnected()).toBe(false)
    expect(mesh.cryptoManager).toBeInstanceOf(node.MeshCrypto)
    expect(mesh.crypto).toBe(mesh.cryptoManager)
    expect(mesh.cryptoManager.getPublicKey()).toBeNull()
    expect(mesh.getPeers()).toEqual([])
    expect(mesh.getDiscoveredPeers()).toEqual([])
    expect(mesh.getConnectionAttempts()).toEqual([])
    expect(mesh.getPeerStateSummary()).toEqual({ connected: 0, connecting: 0, discovered: 0, coolingDown: 0, reachable: 0 })
    expect(mesh.getStatus().uptime).toBe(0)
    expect(mesh.environmentReport.runtime.isNodeJS).toBe(true)
  })
})
