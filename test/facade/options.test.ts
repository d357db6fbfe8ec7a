/**
 * Options that cannot work are refused where the user gives them: the `PeerPigeonMesh`
 * constructor and the setters throw `InvalidMeshOptions` (a RangeError) at once, and a running
 * mesh keeps the values it had.
 */
import { afterEach, describe, expect, it } from "vitest"
import { MemoryNetwork } from "../../src/layers/MemoryNetwork.ts"
import { InvalidMeshOptions } from "../../src/services/MeshConfig.ts"
import { joiner, memoryMesh } from "./support.ts"

const { join, release } = joiner("memory://options")
afterEach(release)

describe("PeerPigeonMesh options", () => {
  it("the constructor throws InvalidMeshOptions naming every bad option", () => {
    const network = new MemoryNetwork()
    expect(() => memoryMesh(network, { optimizeInterval: 0 })).toThrow(InvalidMeshOptions)
    expect(() => memoryMesh(network, { seenCacheSize: 0, maxPeers: Number.NaN })).toThrow(/seenCacheSize.*maxPeers|maxPeers.*seenCacheSize/)
    expect(() => memoryMesh(network, { dht: { alpha: 0 } })).toThrow(RangeError)
  })

  it("setters refuse NaN and keep the running values", async () => {
    const [a] = await join(new MemoryNetwork(), 1, { maxPeers: 4 })
    expect(() => a!.setMaxPeers(Number.NaN)).toThrow(InvalidMeshOptions)
    expect(() => a!.setMinPeers(Number.POSITIVE_INFINITY)).toThrow(InvalidMeshOptions)
    expect(a!.getStatus().maxPeers).toBe(4)
    expect(a!.setMaxPeers(6)).toBe(6)
    expect(a!.getStatus().maxPeers).toBe(6)
  })
})
