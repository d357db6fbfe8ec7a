import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { decrypt, encrypt } from "../../src/crypto/envelope.ts"
import {
  acceptHandoff,
  decryptGroup,
  encryptGroup,
  type GroupKey,
  handoffContent,
  handOut,
  makeGroupKey,
  rotate
} from "../../src/crypto/group.ts"
import { ReplayGuard } from "../../src/crypto/replay.ts"
import { expectRefusal, flipChar, makePeer, type Peer, resignGroup } from "./support.ts"

/** Four peers; alice owns a group of alice, bob and carol; dave is outside. */
const setup = Effect.gen(function*() {
  const [alice, bob, carol, dave] = yield* Effect.all([makePeer(), makePeer(), makePeer(), makePeer()])
  const peers = [alice!, bob!, carol!, dave!]
  const keyOf = (id: string) => peers.find((p) => p.identity.peerId === id)?.pair.publicKey
  const group = yield* makeGroupKey("team", alice!.identity.peerId, [bob!.identity.peerId, carol!.identity.peerId], 0)
  return { alice: alice!, bob: bob!, carol: carol!, dave: dave!, keyOf, group }
})

/** What `peer` holds after opening its hand-off (from `out`) of a group. */
const receive = (peer: Peer, out: { readonly handoffs: ReadonlyArray<{ readonly peerId: string; readonly envelope: unknown }> }, held?: GroupKey) =>
  Effect.gen(function*() {
    const mine = out.handoffs.find((h) => h.peerId === peer.identity.peerId)
    assert.isDefined(mine)
    return yield* acceptHandoff(yield* decrypt(mine!.envelope, peer.recipient), peer.identity.peerId, held)
  })

describe("group keys", () => {
  it.effect("the owner hands the key to each other member; members read each other's broadcasts", () =>
    Effect.gen(function*() {
      const { alice, bob, carol, dave, group, keyOf } = yield* setup
      assert.deepStrictEqual(group.members, [alice.identity.peerId, bob.identity.peerId, carol.identity.peerId].sort())
      const out = yield* handOut(group, alice.identity, keyOf)
      assert.deepStrictEqual(out.handoffs.map((h) => h.peerId).sort(), [bob.identity.peerId, carol.identity.peerId].sort())
      assert.deepStrictEqual(out.missing, [])
      // a hand-off is an ordinary envelope: dave cannot open bob's
      yield* expectRefusal(decrypt(out.handoffs[0]!.envelope, dave.recipient), "wrong-recipient")
      const bobs = yield* receive(bob, out)
      const carols = yield* receive(carol, out)
      assert.strictEqual(bobs.epoch, 0)
      assert.deepStrictEqual(bobs.members, group.members)
      const msg = yield* encryptGroup({ hi: "all" }, group, alice.identity)
      assert.notInclude(JSON.stringify(msg), "all")
      assert.deepStrictEqual((yield* decryptGroup(msg, () => bobs, new ReplayGuard())).content, { hi: "all" })
      assert.deepStrictEqual((yield* decryptGroup(JSON.stringify(msg), () => carols, new ReplayGuard())).content, { hi: "all" })
      const fromBob = yield* encryptGroup("from bob", bobs, bob.identity)
      const opened = yield* decryptGroup(fromBob, () => group, new ReplayGuard())
      assert.strictEqual(opened.from, bob.identity.peerId)
      assert.strictEqual(opened.content, "from bob")
    }))

  it.effect("members without a known key are listed as missing", () =>
    Effect.gen(function*() {
      const { alice, bob, group, keyOf } = yield* setup
      const out = yield* handOut(group, alice.identity, (id) => (id === bob.identity.peerId ? keyOf(id) : undefined))
      assert.deepStrictEqual(out.handoffs.map((h) => h.peerId), [bob.identity.peerId])
      assert.strictEqual(out.missing.length, 1)
    }))

  it.effect("a removed member cannot read what is sent after the rotation", () =>
    Effect.gen(function*() {
      const { alice, bob, carol, group, keyOf } = yield* setup
      const first = yield* handOut(group, alice.identity, keyOf)
      const bob0 = yield* receive(bob, first)
      const carol0 = yield* receive(carol, first)
      const before = yield* encryptGroup("before", group, alice.identity)

      const next = yield* rotate(group, alice.identity.peerId, group.members.filter((m) => m !== carol.identity.peerId))
      assert.strictEqual(next.epoch, 1)
      assert.notDeepEqual(next.raw, group.raw)
      const second = yield* handOut(next, alice.identity, keyOf)
      assert.deepStrictEqual(second.handoffs.map((h) => h.peerId), [bob.identity.peerId])
      const bob1 = yield* receive(bob, second, bob0)
      assert.strictEqual(bob1.epoch, 1)

      const after = yield* encryptGroup("after", next, alice.identity)
      assert.strictEqual((yield* decryptGroup(after, () => bob1, new ReplayGuard())).content, "after")
      // carol holds epoch 0 only: the new epoch is not hers
      yield* expectRefusal(decryptGroup(after, () => carol0, new ReplayGuard()), "unknown-key")
      // and her old key does not open it even if she pretends it is the new epoch's
      yield* expectRefusal(decryptGroup(after, () => ({ ...carol0, epoch: 1 }), new ReplayGuard()), "decrypt-failed")
      // nor can she take bob's hand-off
      yield* expectRefusal(decrypt(second.handoffs[0]!.envelope, carol.recipient), "wrong-recipient")

      // old-epoch messages are refused once the new epoch is held: from before, and from carol after
      yield* expectRefusal(decryptGroup(before, () => bob1, new ReplayGuard()), "old-epoch")
      const fromCarol = yield* encryptGroup("still here?", carol0, carol.identity)
      yield* expectRefusal(decryptGroup(fromCarol, () => bob1, new ReplayGuard()), "old-epoch")
    }))

  it.effect("adding a member rotates too: the newcomer cannot read the previous epoch", () =>
    Effect.gen(function*() {
      const { alice, dave, group, keyOf } = yield* setup
      const before = yield* encryptGroup("before dave", group, alice.identity)
      const next = yield* rotate(group, alice.identity.peerId, [...group.members, dave.identity.peerId])
      const dave1 = yield* receive(dave, yield* handOut(next, alice.identity, keyOf))
      assert.include(dave1.members, dave.identity.peerId)
      yield* expectRefusal(decryptGroup(before, () => dave1, new ReplayGuard()), "old-epoch")
      yield* expectRefusal(decryptGroup(before, () => ({ ...dave1, epoch: 0 }), new ReplayGuard()), "decrypt-failed")
    }))

  it.effect("hand-offs: only the owner, only newer epochs, only listed members", () =>
    Effect.gen(function*() {
      const { alice, bob, carol, dave, group, keyOf } = yield* setup
      const bob0 = yield* receive(bob, yield* handOut(group, alice.identity, keyOf))
      // the same hand-off content again is harmless
      const again = yield* acceptHandoff({ id: "x", from: alice.identity.peerId, to: bob.identity.peerId, ts: 0, content: handoffContent(group) }, bob.identity.peerId, bob0)
      assert.strictEqual(again, bob0)
      // carol forges a hand-off of alice's group
      const forged = { ...handoffContent(group), key: handoffContent(yield* makeGroupKey("team", carol.identity.peerId, [], 5)).key, epoch: 5 }
      const sealed = yield* encrypt(forged, bob.identity.peerId, bob.pair.publicKey, carol.identity)
      yield* expectRefusal(Effect.flatMap(decrypt(sealed, bob.recipient), (d) => acceptHandoff(d, bob.identity.peerId, bob0)), "not-owner")
      // carol's own group of the same name does not replace alice's
      const squat = yield* makeGroupKey("team", carol.identity.peerId, [bob.identity.peerId], 9)
      const squatting = yield* handOut(squat, carol.identity, keyOf)
      yield* expectRefusal(Effect.flatMap(decrypt(squatting.handoffs[0]!.envelope, bob.recipient), (d) => acceptHandoff(d, bob.identity.peerId, bob0)), "not-owner")
      // an older or equal epoch with another key
      const stale = { id: "y", from: alice.identity.peerId, to: bob.identity.peerId, ts: 0 }
      const other0 = yield* makeGroupKey("team", alice.identity.peerId, [bob.identity.peerId], 0)
      yield* expectRefusal(acceptHandoff({ ...stale, content: handoffContent(other0) }, bob.identity.peerId, bob0), "old-epoch")
      // a hand-off not naming this peer
      const without = yield* makeGroupKey("team", alice.identity.peerId, [carol.identity.peerId], 1)
      yield* expectRefusal(acceptHandoff({ ...stale, content: handoffContent(without) }, bob.identity.peerId, bob0), "not-member")
      // not a hand-off at all
      yield* expectRefusal(acceptHandoff({ ...stale, content: { t: "pp-group-key" } }, bob.identity.peerId, bob0), "malformed")
      // only the owner rotates
      yield* expectRefusal(rotate(bob0, bob.identity.peerId, []), "not-owner")
      assert.isDefined(dave)
    }))

  it.effect("group messages: non-members, forgeries, tampering and replays are refused", () =>
    Effect.gen(function*() {
      const { alice, bob, carol, dave, group } = yield* setup
      const guard = new ReplayGuard()
      // dave made himself a copy of the group that lists him; the real members do not
      const daves = { ...group, members: [...group.members, dave.identity.peerId] }
      yield* expectRefusal(decryptGroup(yield* encryptGroup("hi", daves, dave.identity), () => group, guard), "not-member")
      yield* expectRefusal(encryptGroup("hi", group, dave.identity), "not-member")
      const msg = yield* encryptGroup({ n: 1 }, group, alice.identity)
      yield* expectRefusal(decryptGroup({ ...msg, ct: flipChar(msg.ct, 4) }, () => group, guard), "bad-signature")
      yield* expectRefusal(decryptGroup({ ...msg, from: carol.identity.peerId }, () => group, guard), "bad-sender-key")
      // bob claims alice's message as his own: the header is the associated data
      const claimed = yield* resignGroup({ ...msg, from: bob.identity.peerId, fromKey: bob.identity.publicKey }, bob.identity)
      yield* expectRefusal(decryptGroup(claimed, () => group, guard), "decrypt-failed")
      yield* expectRefusal(decryptGroup({ ...msg, groupId: "other" }, () => undefined, guard), "unknown-group")
      yield* expectRefusal(decryptGroup({ ...msg, groupId: "a:b" }, () => group, guard), "malformed")
      yield* expectRefusal(decryptGroup("{not json", () => group, guard), "malformed")
      yield* decryptGroup(msg, () => group, guard)
      yield* expectRefusal(decryptGroup(msg, () => group, guard), "replay")
    }))

  it.effect("bounds: member count, group id, member ids", () =>
    Effect.gen(function*() {
      const { alice } = yield* setup
      const many = Array.from({ length: 10 }, (_, i) => i.toString(16).padStart(40, "0"))
      yield* expectRefusal(makeGroupKey("g", alice.identity.peerId, many, 0, 5), "limit")
      yield* expectRefusal(makeGroupKey("", alice.identity.peerId, [], 0), "malformed")
      yield* expectRefusal(makeGroupKey("x".repeat(129), alice.identity.peerId, [], 0), "malformed")
      yield* expectRefusal(makeGroupKey("g", alice.identity.peerId, ["nope"], 0), "malformed")
      const upper = yield* makeGroupKey("g", alice.identity.peerId, [many[1]!.toUpperCase().replace(/^0/, "A")], 0)
      assert.isTrue(upper.members.every((m) => m === m.toLowerCase()))
    }))
})
