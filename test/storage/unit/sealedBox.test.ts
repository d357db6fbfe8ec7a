import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { toBase64Url, utf8 } from "../../../src/crypto/primitives.ts"
import { open, seal } from "../../../src/crypto/sealedBox.ts"
import { peer } from "./support.ts"

const aad = utf8("aad")
const flip = (b64: string) => (b64[0] === "A" ? "B" : "A") + b64.slice(1)

describe("sealed box", () => {
  it.effect("round trip through the recipient's CryptoManager; every alteration refused", () =>
    Effect.gen(function*() {
      const bob = yield* peer
      const eve = yield* peer
      const secret = utf8("content key 32 bytes long.......")
      const box = yield* seal(bob.reader.encryptionKey, secret, aad, "st-slot")
      assert.deepStrictEqual([...(yield* bob.crypto.unseal(box, aad, "st-slot"))], [...secret])
      const refusal = (e: Effect.Effect<unknown, { readonly reason: string }>) => Effect.map(Effect.flip(e), (x) => x.reason)
      // another peer: it has no key of that id
      assert.strictEqual(yield* refusal(eve.crypto.unseal(box, aad, "st-slot")), "unknown-key")
      // other associated data, other info, tampered ciphertext / epk / iv
      assert.strictEqual(yield* refusal(bob.crypto.unseal(box, utf8("other"), "st-slot")), "decrypt-failed")
      assert.strictEqual(yield* refusal(bob.crypto.unseal(box, aad, "dm")), "decrypt-failed")
      assert.strictEqual(yield* refusal(bob.crypto.unseal({ ...box, ct: flip(box.ct) }, aad, "st-slot")), "decrypt-failed")
      assert.strictEqual(yield* refusal(bob.crypto.unseal({ ...box, epk: eve.reader.encryptionKey }, aad, "st-slot")), "decrypt-failed")
      assert.strictEqual(yield* refusal(bob.crypto.unseal({ ...box, iv: flip(box.iv) }, aad, "st-slot")), "decrypt-failed")
      // a box relabelled for Eve's key id still does not open with her key
      assert.strictEqual(
        yield* refusal(eve.crypto.unseal({ ...box, kid: eve.reader.encryptionKey.slice(0, 11) }, aad, "st-slot")),
        "decrypt-failed"
      )
      // malformed inputs are typed refusals
      assert.strictEqual(yield* refusal(seal("short", secret, aad, "x")), "malformed")
      assert.strictEqual(yield* refusal(seal(bob.reader.encryptionKey, new Uint8Array(2048), aad, "x")), "malformed")
      assert.strictEqual(yield* refusal(open(undefined, bob.reader.encryptionKey, { ...box, ct: "" }, aad, "x")), "malformed")
      // each seal uses a fresh ephemeral key and nonce
      const again = yield* seal(bob.reader.encryptionKey, secret, aad, "st-slot")
      assert.notStrictEqual(again.epk, box.epk)
      assert.notStrictEqual(again.ct, box.ct)
      assert.strictEqual(toBase64Url(new Uint8Array(0)), "")
    }))
})
