import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { decrypt, decryptRouted, encrypt, encryptRouted, type Envelope, MAX_ENVELOPE_CHARS } from "../../src/crypto/envelope.ts"
import { toBase64Url } from "../../src/crypto/primitives.ts"
import { expectRefusal, flipChar, makePeer, resign } from "./support.ts"

const content = { text: "hello", n: 42, list: [1, "two", { three: null }], unicode: "über 🐦" }

const setup = Effect.gen(function*() {
  const alice = yield* makePeer()
  const bob = yield* makePeer()
  const carol = yield* makePeer()
  const sealed = yield* encrypt(content, bob.identity.peerId, bob.pair.publicKey, alice.identity)
  return { alice, bob, carol, sealed }
})

describe("envelope", () => {
  it.effect("round trip: the recipient opens what the sender sealed, as an object or as JSON text", () =>
    Effect.gen(function*() {
      const { alice, bob, sealed } = yield* setup
      assert.strictEqual(sealed.from, alice.identity.peerId)
      assert.strictEqual(sealed.to, bob.identity.peerId)
      assert.notInclude(JSON.stringify(sealed), "hello")
      const opened = yield* decrypt(sealed, bob.recipient, alice.identity.peerId)
      assert.deepStrictEqual(opened.content, content)
      assert.strictEqual(opened.from, alice.identity.peerId)
      const again = yield* encrypt("just a string", bob.identity.peerId, bob.pair.publicKey, alice.identity)
      assert.strictEqual((yield* decrypt(JSON.stringify(again), bob.recipient)).content, "just a string")
      const nothing = yield* encrypt(null, bob.identity.peerId, bob.pair.publicKey, alice.identity)
      assert.strictEqual((yield* decrypt(nothing, bob.recipient)).content, null)
    }))

  it.effect("two envelopes of the same content differ (fresh id, ephemeral key, nonce)", () =>
    Effect.gen(function*() {
      const { alice, bob, sealed } = yield* setup
      const other = yield* encrypt(content, bob.identity.peerId, bob.pair.publicKey, alice.identity)
      assert.notStrictEqual(other.id, sealed.id)
      assert.notStrictEqual(other.epk, sealed.epk)
      assert.notStrictEqual(other.ct, sealed.ct)
    }))

  it.effect("tampered ciphertext: refused by the signature", () =>
    Effect.gen(function*() {
      const { bob, sealed } = yield* setup
      yield* expectRefusal(decrypt({ ...sealed, ct: flipChar(sealed.ct, 5) }, bob.recipient), "bad-signature")
    }))

  it.effect("tampered ciphertext re-signed by the sender itself: refused by AES-GCM", () =>
    Effect.gen(function*() {
      const { alice, bob, sealed } = yield* setup
      const forged = yield* resign({ ...sealed, ct: flipChar(sealed.ct, 5) }, alice.identity)
      yield* expectRefusal(decrypt(forged, bob.recipient), "decrypt-failed")
    }))

  it.effect("tampered header fields: each refused", () =>
    Effect.gen(function*() {
      const { alice, bob, carol, sealed } = yield* setup
      for (const field of ["id", "epk", "iv", "sig"] as const) {
        yield* expectRefusal(decrypt({ ...sealed, [field]: flipChar(sealed[field], 3) }, bob.recipient), "bad-signature")
      }
      yield* expectRefusal(decrypt({ ...sealed, ts: sealed.ts + 1 }, bob.recipient), "bad-signature")
      // `from` no longer derives from `fromKey`
      yield* expectRefusal(decrypt({ ...sealed, from: carol.identity.peerId }, bob.recipient), "bad-sender-key")
      yield* expectRefusal(decrypt({ ...sealed, fromKey: carol.identity.publicKey }, bob.recipient), "bad-sender-key")
      // a header change the sender signed anew still fails: the header is the AES-GCM associated data
      // (a fresh envelope each time: a validly signed one uses up its id even when it then fails to open)
      const fresh = encrypt(content, bob.identity.peerId, bob.pair.publicKey, alice.identity)
      const s1 = yield* fresh
      yield* expectRefusal(decrypt(yield* resign({ ...s1, ts: s1.ts + 1 }, alice.identity), bob.recipient), "decrypt-failed")
      const s2 = yield* fresh
      yield* expectRefusal(decrypt(yield* resign({ ...s2, iv: flipChar(s2.iv, 0) }, alice.identity), bob.recipient), "decrypt-failed")
      const s3 = yield* fresh
      yield* expectRefusal(decrypt(yield* resign({ ...s3, epk: carol.pair.publicKey }, alice.identity), bob.recipient), "decrypt-failed")
      // an unknown key id
      yield* expectRefusal(decrypt(yield* resign({ ...sealed, kid: flipChar(sealed.kid, 0) }, alice.identity), bob.recipient), "unknown-key")
      // the untouched envelope still opens: none of the refusals above used up its id
      assert.deepStrictEqual((yield* decrypt(sealed, bob.recipient)).content, content)
    }))

  it.effect("surreptitious forwarding: carol re-signs alice's envelope as her own; bob cannot open it", () =>
    Effect.gen(function*() {
      const { bob, carol, sealed } = yield* setup
      const forwarded = yield* resign({ ...sealed, from: carol.identity.peerId, fromKey: carol.identity.publicKey }, carol.identity)
      yield* expectRefusal(decrypt(forwarded, bob.recipient), "decrypt-failed")
    }))

  it.effect("wrong recipient, wrong expected sender", () =>
    Effect.gen(function*() {
      const { alice, bob, carol, sealed } = yield* setup
      yield* expectRefusal(decrypt(sealed, carol.recipient), "wrong-recipient")
      // carol readdresses it to herself: the signature covers `to`
      yield* expectRefusal(decrypt({ ...sealed, to: carol.identity.peerId }, carol.recipient), "unknown-key")
      yield* expectRefusal(decrypt({ ...sealed, to: carol.identity.peerId, kid: carol.pair.kid }, carol.recipient), "bad-signature")
      yield* expectRefusal(decrypt(sealed, bob.recipient, carol.identity.peerId), "wrong-sender")
      // the expected sender matches in any case
      assert.deepStrictEqual((yield* decrypt(sealed, bob.recipient, alice.identity.peerId.toUpperCase())).content, content)
    }))

  it.effect("forged signature: another identity's, or random bytes", () =>
    Effect.gen(function*() {
      const { bob, carol, sealed } = yield* setup
      yield* expectRefusal(decrypt(yield* resign(sealed, carol.identity), bob.recipient), "bad-signature")
      const random = toBase64Url(crypto.getRandomValues(new Uint8Array(64)))
      yield* expectRefusal(decrypt({ ...sealed, sig: random }, bob.recipient), "bad-signature")
    }))

  it.effect("replay: the second copy is refused, also when both arrive at once", () =>
    Effect.gen(function*() {
      const { alice, bob, sealed } = yield* setup
      yield* decrypt(sealed, bob.recipient)
      yield* expectRefusal(decrypt(sealed, bob.recipient), "replay")
      const twice = yield* encrypt(content, bob.identity.peerId, bob.pair.publicKey, alice.identity)
      const results = yield* Effect.all([decrypt(twice, bob.recipient), decrypt(twice, bob.recipient)].map(Effect.result), { concurrency: 2 })
      assert.deepStrictEqual(results.map((r) => r._tag).sort(), ["Failure", "Success"])
    }))

  it.effect("stale after maxAgeMs, future beyond maxSkewMs (both configurable)", () =>
    Effect.gen(function*() {
      const { alice, bob, sealed } = yield* setup
      yield* TestClock.adjust(300_001)
      yield* expectRefusal(decrypt(sealed, bob.recipient), "stale")
      const recent = yield* encrypt(content, bob.identity.peerId, bob.pair.publicKey, alice.identity)
      yield* TestClock.adjust(10_000)
      yield* expectRefusal(decrypt(recent, bob.recipient, undefined, { maxAgeMs: 5_000 }), "stale")
      yield* TestClock.setTime(recent.ts - 61_000)
      yield* expectRefusal(decrypt(recent, bob.recipient), "future")
      yield* TestClock.setTime(recent.ts - 1_000)
      yield* expectRefusal(decrypt(recent, bob.recipient, undefined, { maxSkewMs: 500 }), "future")
      assert.deepStrictEqual((yield* decrypt(recent, bob.recipient)).content, content)
    }))

  it.effect("a small-order ephemeral key, validly signed, is refused", () =>
    Effect.gen(function*() {
      const { alice, bob, sealed } = yield* setup
      const zero = yield* resign({ ...sealed, epk: toBase64Url(new Uint8Array(32)) }, alice.identity)
      yield* expectRefusal(decrypt(zero, bob.recipient), "decrypt-failed")
    }))

  it.effect("malformed and oversized envelopes are refused before any crypto", () =>
    Effect.gen(function*() {
      const { bob, sealed } = yield* setup
      const bad: ReadonlyArray<unknown> = [
        null, 7, "not json", "{}", [], { ...sealed, v: 2 }, { ...sealed, t: "group" }, { ...sealed, to: "xyz" },
        { ...sealed, from: sealed.from.toUpperCase() }, { ...sealed, ts: -1 }, { ...sealed, ts: 1.5 },
        { ...sealed, ct: "" }, { ...sealed, ct: sealed.ct + "!" }, { ...sealed, sig: sealed.sig.slice(1) },
        { ...sealed, epk: sealed.epk + "A" }, { ...sealed, id: 5 }, { ...sealed, kid: undefined },
        " ".repeat(MAX_ENVELOPE_CHARS + 1), JSON.stringify({ ...sealed, ct: "A".repeat(400_000) })
      ]
      for (const input of bad) yield* expectRefusal(decrypt(input, bob.recipient), "malformed")
      // bounded by the recipient's configured plaintext limit
      yield* expectRefusal(decrypt(sealed, bob.recipient, undefined, { maxPlaintextBytes: 16 }), "malformed")
      // a non-canonical base64url last character (trailing bits set) in a signed field
      const nonCanonical: Envelope = { ...sealed, ct: sealed.ct.length % 4 === 0 ? sealed.ct : sealed.ct.slice(0, -1) + "_" }
      if (nonCanonical.ct !== sealed.ct) yield* expectRefusal(decrypt(nonCanonical, bob.recipient), "malformed")
    }))

  it.effect("content that is not JSON or too large is refused on encryption", () =>
    Effect.gen(function*() {
      const { alice, bob } = yield* setup
      const cyclic: Record<string, unknown> = {}
      cyclic.self = cyclic
      const seal = (c: unknown, max?: number) =>
        encrypt(c as never, bob.identity.peerId, bob.pair.publicKey, alice.identity, max === undefined ? {} : { maxPlaintextBytes: max })
      yield* expectRefusal(seal(cyclic), "invalid-content")
      yield* expectRefusal(seal(10n), "invalid-content")
      yield* expectRefusal(seal(undefined), "invalid-content")
      yield* expectRefusal(seal("x".repeat(100), 50), "invalid-content")
      let deep: unknown = 0
      for (let i = 0; i < 100; i++) deep = [deep]
      yield* expectRefusal(seal(deep), "invalid-content")
      yield* expectRefusal(encrypt(1, "nope", bob.pair.publicKey, alice.identity), "malformed")
      yield* expectRefusal(encrypt(1, bob.identity.peerId, "short", alice.identity), "malformed")
    }))
})

/**
 * Routed envelopes: no signature of their own (the verified frame carrying them is signed by
 * its origin), so they open only through `decryptRouted` with that origin, and every other
 * check (recipient, sender, time, replay, AES-GCM) still applies.
 */
describe("routed envelope", () => {
  const routedSetup = Effect.gen(function*() {
    const alice = yield* makePeer()
    const bob = yield* makePeer()
    const carol = yield* makePeer()
    const seal = (c: unknown = content) => encryptRouted(c as never, bob.identity.peerId, bob.pair.publicKey, alice.identity)
    return { alice, bob, carol, seal, routed: yield* seal() }
  })

  it.effect("round trip from the frame's verified origin; no signature, the content not in the clear", () =>
    Effect.gen(function*() {
      const { alice, bob, routed } = yield* routedSetup
      assert.strictEqual(routed.t, "dm-routed")
      assert.notProperty(routed, "sig")
      assert.notInclude(JSON.stringify(routed), "hello")
      const opened = yield* decryptRouted(JSON.stringify(routed), bob.recipient, alice.identity.peerId)
      assert.deepStrictEqual(opened.content, content)
    }))

  it.effect("decrypt (a standalone envelope) refuses it: nothing vouches for its sender", () =>
    Effect.gen(function*() {
      const { alice, bob, routed } = yield* routedSetup
      yield* expectRefusal(decrypt(routed, bob.recipient), "bad-signature")
      yield* expectRefusal(decrypt(routed, bob.recipient, alice.identity.peerId), "bad-signature")
    }))

  it.effect("another frame origin than its sender: refused; relabelled as that origin's: fails to open", () =>
    Effect.gen(function*() {
      const { bob, carol, routed } = yield* routedSetup
      yield* expectRefusal(decryptRouted(routed, bob.recipient, carol.identity.peerId), "wrong-sender")
      const relabelled = { ...routed, from: carol.identity.peerId, fromKey: carol.identity.publicKey }
      yield* expectRefusal(decryptRouted(relabelled, bob.recipient, carol.identity.peerId), "decrypt-failed")
      // a sender id that does not derive from the key it names
      yield* expectRefusal(decryptRouted({ ...routed, from: carol.identity.peerId }, bob.recipient, carol.identity.peerId), "bad-sender-key")
    }))

  it.effect("kinds cannot be swapped: a signed envelope stripped of its signature, or a routed one signed, fails to open", () =>
    Effect.gen(function*() {
      const { alice, bob, seal } = yield* routedSetup
      const signed = yield* encrypt(content, bob.identity.peerId, bob.pair.publicKey, alice.identity)
      const { sig: _sig, ...unsigned } = signed
      yield* expectRefusal(decryptRouted({ ...unsigned, t: "dm-routed" }, bob.recipient, alice.identity.peerId), "decrypt-failed")
      const routed = yield* seal()
      yield* expectRefusal(decrypt(yield* resign({ ...routed, t: "dm", sig: "" }, alice.identity), bob.recipient), "decrypt-failed")
      // a signed envelope in a verified frame opens as before (peers that sign every envelope);
      // a fresh one: the attempt above used up its id
      const another = yield* encrypt(content, bob.identity.peerId, bob.pair.publicKey, alice.identity)
      assert.deepStrictEqual((yield* decryptRouted(another, bob.recipient, alice.identity.peerId)).content, content)
    }))

  it.effect("wrong recipient, tampering, replay and age are refused as for signed envelopes", () =>
    Effect.gen(function*() {
      const { alice, bob, carol, routed, seal } = yield* routedSetup
      const origin = alice.identity.peerId
      yield* expectRefusal(decryptRouted(routed, carol.recipient, origin), "wrong-recipient")
      yield* expectRefusal(decryptRouted({ ...routed, to: carol.identity.peerId, kid: carol.pair.kid }, carol.recipient, origin), "decrypt-failed")
      for (const field of ["ct", "iv", "epk", "id"] as const) {
        const fresh = yield* seal()
        yield* expectRefusal(decryptRouted({ ...fresh, [field]: flipChar(fresh[field], 2) }, bob.recipient, origin), "decrypt-failed")
      }
      const later = yield* seal()
      yield* expectRefusal(decryptRouted({ ...later, ts: later.ts + 1 }, bob.recipient, origin), "decrypt-failed")
      yield* decryptRouted(routed, bob.recipient, origin)
      yield* expectRefusal(decryptRouted(routed, bob.recipient, origin), "replay")
      const old = yield* seal()
      yield* TestClock.adjust(300_001)
      yield* expectRefusal(decryptRouted(old, bob.recipient, origin), "stale")
    }))
})
