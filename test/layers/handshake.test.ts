/**
 * The link handshake with encryption keys (layers/connections/handshake.ts) over an in-memory
 * pair of queues: both sides take each other's announcement; a hello over the size bound is
 * skipped unparsed (the next, ordinary one is the one used).
 */
import { assert, describe, it } from "@effect/vitest"
import { type Cause, Effect, Fiber, Layer, Queue } from "effect"
import { CryptoManager } from "../../src/crypto/CryptoManager.ts"
import { linkKeyExchange } from "../../src/crypto/linkKeys.ts"
import { handshake, MAX_HANDSHAKE_FRAME_CHARS } from "../../src/layers/connections/handshake.ts"
import { linkChallenge, PROTOCOL_VERSION } from "../../src/schema/PeerFrames.ts"
import type { PeerId } from "../../src/schema/PeerId.ts"
import { Identity } from "../../src/services/Identity.ts"
import { MeshConfig } from "../../src/services/MeshConfig.ts"
import { PeerKeys } from "../../src/services/PeerKeys.ts"
import type { Link, LinkMessage } from "../../src/services/PeerTransport.ts"

/** One side of a link whose messages come from `inbox` and go to `outbox`. */
const linkOf = (remote: PeerId, inbox: Queue.Queue<LinkMessage, Cause.Done>, outbox: Queue.Queue<LinkMessage, Cause.Done>): Link => ({
  remote,
  send: (m) => Effect.asVoid(Queue.offer(outbox, m)),
  messages: inbox,
  closed: Effect.never,
  close: () => Effect.void,
  pending: Effect.succeed(0)
})

/** A node's handshake deps: its identity, crypto and key pins. */
const node = Effect.gen(function*() {
  const services = yield* Layer.build(
    Layer.mergeAll(CryptoManager.layer, MeshConfig.layer({}), PeerKeys.layer).pipe(Layer.provideMerge(Identity.layer()))
  )
  return yield* Effect.gen(function*() {
    return {
      identity: yield* Identity,
      config: yield* MeshConfig,
      keys: yield* PeerKeys,
      crypto: yield* CryptoManager,
      encryption: yield* linkKeyExchange,
      signalingVerified: () => false
    }
  }).pipe(Effect.provide(services))
})

describe("link handshake with encryption keys", () => {
  it.effect("each side takes the other's announcement once the handshake proved its key", () =>
    Effect.gen(function*() {
      const a = yield* node
      const b = yield* node
      const ab = yield* Queue.unbounded<LinkMessage, Cause.Done>()
      const ba = yield* Queue.unbounded<LinkMessage, Cause.Done>()
      const [va, vb] = yield* Effect.all([
        handshake(a, b.identity.peerId, linkOf(b.identity.peerId, ba, ab)),
        handshake(b, a.identity.peerId, linkOf(a.identity.peerId, ab, ba))
      ], { concurrency: 2 })
      assert.isTrue(va && vb)
      assert.deepStrictEqual(yield* a.crypto.getPeerKey(b.identity.peerId), yield* b.crypto.getAnnouncement)
      assert.deepStrictEqual(yield* b.crypto.getPeerKey(a.identity.peerId), yield* a.crypto.getAnnouncement)
    }).pipe(Effect.scoped))

  it.effect("a hello over the size bound is skipped unparsed", () =>
    Effect.gen(function*() {
      const a = yield* node
      const h = yield* node
      const toA = yield* Queue.unbounded<LinkMessage, Cause.Done>()
      const fromA = yield* Queue.unbounded<LinkMessage, Cause.Done>()
      const hello = (extra: object) =>
        JSON.stringify({
          t: "hello",
          v: PROTOCOL_VERSION,
          peerId: h.identity.peerId,
          publicKey: h.identity.publicKey,
          nonce: "n".repeat(22),
          networkName: a.config.networkName,
          ...extra
        })
      // valid but for its size (the extra field would be ignored): without the bound it would be
      // taken, and its announcement with it
      const huge = hello({ enc: yield* h.crypto.getAnnouncement, pad: "x".repeat(MAX_HANDSHAKE_FRAME_CHARS) })
      assert.isAbove(huge.length, MAX_HANDSHAKE_FRAME_CHARS)
      yield* Queue.offer(toA, huge)
      yield* Queue.offer(toA, hello({}))
      const run = yield* Effect.forkChild(handshake(a, h.identity.peerId, linkOf(h.identity.peerId, toA, fromA)))
      const ours = JSON.parse((yield* Queue.take(fromA)) as string) as { nonce: string }
      // a's proof of our nonce, then ours of a's
      yield* Queue.take(fromA)
      const signature = yield* h.identity.sign(linkChallenge(ours.nonce, h.identity.peerId, a.identity.peerId))
      yield* Queue.offer(toA, JSON.stringify({ t: "proof", signature }))
      assert.isTrue(yield* Fiber.join(run))
      assert.isUndefined(yield* a.crypto.getPeerKey(h.identity.peerId), "the oversized hello (with the key) was not read")
    }).pipe(Effect.scoped))
})
