/**
 * `crypto/pairKeys.ts`: ephemeral keys reused per recipient key within their ttl (and never
 * past it, nor after a clock stepped back), bounded on both sides, invalidated by
 * `forgetRecipient` / `clear`; and envelopes made with it, which share an ephemeral key but
 * nothing else, and are refused as before when anything is wrong.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { decrypt, decryptRouted, encrypt, encryptRouted } from "../../src/crypto/envelope.ts"
import { PairKeys } from "../../src/crypto/pairKeys.ts"
import { fromBase64Url, toBase64Url } from "../../src/crypto/primitives.ts"
import { expectRefusal, flipChar, makePeer } from "./support.ts"

const raw = (key: string) => fromBase64Url(key, 32)!

describe("pair keys", () => {
  it.effect("sealing: one ephemeral key per recipient key while younger than the ttl, then a new one", () =>
    Effect.gen(function*() {
      const bob = yield* makePeer()
      const carol = yield* makePeer()
      const keys = new PairKeys({ ttlMs: 1000 })
      const first = yield* keys.sealing(bob.pair.publicKey, raw(bob.pair.publicKey), 0)
      const again = yield* keys.sealing(bob.pair.publicKey, raw(bob.pair.publicKey), 999)
      assert.strictEqual(toBase64Url(again.publicKey), toBase64Url(first.publicKey))
      assert.strictEqual(again.held, first.held)
      const other = yield* keys.sealing(carol.pair.publicKey, raw(carol.pair.publicKey), 999)
      assert.notStrictEqual(toBase64Url(other.publicKey), toBase64Url(first.publicKey), "each recipient key its own")
      const expired = yield* keys.sealing(bob.pair.publicKey, raw(bob.pair.publicKey), 1000)
      assert.notStrictEqual(toBase64Url(expired.publicKey), toBase64Url(first.publicKey), "replaced at the ttl")
      // a clock that steps back does not extend the entry's life: replaced too
      const back = yield* keys.sealing(bob.pair.publicKey, raw(bob.pair.publicKey), 500)
      assert.notStrictEqual(toBase64Url(back.publicKey), toBase64Url(expired.publicKey))
      assert.deepStrictEqual(keys.size, { sealing: 2, opening: 0 })
    }))

  it.effect("bounded: the least recently used entries go first, on each side", () =>
    Effect.gen(function*() {
      const peers = [yield* makePeer(), yield* makePeer(), yield* makePeer()]
      const keys = new PairKeys({ maxEntries: 2 })
      const e0 = yield* keys.sealing(peers[0]!.pair.publicKey, raw(peers[0]!.pair.publicKey), 0)
      yield* keys.sealing(peers[1]!.pair.publicKey, raw(peers[1]!.pair.publicKey), 0)
      // peers[0] used again, so peers[1] is the one evicted by peers[2]
      yield* keys.sealing(peers[0]!.pair.publicKey, raw(peers[0]!.pair.publicKey), 1)
      yield* keys.sealing(peers[2]!.pair.publicKey, raw(peers[2]!.pair.publicKey), 1)
      assert.strictEqual(keys.size.sealing, 2)
      assert.strictEqual(toBase64Url((yield* keys.sealing(peers[0]!.pair.publicKey, raw(peers[0]!.pair.publicKey), 2)).publicKey), toBase64Url(e0.publicKey))

      // opening: a flood of ephemeral keys (anyone can make them) keeps at most maxEntries
      const bob = peers[0]!
      for (let i = 0; i < 5; i++) {
        const e = yield* (new PairKeys()).sealing(bob.pair.publicKey, raw(bob.pair.publicKey), 0)
        yield* keys.opening(bob.pair.publicKey, bob.pair.privateKey, toBase64Url(e.publicKey), e.publicKey, 0)
      }
      assert.strictEqual(keys.size.opening, 2)
      keys.clear()
      assert.deepStrictEqual(keys.size, { sealing: 0, opening: 0 })
    }))

  it.effect("an ephemeral key seals at most maxUses envelopes; a secret's AES keys are made once per label, a few labels at most", () =>
    Effect.gen(function*() {
      const bob = yield* makePeer()
      const keys = new PairKeys({ maxUses: 2 })
      const first = yield* keys.sealing(bob.pair.publicKey, raw(bob.pair.publicKey), 0)
      const second = yield* keys.sealing(bob.pair.publicKey, raw(bob.pair.publicKey), 0)
      const third = yield* keys.sealing(bob.pair.publicKey, raw(bob.pair.publicKey), 0)
      assert.strictEqual(second.held, first.held)
      assert.notStrictEqual(third.held, first.held, "a new one after maxUses")
      const salt = new Uint8Array(64)
      const info = (label: string) => new TextEncoder().encode(label) as Uint8Array<ArrayBuffer>
      const k1 = yield* first.held.aeadKey("a:b", salt, info("a:b"))
      assert.strictEqual(yield* first.held.aeadKey("a:b", salt, info("a:b")), k1)
      assert.notStrictEqual(yield* first.held.aeadKey("a:c", salt, info("a:c")), k1)
      // made-up labels (a sender naming other peers under one ephemeral key) do not pile up
      for (let i = 0; i < 20; i++) yield* first.held.aeadKey(`x:${i}`, salt, info(`x:${i}`))
      assert.notStrictEqual(yield* first.held.aeadKey("a:b", salt, info("a:b")), k1, "dropped, made again")
    }))

  it.effect("forgetRecipient: the next envelope to that key gets a new ephemeral key", () =>
    Effect.gen(function*() {
      const bob = yield* makePeer()
      const keys = new PairKeys()
      const first = yield* keys.sealing(bob.pair.publicKey, raw(bob.pair.publicKey), 0)
      keys.forgetRecipient(bob.pair.publicKey)
      const next = yield* keys.sealing(bob.pair.publicKey, raw(bob.pair.publicKey), 1)
      assert.notStrictEqual(toBase64Url(next.publicKey), toBase64Url(first.publicKey))
    }))

  it.effect("a small-order ephemeral key is refused and nothing is held for it", () =>
    Effect.gen(function*() {
      const bob = yield* makePeer()
      const keys = new PairKeys()
      const zero = new Uint8Array(32)
      yield* expectRefusal(keys.opening(bob.pair.publicKey, bob.pair.privateKey, toBase64Url(zero), zero, 0), "decrypt-failed")
      assert.strictEqual(keys.size.opening, 0)
    }))

  it.effect("envelopes sharing an ephemeral key: each has its own id, nonce and key; swapped or moved parts are refused", () =>
    Effect.gen(function*() {
      const alice = yield* makePeer()
      const bob = yield* makePeer()
      const mallory = yield* makePeer()
      const sending = new PairKeys()
      const opening = { ...bob.recipient, pairKeys: new PairKeys() }
      const seal = (content: string) => encrypt(content, bob.identity.peerId, bob.pair.publicKey, alice.identity, { pairKeys: sending })
      const one = yield* seal("one")
      const two = yield* seal("two")
      assert.strictEqual(one.epk, two.epk)
      assert.notStrictEqual(one.id, two.id)
      assert.notStrictEqual(one.iv, two.iv)
      assert.strictEqual((yield* decrypt(one, opening, alice.identity.peerId)).content, "one")
      assert.strictEqual(opening.pairKeys.size.opening, 1)
      // the secret is held now; a wrong ciphertext, nonce, key id or sender is still refused
      const routed = (content: string) => encryptRouted(content, bob.identity.peerId, bob.pair.publicKey, alice.identity, { pairKeys: sending })
      const r1 = yield* routed("r1")
      const r2 = yield* routed("r2")
      assert.strictEqual(r1.epk, one.epk)
      yield* expectRefusal(decryptRouted({ ...r1, ct: r2.ct }, opening, alice.identity.peerId), "decrypt-failed")
      const r3 = yield* routed("r3")
      yield* expectRefusal(decryptRouted({ ...r3, iv: r2.iv }, opening, alice.identity.peerId), "decrypt-failed")
      const r4 = yield* routed("r4")
      yield* expectRefusal(decryptRouted({ ...r4, ct: flipChar(r4.ct, 3) }, opening, alice.identity.peerId), "decrypt-failed")
      // mallory, whose verified frame carries alice's envelope relabelled as its own, knows no secret
      const r5 = yield* routed("r5")
      const relabelled = { ...r5, from: mallory.identity.peerId, fromKey: mallory.identity.publicKey }
      yield* expectRefusal(decryptRouted(relabelled, opening, mallory.identity.peerId), "decrypt-failed")
      // an ephemeral key taken from alice's envelopes, in an envelope mallory seals itself: refused
      const own = yield* encryptRouted("m", bob.identity.peerId, bob.pair.publicKey, mallory.identity)
      yield* expectRefusal(decryptRouted({ ...own, epk: r5.epk }, opening, mallory.identity.peerId), "decrypt-failed")
      // and the ones left untouched still open
      assert.strictEqual((yield* decrypt(two, opening, alice.identity.peerId)).content, "two")
      assert.strictEqual((yield* decryptRouted(r2, opening, alice.identity.peerId)).content, "r2")
    }))
})
