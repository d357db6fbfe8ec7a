/**
 * Helpers for facade tests: a `PeerPigeonMesh` over a `MemoryNetwork`, an event recorder,
 * and waiting for a state (polling with a deadline, never a fixed sleep). Imports only the
 * facade, not the Node entry point (which loads the server too).
 */
import type { MemoryNetwork } from "../../src/layers/MemoryNetwork.ts"
import {
  PeerPigeonMeshBase,
  type PeerPigeonMeshEvent,
  type PeerPigeonMeshEvents,
  type PeerPigeonMeshOptions
} from "../../src/PeerPigeonMesh.ts"

/** Resolves once `check` holds (polled every 25 ms); rejects after `timeoutMs`. */
export const until = async (what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

export const connectedIds = (mesh: PeerPigeonMeshBase) => mesh.getConnectedPeerIds()

export const meshIsConnected = (meshes: ReadonlyArray<PeerPigeonMeshBase>): boolean => {
  const adjacency = new Map(meshes.map((m) => [m.peerId, new Set<string>()]))
  for (const m of meshes) {
    for (const p of connectedIds(m)) {
      adjacency.get(m.peerId)?.add(p)
      adjacency.get(p)?.add(m.peerId)
    }
  }
  const seen = new Set([meshes[0]!.peerId])
  const stack = [meshes[0]!.peerId]
  while (stack.length > 0) {
    for (const n of adjacency.get(stack.pop()!) ?? []) {
      if (!seen.has(n)) {
        seen.add(n)
        stack.push(n)
      }
    }
  }
  return meshes.every((m) => seen.has(m.peerId))
}

export const fastMesh: PeerPigeonMeshOptions = { optimizeInterval: 300, presenceInterval: 500, connectionTimeout: 8000 }

/** A facade over a `MemoryNetwork` (no WebRTC, no server): `connect("memory://...")` joins the network. */
export const memoryMesh = (network: MemoryNetwork, options: PeerPigeonMeshOptions = {}) =>
  new PeerPigeonMeshBase({ ...fastMesh, ...options }, network.layer)

/** Every `event` of `mesh` from now on, in order. */
export const record = <K extends PeerPigeonMeshEvent>(mesh: PeerPigeonMeshBase, event: K): Array<PeerPigeonMeshEvents[K]> => {
  const seen: Array<PeerPigeonMeshEvents[K]> = []
  mesh.addEventListener(event, (data) => seen.push(data))
  return seen
}

export { PeerPigeonMeshBase }

/**
 * Meshes joined by one test on a memory network, disconnected after it: call `joiner(url)` at
 * module level, `join(network, n, options)` in a test, and `release()` in `afterEach`.
 */
export const joiner = (url: string) => {
  const started: Array<PeerPigeonMeshBase> = []
  return {
    join: async (network: MemoryNetwork, n: number, options: PeerPigeonMeshOptions = {}) => {
      const meshes = Array.from({ length: n }, () => memoryMesh(network, options))
      started.push(...meshes)
      for (const m of meshes) await m.connect(url)
      return meshes
    },
    /** A mesh the test made itself, disconnected after it too. */
    track: <M extends PeerPigeonMeshBase>(mesh: M): M => {
      started.push(mesh)
      return mesh
    },
    release: () => Promise.all(started.splice(0).map((m) => m.disconnect()))
  }
}
