/**
 * The DHT calls of `PeerPigeonMesh` with 1.x results, over a `MemoryNetwork`: `null` for a
 * missing key, `dhtUpdate` creating a key (the documentation's shared-counter example),
 * `dhtDelete` resolving a boolean, `dhtPut`'s `space`, `dhtUpdate`'s `merge`, `WebDHT`.
 */
import { afterEach, describe, expect, it } from "vitest"
import { WebDHT } from "../../src/facade/compat.ts"
import { MemoryNetwork } from "../../src/layers/MemoryNetwork.ts"
import { memoryMesh, meshIsConnected, type PeerPigeonMeshBase, record, until } from "./support.ts"

const started: Array<PeerPigeonMeshBase> = []
afterEach(async () => {
  await Promise.all(started.splice(0).map((m) => m.disconnect()))
})

const network = async (n: number) => {
  const net = new MemoryNetwork()
  const meshes = Array.from({ length: n }, () => memoryMesh(net, { maxPeers: 3, minPeers: 2 }))
  started.push(...meshes)
  for (const m of meshes) await m.connect("memory://dht")
  await until("mesh formed", () => meshIsConnected(meshes))
  return meshes
}

describe("PeerPigeonMesh DHT (1.x results)", () => {
  it("the documentation's example: dhtSubscribe('shared-counter') then dhtUpdate('shared-counter', 42) creates it and fires dhtValueChanged", async () => {
    const [mesh, other] = await network(4)
    const changes = record(mesh!, "dhtValueChanged")
    const elsewhere = record(other!, "dhtValueChanged")
    expect(await mesh!.dhtSubscribe("shared-counter")).toBeNull()
    expect(await other!.dhtSubscribe("shared-counter")).toBeNull()
    expect(await mesh!.dhtUpdate("shared-counter", 42)).toBe(1)
    await until("change seen by both", () => changes.length === 1 && elsewhere.length === 1)
    expect(changes[0]).toMatchObject({ key: "shared-counter", newValue: 42, oldValue: null, version: 1, publisher: mesh!.peerId })
    expect(elsewhere[0]).toMatchObject({ key: "shared-counter", newValue: 42 })
    expect(await mesh!.dhtUpdate("shared-counter", 43)).toBe(2)
    await until("second change", () => changes.length === 2)
    expect(changes[1]).toMatchObject({ newValue: 43, oldValue: 42, version: 2 })
  })

  it("dhtGet resolves null for a missing key (also with a timeout); dhtDelete resolves whether something was deleted", async () => {
    const [a, b] = await network(3)
    expect(await a!.dhtGet("no/such/key")).toBeNull()
    expect(await a!.dhtGet("no/such/key", { timeout: 5_000 })).toBeNull()
    await a!.dhtPut("doomed", { x: 1 })
    expect(await b!.dhtGet("doomed", { timeout: 5_000 })).toEqual({ x: 1 })
    expect(await a!.dhtDelete("doomed")).toBe(true)
    expect(await b!.dhtGet("doomed")).toBeNull()
    expect(await a!.dhtDelete("doomed")).toBe(false)
    expect(await a!.dhtDelete("never/there")).toBe(false)
  })

  it("dhtPut space: public lets others update, private (the default) does not, frozen is refused", async () => {
    const [owner, other] = await network(3)
    expect(await owner!.dhtPut("board", { n: 1 }, { space: "public", ttl: 60_000 })).toBe(1)
    expect(await other!.dhtUpdate("board", { n: 2 })).toBe(2)
    expect(await owner!.dhtGet("board")).toEqual({ n: 2 })
    await owner!.dhtPut("mine", "secret-ish", { space: "private" })
    await expect(other!.dhtUpdate("mine", "hijacked")).rejects.toMatchObject({ _tag: "Unauthorized" })
    await expect(owner!.dhtPut("ice", 1, { space: "frozen" })).rejects.toBeInstanceOf(RangeError)
  })

  it("dhtUpdate with merge merges an object into the current one; WebDHT and mesh.webDHT make the same calls", async () => {
    const [a, b] = await network(3)
    const dht = new WebDHT(a!)
    expect(await dht.put("settings", { theme: "dark", language: "en" })).toBe(1)
    expect(await a!.webDHT.update("settings", { theme: "light" }, { merge: true })).toBe(2)
    expect(await new WebDHT(b!).get("settings")).toEqual({ theme: "light", language: "en" })
    expect(await dht.update("settings", { theme: "blue" })).toBe(3)
    expect(await dht.get("settings")).toEqual({ theme: "blue" })
    expect(await dht.delete("settings")).toBe(true)
    const stats = await dht.getStorageStats()
    expect(stats.lookups).toBeGreaterThan(0)
  })
})
