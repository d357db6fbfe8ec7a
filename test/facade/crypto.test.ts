/**
 * The 1.x encryption calls of `PeerPigeonMesh` as a user runs them, over a `MemoryNetwork`:
 * `cryptoManager` (alias `crypto`), `encryptMessage`/`decryptMessage` and their refusals,
 * `sendEncryptedMessage`, `sendDirectMessage(..., {encrypt: true})`, groups and
 * `sendEncryptedBroadcast`, and the events `cryptoReady`, `peerKeyAdded`, `cryptoError`.
 */
import { afterEach, describe, expect, it } from "vitest"
import { MemoryNetwork } from "../../src/layers/MemoryNetwork.ts"
import { joiner, memoryMesh, record, until } from "./support.ts"

const { join, release, track } = joiner("memory://facade-crypto")
afterEach(release)

const reasonOf = async (promise: Promise<unknown>) => {
  try {
    await promise
    return "resolved"
  } catch (error) {
    return (error as { readonly reason?: string }).reason ?? String(error)
  }
}

describe("PeerPigeonMesh encryption (memory network)", () => {
  it("init makes the key (cryptoReady once), mesh.crypto is cryptoManager, generateKeyPair rotates it", async () => {
    const network = new MemoryNetwork()
    const mesh = track(memoryMesh(network))
    const ready = record(mesh, "cryptoReady")
    expect(mesh.crypto).toBe(mesh.cryptoManager)
    expect(mesh.cryptoManager.getPublicKey()).toBeNull()
    await mesh.init()
    await until("cryptoReady", () => ready.length === 1)
    const key = mesh.cryptoManager.getPublicKey()
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(ready[0]!.publicKey).toBe(key)
    expect(key).not.toBe(mesh.getPublicKey())
    // idempotent
    await mesh.init()
    expect(await mesh.cryptoManager.init()).toEqual({ publicKey: key })
    const rotated = await mesh.crypto.generateKeyPair()
    expect(rotated.publicKey).not.toBe(key)
    expect(mesh.cryptoManager.getPublicKey()).toBe(rotated.publicKey)
    expect(ready.length).toBe(1)
    // signatures by the identity (1.x's verify(signature, data, publicKey))
    const sig = await mesh.crypto.sign("hello")
    expect(await mesh.crypto.verify(sig, "hello", mesh.getPublicKey()!)).toBe(true)
    expect(await mesh.crypto.verify(sig, "hellO", mesh.getPublicKey()!)).toBe(false)
  })

  it("encryptMessage / decryptMessage, every refusal typed and reported; sends arrive encrypted: true", async () => {
    const network = new MemoryNetwork()
    const [a, b, c] = await join(network, 3, { maxPeers: 2, minPeers: 2 })
    const keysAtB = record(b!, "peerKeyAdded")
    const errorsAtB = record(b!, "cryptoError")
    const inbox = record(b!, "messageReceived")
    await until("a and b know each other's keys", () => a!.crypto.getPeerKey(b!.peerId) !== null && b!.crypto.getPeerKey(a!.peerId) !== null)
    await until("peerKeyAdded at b", () => keysAtB.some((e) => e.peerId === a!.peerId))
    expect(b!.crypto.getPeerKey(a!.peerId)).toBe(a!.crypto.getPublicKey())

    const envelope = await a!.encryptMessage({ text: "for b only" }, b!.peerId)
    expect(envelope).toMatchObject({ v: 1, t: "dm", from: a!.peerId, to: b!.peerId })
    expect(JSON.stringify(envelope)).not.toContain("for b only")
    expect(await reasonOf(c!.decryptMessage(envelope))).toBe("wrong-recipient")
    expect(await reasonOf(b!.decryptMessage(envelope, c!.peerId))).toBe("wrong-sender")
    const tampered = { ...envelope, ct: envelope.ct.slice(0, -2) + (envelope.ct.endsWith("AA") ? "BA" : "AA") }
    expect(await reasonOf(b!.decryptMessage(tampered, a!.peerId))).toBe("bad-signature")
    expect(await b!.decryptMessage(JSON.stringify(envelope), a!.peerId)).toEqual({ text: "for b only" })
    expect(await reasonOf(b!.decryptMessage(envelope, a!.peerId))).toBe("replay")
    await until("cryptoError events", () => errorsAtB.length >= 3)
    expect(errorsAtB.map((e) => e.reason)).toEqual(expect.arrayContaining(["wrong-sender", "bad-signature", "replay"]))

    const sent = await a!.sendEncryptedMessage(b!.peerId, { n: 1 })
    const direct = a!.sendDirectMessage(b!.peerId, { n: 2 }, { encrypt: true })
    expect(typeof direct).toBe("string")
    await until("both arrived", () => [sent, direct].every((id) => inbox.some((m) => m.messageId === id)))
    for (const [id, n] of [[sent, 1], [direct, 2]] as const) {
      expect(inbox.find((m) => m.messageId === id)).toMatchObject({ from: a!.peerId, content: { n }, encrypted: true, direct: true })
    }
    // a plain direct message still says encrypted: false
    const plain = a!.sendDirectMessage(b!.peerId, "plain")
    await until("plain arrived", () => inbox.some((m) => m.messageId === plain))
    expect(inbox.find((m) => m.messageId === plain)!.encrypted).toBe(false)

    // an unknown peer: a typed rejection, and messageFailed for the fire-and-forget form
    const failed = record(a!, "messageFailed")
    expect(await reasonOf(a!.sendEncryptedMessage("ab".repeat(20), "x"))).toBe("unknown-key")
    const lost = a!.sendDirectMessage("ab".repeat(20), "x", { encrypt: true })
    await until("messageFailed", () => failed.some((f) => f.messageId === lost))
    expect(() => a!.crypto.encrypt("x", "not a peer")).toThrow(TypeError)
  })

  it("groups: members read sendEncryptedBroadcast (groupId), the removed member does not", async () => {
    const network = new MemoryNetwork()
    const [a, b, c] = await join(network, 3, { maxPeers: 2, minPeers: 2 })
    await until("keys known", () => [b!, c!].every((m) => a!.crypto.getPeerKey(m.peerId) !== null))
    const atB = record(b!, "messageReceived")
    const atC = record(c!, "messageReceived")
    const group = await a!.createGroup("friends", [b!.peerId, c!.peerId])
    expect(group).toMatchObject({ groupId: "friends", epoch: 0, missing: [] })
    expect([...group.handedTo].sort()).toEqual([b!.peerId, c!.peerId].sort())
    // the hand-offs travel as encrypted direct messages
    await until("members hold epoch 0", () => [b!, c!].every((m) => m.crypto.getGroup("friends")?.epoch === 0))
    expect(b!.crypto.getGroup("friends")).toMatchObject({ owner: a!.peerId, members: [a!.peerId, b!.peerId, c!.peerId].sort() })
    const first = await a!.sendEncryptedBroadcast({ hi: "friends" }, "friends")
    await until("both members read", () => atB.some((m) => m.messageId === first) && atC.some((m) => m.messageId === first))
    expect(atB.find((m) => m.messageId === first)).toMatchObject({ content: { hi: "friends" }, encrypted: true, groupId: "friends", direct: false })
    const removed = await a!.removeFromGroup("friends", [c!.peerId])
    expect(removed).toMatchObject({ epoch: 1, handedTo: [b!.peerId] })
    await until("b holds epoch 1", () => b!.crypto.getGroup("friends")?.epoch === 1)
    const after = await a!.sendEncryptedBroadcast("after", "friends")
    await until("b reads after the removal", () => atB.some((m) => m.messageId === after))
    // a plaintext marker sent later, once c has it, c has had its chance at "after"; it still knows only epoch 0
    const marker = a!.sendMessage("marker")
    await until("c got the marker", () => atC.some((m) => m.messageId === marker))
    expect(atC.some((m) => m.messageId === after || m.content === "after")).toBe(false)
    expect(c!.crypto.getGroup("friends")?.epoch).toBe(0)
    expect(await reasonOf(a!.sendEncryptedBroadcast("x", undefined as unknown as string))).toContain("groupId")
  })
})
