import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import { decodeNode, makeNodePrimitives } from "../../src/crypto/nodePrimitives.ts"
import { detectNode } from "../../src/internal/nodeCrypto.ts"
import {
  decodePortable,
  fromBase64Url,
  makeWebPrimitives,
  primitives,
  randomBytes,
  toBase64Url,
  utf8
} from "../../src/crypto/primitives.ts"
import { expectRefusal } from "./support.ts"

const node = makeNodePrimitives(detectNode()!)
const web = makeWebPrimitives()
const both = [node, web] as const

describe("crypto primitives", () => {
  it("uses node:crypto on Node", () => {
    assert.strictEqual(primitives.backend, "node")
  })

  it.effect("both backends agree on the key and open each other's ciphertexts", () =>
    Effect.gen(function*() {
      const salt = randomBytes(64)
      const info = utf8("peerpigeon/v1/dm:test")
      for (const sender of both) {
        const e = yield* sender.ephemeral
        assert.strictEqual(e.publicKey.length, 32)
        for (const receiver of both) {
          const recipient = yield* receiver.keyPair
          const sent = yield* sender.agree(e.privateKey, recipient.publicKey, salt, info)
          const received = yield* receiver.agree(recipient.privateKey, e.publicKey, salt, info)
          assert.deepStrictEqual(received, sent)
          const iv = randomBytes(12)
          const aad = utf8("header")
          const ct = yield* sender.seal(sent, iv, utf8("hello"), aad)
          assert.strictEqual(ct.length, 5 + 16)
          assert.deepStrictEqual(yield* receiver.open(received, iv, ct, aad), utf8("hello"))
          const bad = ct.slice()
          bad[0]! ^= 1
          yield* expectRefusal(receiver.open(received, iv, bad, aad), "decrypt-failed")
          yield* expectRefusal(receiver.open(received, iv, ct, utf8("other header")), "decrypt-failed")
          yield* expectRefusal(receiver.open(received, iv, ct.subarray(0, 10), aad), "decrypt-failed")
          // the same key kept as a key object (aeadKey, from a kept agreement), on either side
          const sentKey = yield* sender.aeadKey(yield* sender.shared(e.privateKey, recipient.publicKey), salt, info)
          const receivedKey = yield* receiver.aeadKey(yield* receiver.shared(recipient.privateKey, e.publicKey), salt, info)
          const ct2 = yield* sender.seal(sentKey, iv, utf8("hello"), aad)
          assert.deepStrictEqual(ct2, ct, "the same bytes as under the raw key")
          assert.deepStrictEqual(yield* receiver.open(receivedKey, iv, ct2, aad), utf8("hello"))
          assert.deepStrictEqual(yield* receiver.open(received, iv, ct2, aad), utf8("hello"))
          yield* expectRefusal(receiver.open(receivedKey, iv, bad, aad), "decrypt-failed")
          // and expand (a key per message) from a kept agreement gives agree's key
          assert.deepStrictEqual(yield* receiver.expand(yield* receiver.shared(recipient.privateKey, e.publicKey), salt, info), sent)
        }
        // a small-order public key (all zeros) is refused
        yield* expectRefusal(sender.agree(e.privateKey, new Uint8Array(32), salt, info), "decrypt-failed")
      }
    }))

  it("base64url: canonical, bounded, the inverse of toBase64Url", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const text = toBase64Url(bytes)
      assert.strictEqual(text, Buffer.from(bytes).toString("base64url"))
      assert.deepStrictEqual(fromBase64Url(text, 200), new Uint8Array(bytes))
      if (bytes.length > 0) assert.isUndefined(fromBase64Url(text, bytes.length - 1))
    }))
    for (const bad of ["A", "AB=", "A+", "A/", "AB!", "AB\u00e9A", "AB", "AAB"]) {
      // "AB" and "AAB" have trailing bits set: not the encoding of any byte string
      assert.isUndefined(fromBase64Url(bad, 100), bad)
    }
    assert.deepStrictEqual(fromBase64Url("AA", 1), new Uint8Array([0]))
  })

  it("base64url: the browsers' decoder and Node's accept and decode exactly the same texts", () => {
    const same = (text: string) => {
      const portable = decodePortable(text)
      const node = decodeNode(Buffer, text)
      assert.deepStrictEqual(node === undefined ? undefined : [...node], portable === undefined ? undefined : [...portable], text)
    }
    fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => same(toBase64Url(bytes))))
    // any text over the alphabet and a few others (padding, +, /, space, non-ASCII)
    fc.assert(fc.property(fc.string({ unit: fc.constantFrom(..."AQgwBC_-9z=+/ \u00e9".split("")), maxLength: 12 }), same))
    for (const bad of ["A", "AB=", "A+", "A/", "AB!", "AB\u00e9A", "AB", "AAB", "A A", "AA=="]) same(bad)
  })
})
