/**
 * The README's distributed-storage example on 4 Node peers over real WebRTC (werift) with the
 * real signaling server: a private profile shared with one peer, a public board with a
 * granted writer, a frozen config, a revocation, and a CRDT document typed at two peers.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { PeerPigeonMeshEvents } from "../../src/index.ts"
import { PeerPigeonServer } from "../../src/server/index.ts"
import { fastMesh, meshIsConnected, PeerPigeonMesh, until } from "../support/facade.ts"

const reasonOf = (promise: Promise<unknown>) =>
  promise.then(() => "resolved", (error: unknown) => (error as { readonly reason?: string }).reason ?? String(error))

/** Resolves once `mesh` can resolve `peerId`'s encryption key (link handshake or key directory). */
const keyKnown = async (mesh: PeerPigeonMesh, peerId: string) => {
  const deadline = Date.now() + 30_000
  while (!(await mesh.cryptoManager.resolvePeerKey(peerId).then(() => true, () => false))) {
    if (Date.now() > deadline) throw new Error(`no key for ${peerId}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

describe("distributed storage over real WebRTC (werift), 4 peers", () => {
  let server: PeerPigeonServer
  const meshes: Array<PeerPigeonMesh> = []

  beforeAll(async () => {
    server = new PeerPigeonServer({ host: "127.0.0.1", port: 0 })
    await server.start()
    for (let i = 0; i < 4; i++) {
      const mesh = new PeerPigeonMesh({ ...fastMesh, maxPeers: 3, minPeers: 2, networkName: "storage-e2e" })
      await mesh.init()
      meshes.push(mesh)
    }
    await Promise.all(meshes.map((m) => m.connect(`ws://127.0.0.1:${server.port}`)))
    await until("mesh formed", () => meshIsConnected(meshes), 40_000)
    for (const m of meshes) expect(m.getStatus()).toMatchObject({ connected: true, transport: "webrtc" })
  }, 60_000)

  afterAll(async () => {
    await Promise.all(meshes.map((m) => m.disconnect()))
    await server.stop()
  })

  it("the README example", async () => {
    const [alice, bob, carol, dave] = meshes as [PeerPigeonMesh, PeerPigeonMesh, PeerPigeonMesh, PeerPigeonMesh]
    const storage = alice.distributedStorage
    const revokedAtBob: Array<PeerPigeonMeshEvents["storageAccessRevoked"]> = []
    bob.addEventListener("storageAccessRevoked", (e) => revokedAtBob.push(e))
    const updatedAtAlice: Array<PeerPigeonMeshEvents["storageDataUpdated"]> = []
    alice.addEventListener("storageDataUpdated", (e) => updatedAtAlice.push(e))
    await keyKnown(alice, bob.peerId)
    await keyKnown(alice, carol.peerId)

    expect(await storage.store("user:profile", { name: "Alice" }, { allowedPeers: [bob.peerId] })).toEqual({ key: "user:profile", version: 1 })
    expect(await bob.distributedStorage.retrieve("user:profile")).toEqual({ name: "Alice" })
    expect(await dave.distributedStorage.retrieve("user:profile")).toBeNull()
    await storage.grantAccess("user:profile", carol.peerId)
    expect(await carol.distributedStorage.retrieve("user:profile")).toEqual({ name: "Alice" })
    await bob.distributedStorage.subscribe("user:profile")
    await storage.revokeAccess("user:profile", bob.peerId)
    await storage.update("user:profile", { name: "Alice", city: "Paris" })
    await until("bob told of the revocation", () => revokedAtBob.some((e) => e.peerId === bob.peerId), 30_000)
    expect(await bob.distributedStorage.retrieve("user:profile")).toBeNull()
    expect(await carol.distributedStorage.retrieve("user:profile")).toEqual({ name: "Alice", city: "Paris" })

    await storage.store("board", { items: [] }, { space: "public" })
    await storage.grantAccess("board", dave.peerId, { write: true })
    await dave.distributedStorage.update("board", { items: ["milk"] })
    await until("alice hears dave", () => updatedAtAlice.some((e) => e.key === "board" && e.by === dave.peerId), 30_000)
    expect(await reasonOf(carol.distributedStorage.update("board", { items: ["spam"] }))).toBe("not-writer")

    await storage.store("app:config", { v: 1 }, { isImmutable: true })
    expect(await reasonOf(storage.update("app:config", { v: 2 }))).toBe("frozen")
    expect(await dave.distributedStorage.retrieve("app:config")).toEqual({ v: 1 })

    await storage.store("doc:notes", { title: "Notes" }, { enableCRDT: true, allowedPeers: [bob.peerId] })
    await storage.grantAccess("doc:notes", bob.peerId, { write: true })
    const a = await storage.getDocument("doc:notes")
    const b = await bob.distributedStorage.getDocument("doc:notes")
    a.getText("content").insert(0, "hi ")
    b.getText("content").insert(0, "there ")
    await until("documents converge", () => a.getText("content").toJSON() === b.getText("content").toJSON() && a.getText("content").length === 9, 30_000)
  }, 120_000)
})
