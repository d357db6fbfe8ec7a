/**
 * `crypto/messaging.ts` against scripted fakes (a recording Router, a Gossip that is never
 * used, a directory that knows nothing) with real CryptoManagers and TestClock: the limit on
 * encrypted content, the origin checks on key and hand-off messages, the rate-limited key
 * refresh after an envelope sealed to a dropped key, and rotations sent to neighbours.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, PubSub, type Schema } from "effect"
import { TestClock } from "effect/testing"
import { CryptoConfig, make } from "../../src/crypto/CryptoManager.ts"
import { CryptoError } from "../../src/crypto/CryptoError.ts"
import {
  E2E_GROUP_KEY_KIND,
  E2E_KEY_KIND,
  E2E_KIND,
  encryptedContentLimit,
  KEY_REFRESH_INTERVAL_MS,
  makeEncryptedMessaging
} from "../../src/crypto/messaging.ts"
import type { PeerId } from "../../src/schema/PeerId.ts"
import type { Delivered } from "../../src/services/Gossip.ts"
import { Identity } from "../../src/services/Identity.ts"
import * as IdentityModule from "../../src/services/Identity.ts"
import type { MeshEvent } from "../../src/services/MeshEvents.ts"

const manager = Effect.gen(function*() {
  const identity = yield* Effect.orDie(IdentityModule.make())
  const crypto = yield* make.pipe(Effect.provideService(Identity, identity), Effect.provideService(CryptoConfig, {}))
  return { crypto, peerId: identity.peerId }
})

const setup = Effect.gen(function*() {
  const a = yield* manager
  const b = yield* manager
  const c = yield* manager
  yield* a.crypto.addPeerKey(yield* b.crypto.getAnnouncement)
  const sent: Array<{ readonly to: string; readonly kind: string; readonly content: Schema.Json }> = []
  const events = yield* PubSub.unbounded<MeshEvent>()
  const messaging = makeEncryptedMessaging({
    crypto: b.crypto,
    directory: {
      resolvePeerKey: (id) => Effect.fail(new CryptoError({ reason: "unknown-key", message: `none for ${id}` })),
      published: Effect.succeed(false)
    },
    router: {
      send: (to, content, kind = "message") => Effect.sync(() => (sent.push({ to, kind, content }), `id${sent.length}`)),
      subscribe: Effect.die("unused"),
      undelivered: Effect.die("unused"),
      stats: Effect.die("unused"),
      homeOf: () => Effect.die("unused"),
      landmarkOverdue: () => Effect.die("unused")
    },
    gossip: { publish: () => Effect.die("unused"), subscribe: Effect.die("unused"), stats: Effect.die("unused") },
    neighbours: Effect.succeed([a.peerId as PeerId, c.peerId as PeerId]),
    events,
    maxMessageSize: 256 * 1024,
    maxPlaintextBytes: 65_536
  })
  const delivered = (origin: string, kind: string, content: unknown): Delivered => ({
    id: `m${Math.random()}`,
    kind,
    origin: origin as PeerId,
    content: content as Schema.Json,
    hops: 1,
    ttl: 10,
    timestamp: 0,
    verified: true
  })
  return { a, b, c, sent, messaging, delivered, events }
})

describe("encrypted messaging over the mesh services", () => {
  it("limits content so the envelope fits maxMessageSize", () => {
    assert.strictEqual(encryptedContentLimit(256 * 1024, 65_536), 65_536)
    assert.strictEqual(encryptedContentLimit(8192, 65_536), 5360)
    assert.strictEqual(encryptedContentLimit(100, 65_536), 0)
  })

  it.effect("an envelope sealed to a dropped key: the sender is told the current key, at most once per interval", () =>
    Effect.gen(function*() {
      const { a, b, sent, messaging, delivered } = yield* setup
      const stale = () => a.crypto.encrypt("x", b.peerId)
      // the first a routed envelope (what sendEncryptedMessage sends), the others signed
      const envelopes = [yield* a.crypto.encryptRouted("x", b.peerId), yield* stale(), yield* stale()]
      // three rotations: the key those envelopes were sealed to is no longer kept
      for (let i = 0; i < 3; i++) yield* b.crypto.generateKeyPair
      const current = yield* b.crypto.getAnnouncement
      assert.isTrue(yield* messaging.receive(delivered(a.peerId, E2E_KIND, envelopes[0]), true))
      assert.deepStrictEqual(sent, [{ to: a.peerId, kind: E2E_KEY_KIND, content: current as never }])
      yield* messaging.receive(delivered(a.peerId, E2E_KIND, envelopes[1]), true)
      assert.strictEqual(sent.length, 1, "not again within the interval")
      yield* TestClock.adjust(KEY_REFRESH_INTERVAL_MS + 1)
      yield* messaging.receive(delivered(a.peerId, E2E_KIND, envelopes[2]), true)
      assert.strictEqual(sent.length, 2)
      // a refused envelope of another kind (wrong sender) sends nothing
      yield* messaging.receive(delivered(b.peerId, E2E_KIND, yield* a.crypto.encrypt("y", b.peerId)), true)
      assert.strictEqual(sent.length, 2)
    }))

  it.effect("a routed envelope (no signature of its own) is delivered only from a verified frame of its sender", () =>
    Effect.gen(function*() {
      const { a, b, c, messaging, delivered, events } = yield* setup
      const received = yield* PubSub.subscribe(events)
      const routed = yield* a.crypto.encryptRouted({ n: 1 }, b.peerId)
      // an unverified frame (a custom-id origin) vouches for nothing: refused
      yield* messaging.receive({ ...delivered(a.peerId, E2E_KIND, routed), verified: false }, true)
      // a verified frame of another origin: refused
      yield* messaging.receive(delivered(c.peerId, E2E_KIND, routed), true)
      assert.deepStrictEqual(yield* PubSub.takeUpTo(received, 100), [])
      yield* messaging.receive(delivered(a.peerId, E2E_KIND, routed), true)
      const got = yield* PubSub.takeUpTo(received, 100)
      assert.deepStrictEqual(got.map((e) => e._tag === "MessageReceived" && [e.from, e.content, e.encrypted]), [[a.peerId, { n: 1 }, true]])
      // and a second copy is a replay
      yield* messaging.receive(delivered(a.peerId, E2E_KIND, routed), true)
      assert.deepStrictEqual(yield* PubSub.takeUpTo(received, 100), [])
    }))

  it.effect("a key message counts only from its own peer; a group hand-off only when its sender is the frame's origin", () =>
    Effect.gen(function*() {
      const { a, b, c, messaging, delivered } = yield* setup
      const cKey = yield* c.crypto.getAnnouncement
      yield* messaging.receive(delivered(a.peerId, E2E_KEY_KIND, cKey), true)
      assert.isUndefined(yield* b.crypto.getPeerKey(c.peerId), "a cannot hand out c's key")
      yield* messaging.receive(delivered(c.peerId, E2E_KEY_KIND, cKey), true)
      assert.deepStrictEqual(yield* b.crypto.getPeerKey(c.peerId), cKey)

      const change = yield* a.crypto.createGroup("g", [b.peerId])
      const handoff = change.handoffs[0]!.envelope
      yield* messaging.receive(delivered(c.peerId, E2E_GROUP_KEY_KIND, handoff), true)
      assert.isUndefined(yield* b.crypto.getGroup("g"), "relayed by another origin: ignored")
      yield* messaging.receive(delivered(a.peerId, E2E_GROUP_KEY_KIND, handoff), true)
      assert.strictEqual((yield* b.crypto.getGroup("g"))?.owner, a.peerId)
      // the encrypted kinds are not taken from a broadcast, other kinds are left to the caller
      assert.isFalse(yield* messaging.receive(delivered(a.peerId, "message", "hi"), true))
    }))

  it.effect("a rotation is sent to every neighbour", () =>
    Effect.gen(function*() {
      const { a, b, c, sent, messaging } = yield* setup
      const rotated = yield* b.crypto.generateKeyPair
      yield* messaging.announce(rotated)
      assert.deepStrictEqual(sent.map((s) => [s.to, s.kind, s.content]), [
        [a.peerId, E2E_KEY_KIND, rotated],
        [c.peerId, E2E_KEY_KIND, rotated]
      ])
    }))
})
