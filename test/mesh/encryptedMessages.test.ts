/**
 * End-to-end encrypted direct messages on a memory network: the key of a non-neighbour comes
 * from the key directory, the relay carries only the envelope (no plaintext in any frame it
 * receives: a routed envelope, unsigned, inside the origin's signed frame), the target gets
 * `encrypted: true` and the content; a relay replaying the envelope as its own is refused;
 * failures are typed.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, PubSub, type Schema } from "effect"
import { CryptoManager } from "../../src/crypto/CryptoManager.ts"
import { KeyDirectory } from "../../src/crypto/KeyDirectory.ts"
import { E2E_KIND, encryptedContentLimit } from "../../src/crypto/messaging.ts"
import { MemoryNetwork } from "../../src/layers/MemoryNetwork.ts"
import { Connections } from "../../src/services/Connections.ts"
import { Mesh } from "../../src/services/Mesh.ts"
import { Router } from "../../src/services/Router.ts"
import { received, startNodes, type TestNode, waitFor, wire } from "../support/memoryMesh.ts"

const failureOf = (exit: Exit.Exit<unknown, { readonly _tag: string; readonly reason?: string }>) => {
  if (Exit.isSuccess(exit)) return "success"
  const first = exit.cause.reasons[0]
  return first?._tag === "Fail" ? `${first.error._tag}${first.error.reason === undefined ? "" : `:${first.error.reason}`}` : "defect"
}

const published = (node: TestNode) => node.run(KeyDirectory.use((d) => d.published))

describe("encrypted direct messages", () => {
  it.live("over a relay: the target reads it (encrypted: true), the relay sees only ciphertext", () =>
    Effect.gen(function*() {
      const network = new MemoryNetwork({ latencyMs: 1 })
      const [a, relay, b] = yield* startNodes(network, 3, { autoDiscovery: false, maxPeers: 2, minPeers: 0 })
      yield* wire([a!, relay!, b!], [[0, 1], [1, 2]])
      yield* waitFor("keys published", Effect.map(Effect.forEach([a!, b!], published), (p) => p.every(Boolean)))

      // every frame the relay receives, as JSON
      const frames: Array<string> = []
      const inbound = yield* (yield* relay!.run(Connections.use(Effect.succeed))).inbound
      yield* Effect.gen(function*() {
        while (true) frames.push(JSON.stringify((yield* PubSub.take(inbound)).frame))
      }).pipe(Effect.forkScoped)

      const secret = "the eagle lands at midnight"
      const id = yield* a!.run(Mesh.use((m) => m.sendEncryptedMessage(b!.peerId, { text: secret, n: 42 })))
      yield* waitFor("b got it", Effect.sync(() => received(b!).some((m) => m.messageId === id)))
      const got = received(b!).find((m) => m.messageId === id)!
      assert.deepStrictEqual(got.content, { text: secret, n: 42 })
      assert.isTrue(got.encrypted)
      assert.isTrue(got.direct)
      assert.strictEqual(got.from, a!.peerId)
      assert.isTrue(got.verified)

      // and through sendDirectMessage(..., {encrypt: true})
      const id2 = yield* a!.run(Mesh.use((m) => m.sendDirectMessage(b!.peerId, "second secret", { encrypt: true })))
      yield* waitFor("b got the second", Effect.sync(() => received(b!).some((m) => m.messageId === id2 && m.encrypted)))

      const carried = frames.filter((f) => f.includes(`"kind":"${E2E_KIND}"`))
      assert.isAtLeast(carried.length, 2, "the relay carried the envelopes")
      // routed envelopes: no signature of their own, the frame's origin signature covers them
      for (const f of carried) {
        const env = (JSON.parse(f) as { content: { t?: unknown; sig?: unknown } }).content
        assert.strictEqual(env.t, "dm-routed")
        assert.isUndefined(env.sig)
      }
      assert.isFalse(frames.some((f) => f.includes(secret) || f.includes("second secret")), "no plaintext at the relay")
      assert.isFalse(received(relay!).some((m) => m.messageId === id))

      // the relay replays a's envelope as its own message: b refuses it (wrong sender), reads nothing new
      const envelope = (JSON.parse(carried[0]!) as { content: Schema.Json }).content
      const before = received(b!).length
      yield* relay!.run(Router.use((r) => r.send(b!.peerId, envelope, E2E_KIND)))
      yield* waitFor("b refused the replay", Effect.sync(() => b!.events.some((e) => e._tag === "CryptoFailed" && e.reason === "wrong-sender")))
      assert.strictEqual(received(b!).length, before)
    }).pipe(Effect.scoped), 60_000)

  it.live("typed failures: no key for the peer anywhere, content over the limit, crypto off", () =>
    Effect.gen(function*() {
      const network = new MemoryNetwork({ latencyMs: 1 })
      const [a, b] = yield* startNodes(network, 2, { maxMessageSize: 8192 })
      const [off] = yield* startNodes(network, 1, { enableCrypto: false })
      yield* waitFor("keys published", Effect.map(Effect.forEach([a!, b!], published), (p) => p.every(Boolean)))
      const send = (to: string, content: Schema.Json) => Effect.exit(a!.run(Mesh.use((m) => m.sendEncryptedMessage(to as never, content))))
      assert.strictEqual(failureOf(yield* send("ab".repeat(20), "hi")), "CryptoError:unknown-key")
      assert.strictEqual(failureOf(yield* send(off!.peerId, "hi")), "CryptoError:unknown-key")
      const limit = encryptedContentLimit(8192, 65_536)
      assert.strictEqual(limit, Math.floor(((8192 - 1024) * 3) / 4) - 16)
      assert.strictEqual(failureOf(yield* send(b!.peerId, "x".repeat(limit))), "MessageTooLarge")
      // just under the limit goes through, and its envelope fits the mesh's message size
      const id = yield* a!.run(Mesh.use((m) => m.sendEncryptedMessage(b!.peerId, "y".repeat(limit - 2))))
      yield* waitFor("b got the largest", Effect.sync(() => received(b!).some((m) => m.messageId === id && m.encrypted)))
      assert.strictEqual(failureOf(yield* Effect.exit(off!.run(Mesh.use((m) => m.sendEncryptedMessage(a!.peerId, "hi"))))), "CryptoError:disabled")
    }).pipe(Effect.scoped), 60_000)

  it.live("a rotated key reaches neighbours at once; a sender still on a dropped key is told the new one", () =>
    Effect.gen(function*() {
      const network = new MemoryNetwork({ latencyMs: 1 })
      const [a, relay, b] = yield* startNodes(network, 3, { autoDiscovery: false, maxPeers: 2, minPeers: 0 })
      yield* wire([a!, relay!, b!], [[0, 1], [1, 2]])
      yield* waitFor("keys published", Effect.map(Effect.forEach([a!, b!], published), (p) => p.every(Boolean)))
      const keyOf = (node: TestNode, of: TestNode) => node.run(CryptoManager.use((c) => Effect.map(c.getPeerKey(of.peerId), (k) => k?.encryptionKey)))
      const first = yield* a!.run(Mesh.use((m) => m.sendEncryptedMessage(b!.peerId, "one")))
      yield* waitFor("first read", Effect.sync(() => received(b!).some((m) => m.messageId === first && m.encrypted)))
      const original = yield* keyOf(a!, b!)

      // three rotations: the two replaced keys b keeps (previousKeys) no longer include the original
      let latest = ""
      for (let i = 0; i < 3; i++) latest = (yield* b!.run(CryptoManager.use((c) => c.generateKeyPair))).encryptionKey
      yield* waitFor("the neighbour holds the latest key", Effect.map(keyOf(relay!, b!), (k) => k === latest))
      assert.strictEqual(yield* keyOf(a!, b!), original, "a is not linked to b: it still holds the original")

      const stale = yield* a!.run(Mesh.use((m) => m.sendEncryptedMessage(b!.peerId, "two")))
      yield* waitFor("b could not open it", Effect.sync(() => b!.events.some((e) => e._tag === "CryptoFailed" && e.reason === "unknown-key")))
      assert.isFalse(received(b!).some((m) => m.messageId === stale))
      yield* waitFor("b told a its key", Effect.map(keyOf(a!, b!), (k) => k === latest))
      const again = yield* a!.run(Mesh.use((m) => m.sendEncryptedMessage(b!.peerId, "two, again")))
      yield* waitFor("read with the new key", Effect.sync(() => received(b!).some((m) => m.messageId === again && m.content === "two, again")))
    }).pipe(Effect.scoped), 60_000)
})
