/**
 * The 1.x encryption calls as a user runs them, over real WebRTC (werift) and the real
 * signaling server on an OS-chosen port: four Node peers, `enableCrypto: true` as the
 * PeerPigeon README has it, `cryptoManager.init()`, an encrypted direct message over at
 * least two hops (its key from the DHT key directory), encryptMessage/decryptMessage, and a
 * group broadcast read by its members only.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { PeerPigeonMeshEvents } from "../../src/index.ts"
import { PeerPigeonServer } from "../../src/server/index.ts"
import { connectedIds, fastMesh, meshIsConnected, PeerPigeonMesh, until } from "../support/facade.ts"

describe("encryption over werift with the real signaling server", () => {
  let server: PeerPigeonServer
  const meshes: Array<PeerPigeonMesh> = []
  const inbox = new Map<string, Array<PeerPigeonMeshEvents["messageReceived"]>>()
  const ready = new Map<string, string>()

  beforeAll(async () => {
    server = new PeerPigeonServer({ host: "127.0.0.1", port: 0 })
    await server.start()
    for (let i = 0; i < 4; i++) {
      const mesh = new PeerPigeonMesh({ ...fastMesh, maxPeers: 2, minPeers: 1, networkName: "e2e-crypto", enableCrypto: true, enableWebDHT: true })
      mesh.addEventListener("cryptoReady", (e) => ready.set(mesh.peerId, e.publicKey))
      await mesh.cryptoManager.init()
      const box: Array<PeerPigeonMeshEvents["messageReceived"]> = []
      mesh.addEventListener("messageReceived", (m) => box.push(m))
      inbox.set(mesh.peerId, box)
      meshes.push(mesh)
    }
    await Promise.all(meshes.map((m) => m.connect(`ws://127.0.0.1:${server.port}`)))
    await until("mesh formed", () => meshes.every((m) => connectedIds(m).length >= 1) && meshIsConnected(meshes), 30_000)
  }, 60_000)

  afterAll(async () => {
    await Promise.all(meshes.map((m) => m.disconnect()))
    await server.stop()
  })

  it("keys: cryptoReady per peer, neighbours' keys from the handshake", () => {
    for (const m of meshes) {
      expect(ready.get(m.peerId)).toBe(m.cryptoManager.getPublicKey())
      for (const n of connectedIds(m)) {
        expect(m.crypto.getPeerKey(n)).toBe(meshes.find((x) => x.peerId === n)!.crypto.getPublicKey())
      }
    }
  })

  it("an encrypted direct message to a peer that is not a neighbour, and encryptMessage/decryptMessage", async () => {
    const a = meshes[0]!
    const b = meshes.find((m) => m !== a && !connectedIds(a).includes(m.peerId)) ?? meshes[3]!
    const id = await a.sendEncryptedMessage(b.peerId, { text: "over werift, sealed" })
    await until("delivered", () => inbox.get(b.peerId)!.some((m) => m.messageId === id), 30_000)
    expect(inbox.get(b.peerId)!.find((m) => m.messageId === id)).toMatchObject({
      from: a.peerId,
      content: { text: "over werift, sealed" },
      encrypted: true,
      direct: true,
      verified: true
    })
    expect(a.crypto.getPeerKey(b.peerId)).toBe(b.crypto.getPublicKey())
    const envelope = await a.encryptMessage("by hand", b.peerId)
    expect(await b.decryptMessage(JSON.stringify(envelope), a.peerId)).toBe("by hand")
  }, 40_000)

  it("a group broadcast is read by its members only", async () => {
    const [owner, m1, m2, outsider] = meshes as [PeerPigeonMesh, PeerPigeonMesh, PeerPigeonMesh, PeerPigeonMesh]
    const group = await owner.createGroup("crew", [m1.peerId, m2.peerId])
    expect(group.missing).toEqual([])
    await until("members hold the key", () => [m1, m2].every((m) => m.crypto.getGroup("crew")?.epoch === 0), 30_000)
    const id = await owner.sendEncryptedBroadcast({ note: "crew only" }, "crew")
    await until("members read it", () => [m1, m2].every((m) => inbox.get(m.peerId)!.some((x) => x.messageId === id)), 30_000)
    expect(inbox.get(m1.peerId)!.find((x) => x.messageId === id)).toMatchObject({ encrypted: true, groupId: "crew", content: { note: "crew only" } })
    // a plaintext broadcast sent after it: once the outsider has that, it had its chance at the group message
    const marker = owner.sendMessage("marker")
    await until("outsider got the marker", () => inbox.get(outsider.peerId)!.some((x) => x.messageId === marker), 30_000)
    expect(inbox.get(outsider.peerId)!.some((x) => x.messageId === id)).toBe(false)
    expect(outsider.crypto.getGroup("crew")).toBeNull()
  }, 40_000)
})
