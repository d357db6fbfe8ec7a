/**
 * `mesh.distributedStorage` as a 1.x user calls it, over a `MemoryNetwork` of 8 meshes: the
 * README's example (a private profile shared with one peer, a public board with a granted
 * writer, a frozen config, revocation), the events on subscribing peers, and a CRDT document.
 */
import { afterEach, describe, expect, it } from "vitest"
import { MemoryNetwork } from "../../src/layers/MemoryNetwork.ts"
import { joiner, record, until } from "./support.ts"

const { join, release } = joiner("memory://facade-storage")
afterEach(release)

const reasonOf = async (promise: Promise<unknown>) => {
  try {
    await promise
    return "resolved"
  } catch (error) {
    return (error as { readonly reason?: string }).reason ?? String(error)
  }
}

/** Waits until `mesh` can resolve `peerId`'s encryption key (from a link, or the DHT key directory). */
const keyKnown = async (mesh: { readonly cryptoManager: { resolvePeerKey(id: string): Promise<string> } }, peerId: string) => {
  const deadline = Date.now() + 20_000
  for (;;) {
    const ok = await mesh.cryptoManager.resolvePeerKey(peerId).then(() => true, () => false)
    if (ok) return
    if (Date.now() > deadline) throw new Error(`no key for ${peerId}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe("PeerPigeonMesh distributed storage (memory network)", () => {
  it("the README example: private, public with a writer, frozen, revoke; events on every subscriber", async () => {
    const meshes = await join(new MemoryNetwork(), 8, { maxPeers: 4, minPeers: 2 })
    const [alice, bob, carol, dave] = meshes as [typeof meshes[0], typeof meshes[0], typeof meshes[0], typeof meshes[0]]
    const updatedAtBob = record(bob, "storageDataUpdated")
    const revokedAtBob = record(bob, "storageAccessRevoked")
    const storedAtCarol = record(carol, "storageDataStored")
    const updatedAtAlice = record(alice, "storageDataUpdated")
    await keyKnown(alice, bob.peerId)

    // private: alice and bob read it, carol reads null
    const receipt = await alice.distributedStorage.store("user:profile", { name: "Alice", email: "a@example.org" }, { allowedPeers: [bob.peerId] })
    expect(receipt).toEqual({ key: "user:profile", version: 1 })
    expect(await bob.distributedStorage.retrieve("user:profile")).toEqual({ name: "Alice", email: "a@example.org" })
    expect(await carol.distributedStorage.retrieve("user:profile")).toBeNull()
    await bob.distributedStorage.subscribe("user:profile")
    await alice.distributedStorage.update("user:profile", { name: "Alice", email: "alice@example.org" })
    await until("bob hears the update", () => updatedAtBob.some((e) => e.key === "user:profile" && e.version === 2))
    expect(updatedAtBob.find((e) => e.version === 2)).toMatchObject({ value: { name: "Alice", email: "alice@example.org" }, by: alice.peerId })

    // public board: carol subscribed first, dave is granted write
    expect(await carol.distributedStorage.subscribe("board")).toBeNull()
    await alice.distributedStorage.store("board", { items: ["milk"] }, { space: "public" })
    await until("carol hears the store", () => storedAtCarol.some((e) => e.key === "board"))
    expect(await reasonOf(dave.distributedStorage.update("board", { items: ["spam"] }))).toBe("not-writer")
    await alice.distributedStorage.grantAccess("board", dave.peerId, { write: true })
    await dave.distributedStorage.update("board", { items: ["milk", "eggs"] })
    await until("alice hears dave's change", () => updatedAtAlice.some((e) => e.key === "board" && e.by === dave.peerId))
    expect(await carol.distributedStorage.retrieve("board")).toEqual({ items: ["milk", "eggs"] })

    // frozen: nobody changes it
    await alice.distributedStorage.store("app:config", { v: 1 }, { isImmutable: true })
    expect(await reasonOf(alice.distributedStorage.update("app:config", { v: 2 }))).toBe("frozen")
    expect(await reasonOf(carol.distributedStorage.store("app:config", { v: 666 }, { isImmutable: true }))).toBe("not-owner")
    expect(await dave.distributedStorage.retrieve("app:config")).toEqual({ v: 1 })

    // revoke: bob is told, and cannot read the next version
    await alice.distributedStorage.revokeAccess("user:profile", bob.peerId)
    await alice.distributedStorage.update("user:profile", { name: "Alice", email: "new@example.org" })
    await until("bob hears the revocation", () => revokedAtBob.some((e) => e.peerId === bob.peerId))
    expect(await bob.distributedStorage.retrieve("user:profile")).toBeNull()
    expect(updatedAtBob.some((e) => e.key === "user:profile" && e.version > 3)).toBe(false)

    const info = await alice.distributedStorage.getKeyInfo("user:profile")
    expect(info).toMatchObject({ owner: alice.peerId, space: "private", epoch: 1, owned: true, accessible: true, allowedPeers: [] })
    expect(await alice.distributedStorage.listKeys()).toEqual(["app:config", "board", "user:profile"])
    expect(await alice.distributedStorage.getStats()).toMatchObject({ ownedKeys: 3, enabled: true })
    expect(await alice.distributedStorage.delete("board")).toBe(true)
    expect(await carol.distributedStorage.retrieve("board")).toBeNull()
  }, 120_000)

  it("a CRDT document: getDocument gives a live Y.Doc; text typed at one peer appears at the other", async () => {
    const [alice, bob] = await join(new MemoryNetwork(), 4, { maxPeers: 3, minPeers: 2 })
    await keyKnown(alice!, bob!.peerId)
    await alice!.distributedStorage.store("doc:notes", { title: "Notes" }, { enableCRDT: true, allowedPeers: [bob!.peerId] })
    await alice!.distributedStorage.grantAccess("doc:notes", bob!.peerId, { write: true })
    const a = await alice!.distributedStorage.getDocument("doc:notes")
    const b = await bob!.distributedStorage.getDocument("doc:notes")
    a.getText("content").insert(0, "hello ")
    b.getText("content").insert(0, "world ")
    await until("both texts equal", () => a.getText("content").toJSON() === b.getText("content").toJSON() && a.getText("content").length === 12)
    expect(await bob!.distributedStorage.retrieve("doc:notes")).toEqual({ title: "Notes" })
  }, 60_000)
})
