/**
 * The 1.x messaging and event API of `PeerPigeonMesh` over a `MemoryNetwork`: message ids
 * returned synchronously, `messageFailed`, the fields of `messageReceived`, `initialized`,
 * `peerReconnected`, `disconnected` when signaling stops, and the emitter methods.
 */
import { afterEach, describe, expect, it } from "vitest"
import { MemoryNetwork } from "../../src/layers/MemoryNetwork.ts"
import { Signaling } from "../../src/services/Signaling.ts"
import { joiner, memoryMesh, type PeerPigeonMeshBase, record, until } from "./support.ts"

const { join, release, track } = joiner("memory://facade")
afterEach(release)

const linked = (a: PeerPigeonMeshBase, b: PeerPigeonMeshBase) => a.getConnectedPeerIds().includes(b.peerId)

describe("PeerPigeonMesh messaging (memory network)", () => {
  it("sendMessage and sendDirectMessage return the id at once; messageReceived carries ttl, hops and encrypted", async () => {
    const [a, b] = await join(new MemoryNetwork(), 2, { maxPeers: 1, minPeers: 1 })
    await until("linked", () => linked(a!, b!))
    const inbox = record(b!, "messageReceived")
    const id = a!.sendMessage({ hello: "all" })
    expect(typeof id).toBe("string")
    expect(id.length).toBeGreaterThan(0)
    const directId = a!.sendDirectMessage(b!.peerId, "psst")
    expect(typeof directId).toBe("string")
    expect(directId).not.toBe(id)
    await until("both delivered", () => inbox.length === 2)
    const broadcast = inbox.find((m) => !m.direct)!
    const direct = inbox.find((m) => m.direct)!
    // the returned id is the one receivers see (the message is signed with it)
    expect(broadcast).toMatchObject({ messageId: id, from: a!.peerId, content: { hello: "all" }, hops: 1, encrypted: false, verified: true })
    expect(direct).toMatchObject({ messageId: directId, from: a!.peerId, content: "psst", hops: 1, encrypted: false })
    // one hop taken: the sender's TTL (gossipTtl 32 by default) less nothing, as it arrived
    expect(broadcast.ttl).toBe(32)
    expect(direct.ttl).toBe(1024)
  })

  it("a send that fails reports messageFailed with the returned id, and statusChanged", async () => {
    const [a, b] = await join(new MemoryNetwork(), 2, { maxPeers: 1, minPeers: 1, maxMessageSize: 1024 })
    const failed = record(a!, "messageFailed")
    const status = record(a!, "statusChanged")
    const id = a!.sendMessage("x".repeat(4096))
    const direct = a!.sendDirectMessage(b!.peerId, "y".repeat(4096))
    const invalid = a!.sendDirectMessage("not-a-peer-id", "hi")
    await until("three failures", () => failed.length === 3)
    expect(failed.map((f) => f.messageId).sort()).toEqual([id, direct, invalid].sort())
    expect(failed.find((f) => f.messageId === id)!.reason).toMatch(/exceeds the limit/)
    expect(failed.find((f) => f.messageId === invalid)!.reason).toMatch(/invalid peer id/)
    expect(failed.find((f) => f.messageId === direct)!.to).toBe(b!.peerId)
    expect(status.filter((s) => s.type === "error")).toHaveLength(3)
  })

  it("initialized, then peerReconnected when a peer linked before links again", async () => {
    const network = new MemoryNetwork()
    const a = memoryMesh(network, { maxPeers: 1, minPeers: 1 })
    track(a)
    const initialized = record(a, "initialized")
    await a.init()
    expect(initialized).toEqual([{ peerId: a.peerId }])
    await a.init()
    expect(initialized).toHaveLength(1)
    await a.connect("memory://facade")
    const [b] = await join(network, 1, { maxPeers: 1, minPeers: 1 })
    const reconnected = record(a, "peerReconnected")
    await until("linked", () => linked(a, b!))
    expect(reconnected).toHaveLength(0)
    await b!.disconnect()
    await until("unlinked", () => !linked(a, b!))
    // the same peer (same key) joins again
    await b!.connect("memory://facade")
    track(b!)
    await until("reconnected", () => reconnected.length === 1, 20_000)
    expect(reconnected[0]).toMatchObject({ peerId: b!.peerId })
  })

  it("disconnected when signaling stops for good (not only on disconnect()), once", async () => {
    const [a] = await join(new MemoryNetwork(), 1)
    const disconnected = record(a!, "disconnected")
    await a!.runEffect(Signaling.use((s) => s.disconnect))
    await until("disconnected", () => disconnected.length === 1)
    expect(disconnected[0]).toEqual({ reason: "disconnect" })
    expect(a!.getStatus().connected).toBe(false)
    await a!.disconnect()
    expect(disconnected).toHaveLength(1)
  })

  it("disconnect() while init() is still running releases the runtime it makes", async () => {
    const a = memoryMesh(new MemoryNetwork())
    const initializing = a.init()
    await a.disconnect()
    await initializing
    expect(a.runtime).toBeUndefined()
    expect(a.getStatus().connected).toBe(false)
  })

  it("once, removeAllListeners, listenerCount, eventNames, listeners", async () => {
    const [a, b] = await join(new MemoryNetwork(), 2, { maxPeers: 1, minPeers: 1 })
    await until("linked", () => linked(a!, b!))
    const seen: Array<unknown> = []
    const onceListener = (m: unknown) => seen.push(m)
    b!.once("messageReceived", onceListener)
    expect(b!.listenerCount("messageReceived")).toBe(1)
    expect(b!.listeners("messageReceived")).toEqual([onceListener])
    expect(b!.eventNames()).toContain("messageReceived")
    const all = record(b!, "messageReceived")
    a!.sendMessage(1)
    a!.sendMessage(2)
    await until("two arrived", () => all.length === 2)
    expect(seen).toHaveLength(1)
    expect(b!.listenerCount("messageReceived")).toBe(1)
    // a once listener can be removed before it fires
    b!.once("peersUpdated", onceListener)
    b!.off("peersUpdated", onceListener)
    expect(b!.listenerCount("peersUpdated")).toBe(0)
    b!.on("statusChanged", () => undefined)
    b!.removeAllListeners("messageReceived")
    expect(b!.listenerCount("messageReceived")).toBe(0)
    expect(b!.eventNames()).toEqual(["statusChanged"])
    b!.removeAllListeners()
    expect(b!.eventNames()).toEqual([])
  })
})
