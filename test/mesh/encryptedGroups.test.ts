/**
 * Encrypted group broadcasts on a memory network: the owner hands the group key to members
 * in encrypted direct messages; members read `sendEncryptedBroadcast` (encrypted: true, with
 * the groupId); a non-member that receives the same gossip reads nothing; a removed member
 * cannot read what is sent after its removal; a member added later reads from then on.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, PubSub } from "effect"
import { CryptoManager } from "../../src/crypto/CryptoManager.ts"
import { KeyDirectory } from "../../src/crypto/KeyDirectory.ts"
import { E2E_GROUP_KIND } from "../../src/crypto/messaging.ts"
import { MemoryNetwork } from "../../src/layers/MemoryNetwork.ts"
import { Gossip } from "../../src/services/Gossip.ts"
import { Mesh } from "../../src/services/Mesh.ts"
import { graph, isConnectedGraph, received, startNodes, type TestNode, waitFor } from "../support/memoryMesh.ts"

const mesh = <A, E>(node: TestNode, f: (m: Mesh["Service"]) => Effect.Effect<A, E>) => node.run(Mesh.use(f))
const epochAt = (node: TestNode, groupId: string) =>
  node.run(CryptoManager.use((c) => Effect.map(c.getGroup(groupId), (g) => g?.epoch ?? -1)))
const got = (node: TestNode, id: string) => received(node).find((m) => m.messageId === id)

describe("encrypted group broadcasts", () => {
  it.live("members read, non-members and removed members do not; keys handed out in encrypted direct messages", () =>
    Effect.gen(function*() {
      const network = new MemoryNetwork({ latencyMs: 1 })
      const nodes = yield* startNodes(network, 6, { maxPeers: 3, minPeers: 2 })
      const [owner, m1, m2, outsider, late, other] = nodes as [TestNode, TestNode, TestNode, TestNode, TestNode, TestNode]
      yield* waitFor("mesh formed", Effect.map(graph(nodes), isConnectedGraph), 30_000)
      yield* waitFor("keys published", Effect.map(Effect.forEach(nodes, (n) => n.run(KeyDirectory.use((d) => d.published))), (p) => p.every(Boolean)), 30_000)

      // group messages the outsider and m2 receive by gossip, whether or not they can read them
      const arrivals = new Map<string, Set<string>>([[outsider.peerId, new Set()], [m2.peerId, new Set()]])
      for (const n of [outsider, m2]) {
        const delivered = yield* (yield* n.run(Gossip.use(Effect.succeed))).subscribe
        yield* Effect.gen(function*() {
          while (true) {
            const d = yield* PubSub.take(delivered)
            if (d.kind === E2E_GROUP_KIND) arrivals.get(n.peerId)!.add(d.id)
          }
        }).pipe(Effect.forkScoped)
      }
      /** `id` reached `node` by gossip and was handled (a later plaintext marker was delivered after it). */
      const handledAt = (node: TestNode, id: string) =>
        Effect.gen(function*() {
          yield* waitFor(`${id} arrived`, Effect.sync(() => arrivals.get(node.peerId)!.has(id)))
          const marker = yield* mesh(other, (m) => m.sendMessage({ marker: id }))
          yield* waitFor("marker handled", Effect.sync(() => got(node, marker) !== undefined))
        })

      const created = yield* mesh(owner, (m) => m.createGroup("team", [m1.peerId, m2.peerId]))
      assert.deepStrictEqual([...created.handedTo].sort(), [m1.peerId, m2.peerId].sort())
      assert.deepStrictEqual(created.missing, [])
      assert.strictEqual(created.epoch, 0)
      yield* waitFor("members hold the key", Effect.map(Effect.forEach([m1, m2], (n) => epochAt(n, "team")), (e) => e.every((x) => x === 0)))
      assert.strictEqual(yield* epochAt(outsider, "team"), -1)

      const first = yield* mesh(owner, (m) => m.sendEncryptedBroadcast({ text: "team secret one" }, "team"))
      yield* waitFor("members read it", Effect.sync(() => [m1, m2].every((n) => got(n, first) !== undefined)))
      for (const n of [m1, m2]) {
        const m = got(n, first)!
        assert.deepStrictEqual(m.content, { text: "team secret one" })
        assert.isTrue(m.encrypted)
        assert.strictEqual(m.groupId, "team")
        assert.strictEqual(m.from, owner.peerId)
        assert.isFalse(m.direct)
      }
      yield* handledAt(outsider, first)
      assert.isUndefined(got(outsider, first), "the outsider got the gossip but cannot read it")
      assert.isFalse(received(outsider).some((m) => JSON.stringify(m.content).includes("team secret")))

      // a member speaks to the group; a non-member cannot
      const fromMember = yield* mesh(m1, (m) => m.sendEncryptedBroadcast("from m1", "team"))
      yield* waitFor("owner and m2 read m1", Effect.sync(() => [owner, m2].every((n) => got(n, fromMember)?.content === "from m1")))
      const outsiderSend = yield* Effect.exit(mesh(outsider, (m) => m.sendEncryptedBroadcast("let me in", "team")))
      assert.isTrue(Exit.isFailure(outsiderSend))

      // removal re-keys: m2 keeps epoch 0 and cannot read epoch 1
      const removed = yield* mesh(owner, (m) => m.removeFromGroup("team", [m2.peerId]))
      assert.strictEqual(removed.epoch, 1)
      assert.deepStrictEqual(removed.handedTo, [m1.peerId])
      yield* waitFor("m1 has epoch 1", Effect.map(epochAt(m1, "team"), (e) => e === 1))
      const after = yield* mesh(owner, (m) => m.sendEncryptedBroadcast({ text: "after removal" }, "team"))
      yield* waitFor("m1 reads it", Effect.sync(() => got(m1, after) !== undefined))
      yield* handledAt(m2, after)
      assert.isUndefined(got(m2, after), "the removed member cannot read it")
      assert.strictEqual(yield* epochAt(m2, "team"), 0)

      // a member added later reads what is sent from then on
      const added = yield* mesh(owner, (m) => m.addToGroup("team", [late.peerId]))
      assert.strictEqual(added.epoch, 2)
      yield* waitFor("late and m1 have epoch 2", Effect.map(Effect.forEach([late, m1], (n) => epochAt(n, "team")), (e) => e.every((x) => x === 2)))
      const third = yield* mesh(owner, (m) => m.sendEncryptedBroadcast("welcome", "team"))
      yield* waitFor("late and m1 read it", Effect.sync(() => [late, m1].every((n) => got(n, third)?.content === "welcome")))
      assert.isUndefined(got(late, first))
    }).pipe(Effect.scoped), 90_000)
})
