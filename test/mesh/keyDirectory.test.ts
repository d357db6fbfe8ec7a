/**
 * The key directory on a memory network: encryption keys learnt in link handshakes and,
 * for any other peer, from the DHT under `pp/keys/<peerId>`; forged directory records
 * (another peer's key, a bad announcement signature) refused by holders and by the resolver.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit } from "effect"
import { CryptoManager } from "../../src/crypto/CryptoManager.ts"
import { keyDirectoryKey } from "../../src/crypto/directoryRecord.ts"
import { KeyDirectory } from "../../src/crypto/KeyDirectory.ts"
import { announce, generateEncryptionKeyPair } from "../../src/crypto/keys.ts"
import { MemoryNetwork } from "../../src/layers/MemoryNetwork.ts"
import { Dht } from "../../src/services/Dht.ts"
import { Identity } from "../../src/services/Identity.ts"
import { startHostile } from "../dht/hostile.ts"
import { connectedOf, graph, isConnectedGraph, startNodes, type TestNode, waitFor, wire } from "../support/memoryMesh.ts"

const crypto = <A, E>(node: TestNode, f: (c: CryptoManager["Service"]) => Effect.Effect<A, E>) => node.run(CryptoManager.use(f))
const directory = <A, E>(node: TestNode, f: (d: KeyDirectory["Service"]) => Effect.Effect<A, E>) => node.run(KeyDirectory.use(f))
const published = (node: TestNode) => directory(node, (d) => d.published)

describe("key directory", () => {
  it.live("a neighbour's key arrives in the link handshake, verified, with a PeerKeyAdded event", () =>
    Effect.gen(function*() {
      const network = new MemoryNetwork({ latencyMs: 1 })
      const [a, b] = yield* startNodes(network, 2, { enableWebDHT: false })
      yield* waitFor("a and b linked", Effect.map(connectedOf(a!), (p) => p.includes(b!.peerId)))
      yield* waitFor("a holds b's key", Effect.map(crypto(a!, (c) => c.getPeerKey(b!.peerId)), (k) => k !== undefined))
      // each side takes the other's key from its own handshake: b's may come a moment later
      yield* waitFor("b holds a's key", Effect.map(crypto(b!, (c) => c.getPeerKey(a!.peerId)), (k) => k !== undefined))
      const held = yield* crypto(a!, (c) => c.getPeerKey(b!.peerId))
      assert.deepStrictEqual(held, yield* crypto(b!, (c) => c.getAnnouncement))
      assert.deepStrictEqual(yield* crypto(b!, (c) => c.getPeerKey(a!.peerId)), yield* crypto(a!, (c) => c.getAnnouncement))
      yield* waitFor("PeerKeyAdded at a", Effect.sync(() => a!.events.some((e) => e._tag === "PeerKeyAdded" && e.peerId === b!.peerId)))
      // without the DHT, nothing is published, and an unknown peer's key is a typed failure
      assert.isFalse(yield* published(a!))
      const unknown = yield* Effect.exit(directory(a!, (d) => d.resolvePeerKey("ab".repeat(20))))
      assert.isTrue(Exit.isFailure(unknown))
      assert.strictEqual(Exit.isFailure(unknown) && unknown.cause.reasons[0]?._tag === "Fail" ? unknown.cause.reasons[0].error.reason : "", "unknown-key")
    }).pipe(Effect.scoped), 30_000)

  it.live("on request: with no directory (DHT off), a non-neighbour's key comes from the peer itself", () =>
    Effect.gen(function*() {
      const network = new MemoryNetwork({ latencyMs: 1 })
      const [a, relay, b] = yield* startNodes(network, 3, { enableWebDHT: false, autoDiscovery: false, maxPeers: 2, minPeers: 0 })
      yield* wire([a!, relay!, b!], [[0, 1], [1, 2]])
      assert.isUndefined(yield* crypto(a!, (c) => c.getPeerKey(b!.peerId)))
      assert.deepStrictEqual(yield* directory(a!, (d) => d.resolvePeerKey(b!.peerId)), yield* crypto(b!, (c) => c.getAnnouncement))
      assert.isDefined(yield* crypto(a!, (c) => c.getPeerKey(b!.peerId)))
    }).pipe(Effect.scoped), 30_000)

  it.live("enableCrypto: false sends no key in the handshake and refuses every crypto call", () =>
    Effect.gen(function*() {
      const network = new MemoryNetwork({ latencyMs: 1 })
      const [a] = yield* startNodes(network, 1, { enableWebDHT: false })
      const [off] = yield* startNodes(network, 1, { enableWebDHT: false, enableCrypto: false })
      yield* waitFor("linked", Effect.map(connectedOf(a!), (p) => p.includes(off!.peerId)))
      assert.isUndefined(yield* crypto(a!, (c) => c.getPeerKey(off!.peerId)))
      const exit = yield* Effect.exit(crypto(off!, (c) => c.encrypt("x", a!.peerId)))
      assert.strictEqual(Exit.isFailure(exit) && exit.cause.reasons[0]?._tag === "Fail" ? exit.cause.reasons[0].error.reason : "", "disabled")
    }).pipe(Effect.scoped), 30_000)

  it.live("a non-neighbour's key comes from the DHT; forged directory records are refused by holders and by the resolver", () =>
    Effect.gen(function*() {
      const network = new MemoryNetwork({ latencyMs: 1 })
      const base = { maxPeers: 2, minPeers: 1, presenceInterval: 1000, dht: { replicateInterval: 2000, rpcTimeout: 2000 } }
      // 5 honest nodes and a hostile one (its own DHT and crypto off: it speaks the DHT by hand),
      // few enough that every lookup asks every node, the hostile one included
      const honest = yield* startNodes(network, 5, base)
      const [evil] = yield* startNodes(network, 1, { ...base, enableWebDHT: false, enableCrypto: false })
      const all = [...honest, evil!]
      yield* waitFor("mesh formed", Effect.map(graph(all), (g) => isConnectedGraph(g)), 30_000)
      const hostile = yield* startHostile(evil!)
      yield* waitFor("every honest key published", Effect.map(Effect.forEach(honest, published), (p) => p.every(Boolean)), 30_000)

      // a reader and a peer it is not linked to (or whose link-learnt key it forgets)
      const reader = honest[0]!
      const neighbours = yield* connectedOf(reader)
      const target = honest.slice(1).find((n) => !neighbours.includes(n.peerId)) ?? honest[4]!
      yield* crypto(reader, (c) => c.removePeerKey(target.peerId))
      assert.isUndefined(yield* crypto(reader, (c) => c.getPeerKey(target.peerId)))
      const genuine = yield* crypto(target, (c) => c.getAnnouncement)
      assert.deepStrictEqual(yield* directory(reader, (d) => d.resolvePeerKey(target.peerId)), genuine)
      assert.deepStrictEqual(yield* crypto(reader, (c) => c.getPeerKey(target.peerId)), genuine, "held once resolved")

      // 1. written by another peer: the hostile one stores its own valid announcement under the target's key
      const evilIdentity = Context.get(evil!.context, Identity)
      const evilPair = yield* Effect.orDie(generateEncryptionKeyPair(Date.now()))
      const evilAnnouncement = yield* announce(evilIdentity, evilPair.publicKey, Date.now())
      const key = keyDirectoryKey(target.peerId)
      const holders = yield* honest[1]!.run(Dht.use((d) => d.holders(key)))
      assert.isAbove(holders.length, 0)
      const squat = yield* hostile.sign({ key, value: evilAnnouncement as never, version: 2 })
      for (const to of holders) {
        const answer = yield* hostile.request(to, { op: "store", record: squat as never })
        assert.deepInclude(answer?.answer, { op: "stored", ok: false }, `holder ${to} refused the squat`)
      }
      // nor squatted before its peer published: a key no one holds yet, at every honest node
      const unclaimed = keyDirectoryKey("c0".repeat(20))
      const early = yield* hostile.sign({ key: unclaimed, value: evilAnnouncement as never })
      for (const to of honest.map((n) => n.peerId)) {
        const answer = yield* hostile.request(to, { op: "store", record: early as never })
        assert.deepInclude(answer?.answer, { op: "stored", ok: false }, `${to} refused the early squat`)
      }
      // even as a writable record of its own, a directory key is only its peer's
      const own = keyDirectoryKey(hostile.peerId)
      const writable = yield* hostile.sign({ key: own, value: evilAnnouncement as never, writable: true })
      const bad = { ...evilAnnouncement, encryptionKey: genuine.encryptionKey }
      const badSig = yield* hostile.sign({ key: own, value: bad as never })
      const othersAnnouncement = yield* hostile.sign({ key: own, value: genuine as never })
      const ownHolders = yield* honest[1]!.run(Dht.use((d) => d.holders(key)))
      for (const record of [writable, badSig, othersAnnouncement]) {
        for (const to of [...holders, ...ownHolders].slice(0, 3)) {
          const answer = yield* hostile.request(to, { op: "store", record: record as never })
          assert.deepInclude(answer?.answer, { op: "stored", ok: false })
        }
      }

      // 2. the resolver: the hostile peer answers every find with forged copies
      hostile.forged.set(key, squat)
      hostile.forged.set(own, badSig)
      yield* crypto(reader, (c) => c.removePeerKey(target.peerId))
      assert.deepStrictEqual(yield* directory(reader, (d) => d.resolvePeerKey(target.peerId)), genuine, "the genuine key, not the squat")
      const forged = yield* Effect.exit(directory(reader, (d) => d.resolvePeerKey(hostile.peerId)))
      assert.isTrue(Exit.isFailure(forged), "a directory entry with a bad signature is not taken")
      assert.isTrue(hostile.seen.some((s) => s.from === reader.peerId && s.content.op === "find" && s.content.key === own), "the forgery was offered")
      assert.isUndefined(yield* crypto(reader, (c) => c.getPeerKey(hostile.peerId)))

      // 3. a rotated key is published again, and a fresh resolve finds it
      const rotated = yield* crypto(target, (c) => c.generateKeyPair)
      assert.notStrictEqual(rotated.encryptionKey, genuine.encryptionKey)
      yield* waitFor("rotated key published", published(target), 20_000)
      yield* crypto(reader, (c) => c.removePeerKey(target.peerId))
      assert.deepStrictEqual(yield* directory(reader, (d) => d.resolvePeerKey(target.peerId)), rotated)
    }).pipe(Effect.scoped), 90_000)
})
