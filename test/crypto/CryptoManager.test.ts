import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, PubSub } from "effect"
import { TestClock } from "effect/testing"
import { encrypt } from "../../src/crypto/envelope.ts"
import { CryptoConfig, type CryptoEvent, CryptoManager, type CryptoOptions, make } from "../../src/crypto/CryptoManager.ts"
import { Identity } from "../../src/services/Identity.ts"
import * as IdentityModule from "../../src/services/Identity.ts"
import { expectRefusal, makePeer } from "./support.ts"

/** A manager over a fresh identity, in the caller's Scope. */
const manager = (options: CryptoOptions = {}, customId?: string) =>
  Effect.gen(function*() {
    const identity = yield* Effect.orDie(IdentityModule.make(customId))
    const crypto = yield* make.pipe(Effect.provideService(Identity, identity), Effect.provideService(CryptoConfig, options))
    return { crypto, peerId: identity.peerId as string, identity }
  })

/** Two managers that know each other's keys. */
const pair = (options: CryptoOptions = {}) =>
  Effect.gen(function*() {
    const a = yield* manager(options)
    const b = yield* manager(options)
    yield* a.crypto.addPeerKey(yield* b.crypto.getAnnouncement)
    yield* b.crypto.addPeerKey(yield* a.crypto.getAnnouncement)
    return { a, b }
  })

/** Events published so far, without waiting. */
const drain = (subscription: PubSub.Subscription<CryptoEvent>) => PubSub.takeAll(subscription)

describe("CryptoManager", () => {
  it.effect("the layer builds on Identity; init is idempotent and reports cryptoReady once", () =>
    Effect.gen(function*() {
      const crypto = yield* CryptoManager
      const events = yield* crypto.subscribe
      const first = yield* crypto.init
      const second = yield* crypto.init
      assert.deepStrictEqual(second, first)
      assert.strictEqual(yield* crypto.getPublicKey, first.encryptionKey)
      assert.strictEqual(first.peerId, (yield* Identity).peerId)
      const seen = yield* drain(events)
      // the announcement to publish, then readiness; once
      assert.deepStrictEqual(seen.map((e) => e._tag), ["KeyAnnounced", "CryptoReady"])
      assert.deepStrictEqual(seen[0]?._tag === "KeyAnnounced" ? seen[0].announcement : undefined, first)
      // a rotation announces again, without a second CryptoReady
      const rotated = yield* crypto.generateKeyPair
      assert.deepStrictEqual((yield* drain(events)).map((e) => (e._tag === "KeyAnnounced" ? e.announcement : e._tag)), [rotated])
    }).pipe(Effect.provide(CryptoManager.layer.pipe(Layer.provideMerge(Identity.layer())))))

  it.effect("concurrent inits make one key", () =>
    Effect.gen(function*() {
      const { crypto } = yield* manager()
      const all = yield* Effect.all([crypto.init, crypto.init, crypto.getPublicKey, crypto.init], { concurrency: "unbounded" })
      assert.strictEqual(new Set(all.map((a) => (typeof a === "string" ? a : a.encryptionKey))).size, 1)
    }))

  it.effect("encrypt to a known peer, decrypt there; sign and verify", () =>
    Effect.gen(function*() {
      const { a, b } = yield* pair()
      const envelope = yield* a.crypto.encrypt({ secret: 1 }, b.peerId)
      const opened = yield* b.crypto.decrypt(envelope, a.peerId)
      assert.deepStrictEqual(opened.content, { secret: 1 })
      yield* expectRefusal(b.crypto.decrypt(envelope, a.peerId), "replay")
      const sig = yield* a.crypto.sign("some text")
      assert.isTrue(yield* b.crypto.verify("some text", sig, a.identity.publicKey))
      assert.isFalse(yield* b.crypto.verify("other text", sig, a.identity.publicKey))
      assert.isTrue(yield* b.crypto.verify(new TextEncoder().encode("some text"), sig, a.identity.publicKey))
    }))

  it.effect("unknown peers, forged announcements and refusals are typed and reported as cryptoError", () =>
    Effect.gen(function*() {
      const { a, b } = yield* pair()
      const events = yield* a.crypto.subscribe
      const stranger = yield* makePeer()
      yield* expectRefusal(a.crypto.encrypt(1, stranger.identity.peerId), "unknown-key")
      yield* expectRefusal(a.crypto.addPeerKey({ ...stranger.announcement, encryptionKey: (yield* b.crypto.getAnnouncement).encryptionKey }), "bad-signature")
      yield* expectRefusal(a.crypto.decrypt({ junk: true }), "malformed")
      const tags = (yield* drain(events)).map((e) => (e._tag === "CryptoError" ? e.error.reason : e._tag))
      assert.deepStrictEqual(tags, ["unknown-key", "bad-signature", "malformed"])
    }))

  it.effect("addPeerKey keeps the newest announcement and reports a new key once", () =>
    Effect.gen(function*() {
      const a = yield* manager()
      const b = yield* manager()
      const events = yield* a.crypto.subscribe
      const old = yield* b.crypto.getAnnouncement
      yield* a.crypto.addPeerKey(old)
      yield* a.crypto.addPeerKey(old)
      yield* TestClock.adjust(1000)
      const rotated = yield* b.crypto.generateKeyPair
      assert.notStrictEqual(rotated.encryptionKey, old.encryptionKey)
      assert.isTrue(rotated.ts > old.ts)
      assert.deepStrictEqual(yield* a.crypto.addPeerKey(rotated), rotated)
      assert.deepStrictEqual(yield* a.crypto.addPeerKey(old), rotated) // a late copy of the old one does not win
      assert.deepStrictEqual(yield* a.crypto.getPeerKey(b.peerId), rotated)
      assert.deepStrictEqual((yield* drain(events)).map((e) => e._tag === "PeerKeyAdded" && e.peerId), [b.peerId, b.peerId])
      assert.isTrue(yield* a.crypto.removePeerKey(b.peerId))
      assert.isUndefined(yield* a.crypto.getPeerKey(b.peerId))
    }))

  it.effect("peer keys are bounded, least recently used forgotten first", () =>
    Effect.gen(function*() {
      const { crypto } = yield* manager({ peerKeysLimit: 2 })
      const peers = yield* Effect.all([makePeer(), makePeer(), makePeer()])
      yield* crypto.addPeerKey(peers[0]!.announcement)
      yield* crypto.addPeerKey(peers[1]!.announcement)
      yield* crypto.getPeerKey(peers[0]!.identity.peerId) // used: kept
      yield* crypto.addPeerKey(peers[2]!.announcement)
      assert.isDefined(yield* crypto.getPeerKey(peers[0]!.identity.peerId))
      assert.isUndefined(yield* crypto.getPeerKey(peers[1]!.identity.peerId))
      assert.isDefined(yield* crypto.getPeerKey(peers[2]!.identity.peerId))
    }))

  it.effect("rotation: envelopes to the replaced key open for the grace period, then not", () =>
    Effect.gen(function*() {
      const { a, b } = yield* pair({ previousKeyGraceMs: 60_000, previousKeys: 1 })
      yield* b.crypto.generateKeyPair // a still holds b's first key
      const inFlight = yield* a.crypto.encrypt("sealed to the old key", b.peerId)
      assert.strictEqual((yield* b.crypto.decrypt(inFlight)).content, "sealed to the old key")
      yield* TestClock.adjust(60_001)
      yield* expectRefusal(b.crypto.decrypt(yield* a.crypto.encrypt("too late", b.peerId)), "unknown-key")
      yield* a.crypto.addPeerKey(yield* b.crypto.getAnnouncement)
      assert.strictEqual((yield* b.crypto.decrypt(yield* a.crypto.encrypt("new key", b.peerId))).content, "new key")
      // only `previousKeys` (here 1) replaced keys are kept
      const second = yield* b.crypto.getAnnouncement
      const third = yield* b.crypto.generateKeyPair
      yield* b.crypto.generateKeyPair
      const sealedTo = (key: string) => encrypt("to an old key", b.peerId, key, a.identity)
      assert.strictEqual((yield* b.crypto.decrypt(yield* sealedTo(third.encryptionKey))).content, "to an old key")
      yield* expectRefusal(b.crypto.decrypt(yield* sealedTo(second.encryptionKey)), "unknown-key")
    }))

  it.effect("key agreements kept between envelopes: reused within the ttl, started afresh by a rotation on either side, never opening for a dropped key", () =>
    Effect.gen(function*() {
      const { a, b } = yield* pair({ pairKeyTtlMs: 10_000, previousKeys: 1 })
      const e1 = yield* a.crypto.encrypt("one", b.peerId)
      const e2 = yield* a.crypto.encrypt("two", b.peerId)
      assert.strictEqual(e2.epk, e1.epk, "one ephemeral key per recipient key")
      assert.strictEqual((yield* b.crypto.decrypt(e1, a.peerId)).content, "one")
      assert.strictEqual((yield* b.crypto.decrypt(e2, a.peerId)).content, "two")
      // routed envelopes: the same agreement; only decryptRouted (a verified frame's origin) opens them
      const r1 = yield* a.crypto.encryptRouted("routed", b.peerId)
      assert.strictEqual(r1.epk, e1.epk)
      yield* expectRefusal(b.crypto.decrypt(r1, a.peerId), "bad-signature")
      yield* expectRefusal(b.crypto.decryptRouted(r1, b.peerId), "wrong-sender")
      const r2 = yield* a.crypto.encryptRouted("routed", b.peerId)
      assert.strictEqual((yield* b.crypto.decryptRouted(r2, a.peerId)).content, "routed")
      // past the ttl: a new ephemeral key
      yield* TestClock.adjust(10_000)
      const e3 = yield* a.crypto.encrypt("three", b.peerId)
      assert.notStrictEqual(e3.epk, e1.epk)
      // the sender's own rotation: a new one at once
      yield* a.crypto.generateKeyPair
      const e4 = yield* a.crypto.encrypt("four", b.peerId)
      assert.notStrictEqual(e4.epk, e3.epk)
      assert.strictEqual((yield* b.crypto.decrypt(e4, a.peerId)).content, "four")
      // the recipient rotates twice (previousKeys: 1): its first key is dropped, though it had
      // opened envelopes of this very ephemeral key; a, still on that key, is refused
      yield* b.crypto.generateKeyPair
      yield* b.crypto.generateKeyPair
      const stale = yield* a.crypto.encrypt("to a dropped key", b.peerId)
      assert.strictEqual(stale.epk, e4.epk)
      yield* expectRefusal(b.crypto.decrypt(stale, a.peerId), "unknown-key")
      // once a learns b's current key: a new ephemeral key for it
      yield* a.crypto.addPeerKey(yield* b.crypto.getAnnouncement)
      const fresh = yield* a.crypto.encrypt("five", b.peerId)
      assert.notStrictEqual(fresh.epk, e4.epk)
      assert.strictEqual(fresh.kid, (yield* b.crypto.getAnnouncement).encryptionKey.slice(0, 11))
      assert.strictEqual((yield* b.crypto.decrypt(fresh, a.peerId)).content, "five")
    }))

  it.effect("a custom (unverified) id cannot use crypto", () =>
    Effect.gen(function*() {
      const { crypto } = yield* manager({}, "cd".repeat(20))
      yield* expectRefusal(crypto.init, "bad-sender-key")
    }))

  it.effect("groups: create, broadcast, add, remove; the removed member cannot read after the rotation", () =>
    Effect.gen(function*() {
      const a = yield* manager()
      const others = yield* Effect.all([manager(), manager(), manager()])
      for (const o of others) {
        yield* a.crypto.addPeerKey(yield* o.crypto.getAnnouncement)
        yield* o.crypto.addPeerKey(yield* a.crypto.getAnnouncement)
      }
      const [b, c, d] = others as [typeof a, typeof a, typeof a]
      const deliver = (change: { readonly handoffs: ReadonlyArray<{ readonly peerId: string; readonly envelope: unknown }> }) =>
        Effect.forEach(change.handoffs, (h) => others.find((o) => o.peerId === h.peerId)!.crypto.acceptGroupKey(h.envelope))

      const created = yield* a.crypto.createGroup("room", [b.peerId, c.peerId])
      assert.strictEqual(created.epoch, 0)
      yield* deliver(created)
      assert.deepStrictEqual(yield* b.crypto.getGroup("room"), yield* a.crypto.getGroup("room"))
      const hello = yield* a.crypto.encryptGroup("hello", "room")
      assert.strictEqual((yield* b.crypto.decryptGroup(hello)).content, "hello")
      assert.strictEqual((yield* c.crypto.decryptGroup(hello)).content, "hello")
      yield* expectRefusal(d.crypto.decryptGroup(hello), "unknown-group")
      yield* expectRefusal(b.crypto.removeFromGroup("room", [c.peerId]), "not-owner")

      const added = yield* a.crypto.addToGroup("room", [d.peerId])
      assert.strictEqual(added.epoch, 1)
      yield* deliver(added)
      assert.strictEqual((yield* d.crypto.decryptGroup(yield* c.crypto.encryptGroup("from c", "room"))).content, "from c")

      const removed = yield* a.crypto.removeFromGroup("room", [c.peerId])
      assert.strictEqual(removed.epoch, 2)
      assert.notInclude(removed.members, c.peerId)
      assert.notInclude(removed.handoffs.map((h) => h.peerId), c.peerId)
      yield* deliver(removed)
      const secret = yield* a.crypto.encryptGroup("without c", "room")
      assert.strictEqual((yield* b.crypto.decryptGroup(secret)).content, "without c")
      assert.strictEqual((yield* d.crypto.decryptGroup(secret)).content, "without c")
      yield* expectRefusal(c.crypto.decryptGroup(secret), "unknown-key")
      // c still broadcasting under its old epoch is refused by the others
      yield* expectRefusal(b.crypto.decryptGroup(yield* c.crypto.encryptGroup("hello?", "room")), "old-epoch")
      // c cannot open or take a hand-off addressed to b
      yield* expectRefusal(c.crypto.acceptGroupKey(removed.handoffs[0]!.envelope), "wrong-recipient")
      assert.isTrue(yield* c.crypto.leaveGroup("room"))
      yield* expectRefusal(c.crypto.encryptGroup("x", "room"), "unknown-group")
    }))

  it.effect("groups are bounded", () =>
    Effect.gen(function*() {
      const { crypto } = yield* manager({ groupsLimit: 2, maxGroupMembers: 3 })
      yield* crypto.createGroup("g1", [])
      yield* crypto.createGroup("g2", [])
      yield* crypto.createGroup("g3", [])
      assert.isUndefined(yield* crypto.getGroup("g1"))
      const ids = Array.from({ length: 3 }, (_, i) => String(i + 1).repeat(40))
      yield* expectRefusal(crypto.createGroup("big", ids), "limit")
    }))

  it.effect("one owner's hand-offs hold at most groupsPerOwner groups here; re-keys of held groups still pass", () =>
    Effect.gen(function*() {
      const { a, b } = yield* pair({ groupsPerOwner: 2 })
      const handoff = (groupId: string) =>
        Effect.map(a.crypto.createGroup(groupId, [b.peerId]), (change) => change.handoffs[0]!.envelope)
      yield* b.crypto.acceptGroupKey(yield* handoff("g1"))
      yield* b.crypto.acceptGroupKey(yield* handoff("g2"))
      yield* expectRefusal(b.crypto.acceptGroupKey(yield* handoff("g3")), "limit")
      assert.isUndefined(yield* b.crypto.getGroup("g3"))
      const rekey = yield* a.crypto.addToGroup("g1", [])
      assert.strictEqual((yield* b.crypto.acceptGroupKey(rekey.handoffs[0]!.envelope)).epoch, 1)
      // b's own groups do not count against a's
      yield* b.crypto.createGroup("mine", [])
      assert.isDefined(yield* b.crypto.getGroup("g2"))
    }))
})
