import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { announce, keyIdOf, verifyAnnouncement } from "../../src/crypto/keys.ts"
import { fromBase64Url, makeWebPrimitives, type WebKey } from "../../src/crypto/primitives.ts"
import { expectRefusal, flipChar, makePeer } from "./support.ts"

describe("encryption keys and their announcements", () => {
  it.effect("a fresh X25519 key, separate from the identity", () =>
    Effect.gen(function*() {
      const alice = yield* makePeer()
      assert.strictEqual(fromBase64Url(alice.pair.publicKey, 32)?.length, 32)
      assert.notStrictEqual(alice.pair.publicKey, alice.identity.publicKey)
      assert.strictEqual(alice.pair.kid, keyIdOf(alice.pair.publicKey))
      const other = yield* makePeer()
      assert.notStrictEqual(other.pair.publicKey, alice.pair.publicKey)
      // Node backend: a KeyObject of type x25519
      assert.strictEqual((alice.pair.privateKey as { readonly asymmetricKeyType?: string }).asymmetricKeyType, "x25519")
    }))

  it.effect("in browsers (the WebCrypto backend) the private key cannot be exported", () =>
    Effect.gen(function*() {
      const pair = yield* makeWebPrimitives().keyPair
      const key = pair.privateKey as WebKey
      assert.strictEqual(key.extractable, false)
      assert.strictEqual(key.algorithm.name, "X25519")
      const exported = yield* Effect.promise(() => crypto.subtle.exportKey("pkcs8", key).then(() => "exported", () => "refused"))
      assert.strictEqual(exported, "refused")
    }))

  it.effect("a signed announcement verifies, as an object or as JSON", () =>
    Effect.gen(function*() {
      const { announcement, identity, pair } = yield* makePeer()
      assert.deepStrictEqual(yield* verifyAnnouncement(announcement), announcement)
      assert.deepStrictEqual(yield* verifyAnnouncement(JSON.stringify(announcement)), announcement)
      assert.strictEqual(announcement.peerId, identity.peerId)
      assert.strictEqual(announcement.encryptionKey, pair.publicKey)
    }))

  it.effect("forged, re-attributed or malformed announcements are refused", () =>
    Effect.gen(function*() {
      const alice = yield* makePeer()
      const mallory = yield* makePeer()
      const a = alice.announcement
      // mallory swaps in her encryption key
      yield* expectRefusal(verifyAnnouncement({ ...a, encryptionKey: mallory.pair.publicKey }), "bad-signature")
      yield* expectRefusal(verifyAnnouncement({ ...a, ts: a.ts + 1 }), "bad-signature")
      yield* expectRefusal(verifyAnnouncement({ ...a, sig: flipChar(a.sig, 10) }), "bad-signature")
      // mallory signs an announcement of her key for alice's id: the id does not derive from her identity key
      const claimed = yield* announce({ ...mallory.identity, peerId: alice.identity.peerId as never }, mallory.pair.publicKey, 1)
      yield* expectRefusal(verifyAnnouncement(claimed), "bad-sender-key")
      // ... nor with alice's identity key named: then her signature does not verify under it
      yield* expectRefusal(verifyAnnouncement({ ...claimed, identityKey: alice.identity.publicKey }), "bad-signature")
      for (const bad of [null, "{", "[]", { ...a, v: 2 }, { ...a, peerId: "x" }, { ...a, encryptionKey: "short" }, { ...a, ts: -5 }, "x".repeat(10_000)]) {
        yield* expectRefusal(verifyAnnouncement(bad), "malformed")
      }
      yield* expectRefusal(verifyAnnouncement(a, { now: -120_000, maxSkewMs: 60_000 }), "future")
    }))

  it.effect("a custom (unverified) id's announcement is refused", () =>
    Effect.gen(function*() {
      const custom = yield* makePeer({ customId: "ab".repeat(20) })
      assert.isFalse(custom.identity.verified)
      yield* expectRefusal(verifyAnnouncement(custom.announcement), "bad-sender-key")
    }))
})
