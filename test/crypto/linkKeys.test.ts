/**
 * The keys taken from a link `hello` (crypto/linkKeys.ts): only an announcement for the peer
 * the handshake is with, naming the identity key it proved, and signed by it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { CryptoManager } from "../../src/crypto/CryptoManager.ts"
import { linkKeyExchange } from "../../src/crypto/linkKeys.ts"
import type { PeerId } from "../../src/schema/PeerId.ts"
import { Identity } from "../../src/services/Identity.ts"
import { MeshConfig } from "../../src/services/MeshConfig.ts"
import { flipChar, makePeer } from "./support.ts"

const services = (options: { readonly enableCrypto?: boolean; readonly peerId?: string } = {}) =>
  Layer.mergeAll(CryptoManager.layer, MeshConfig.layer({ enableCrypto: options.enableCrypto ?? true })).pipe(
    Layer.provideMerge(Identity.layer(options.peerId))
  )

describe("link key exchange", () => {
  it.effect("sends this peer's announcement; takes a peer's own, signed, for the key the handshake proved", () =>
    Effect.gen(function*() {
      const exchange = (yield* linkKeyExchange)!
      const crypto = yield* CryptoManager
      assert.deepStrictEqual(yield* exchange.own, yield* crypto.getAnnouncement)
      const bob = yield* makePeer()
      const carol = yield* makePeer()
      const bobId = bob.identity.peerId as PeerId
      // carol's (valid) announcement in bob's hello, or bob's naming another identity key: ignored
      yield* exchange.learn(bobId, bob.identity.publicKey, carol.announcement)
      yield* exchange.learn(bobId, carol.identity.publicKey, bob.announcement)
      // bob's, with a bad signature: refused by the verification
      yield* exchange.learn(bobId, bob.identity.publicKey, { ...bob.announcement, sig: flipChar(bob.announcement.sig, 5) })
      assert.isUndefined(yield* crypto.getPeerKey(bobId))
      assert.isUndefined(yield* crypto.getPeerKey(carol.identity.peerId))
      yield* exchange.learn(bobId, bob.identity.publicKey, bob.announcement)
      assert.deepStrictEqual(yield* crypto.getPeerKey(bobId), bob.announcement)
    }).pipe(Effect.provide(services())))

  it.effect("none with enableCrypto: false, nor for a custom (unverified) id", () =>
    Effect.gen(function*() {
      assert.isUndefined(yield* linkKeyExchange.pipe(Effect.provide(services({ enableCrypto: false }))))
      assert.isUndefined(yield* linkKeyExchange.pipe(Effect.provide(services({ peerId: "ef".repeat(20) }))))
    }))
})
