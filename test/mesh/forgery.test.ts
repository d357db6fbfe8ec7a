import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, type Schema } from "effect"
import { makeNonce } from "../../src/internal/identityProof.ts"
import { MemoryNetwork } from "../../src/layers/MemoryNetwork.ts"
import { signedBytes } from "../../src/schema/PeerFrames.ts"
import type { PeerId } from "../../src/schema/PeerId.ts"
import { Connections } from "../../src/services/Connections.ts"
import { Identity } from "../../src/services/Identity.ts"
import { Mesh } from "../../src/services/Mesh.ts"
import { connectedOf, received, startNodes, type TestNode, waitFor } from "../support/memoryMesh.ts"

/** A gossip frame with `origin`'s id, signed by `signer` (the origin itself, or someone posing as it). */
const gossipFrame = (signer: TestNode, origin: PeerId, id: string, content: Schema.Json) =>
  Effect.gen(function*() {
    const identity = Context.get(signer.context, Identity)
    const ts = Date.now()
    const sig = yield* identity.sign(signedBytes({ t: "gossip", kind: "message", id, origin, ts, content }))
    return JSON.stringify({ t: "gossip", kind: "message", id, origin, key: identity.publicKey, ts, ttl: 16, hops: 0, content, sig })
  })

const sendRaw = (from: TestNode, to: PeerId, text: string) => from.run(Connections.use((c) => c.send(to, text)))

describe("forged origins", () => {
  it.live("a neighbour cannot pose as another peer, and a forged copy does not shadow the genuine message", () =>
    Effect.gen(function*() {
      const network = new MemoryNetwork({ latencyMs: 1 })
      const [a, b, c] = yield* startNodes(network, 3, { maxPeers: 2, minPeers: 2, repairInterval: 0 })
      yield* waitFor("a and b linked", Effect.map(connectedOf(a!), (peers) => peers.includes(b!.peerId)))

      // 1. a signs with its own key but claims c's id: c's id does not derive from a's key
      const posing = yield* gossipFrame(a!, c!.peerId, makeNonce(), { evil: "posing" })
      assert.isTrue(yield* sendRaw(a!, b!.peerId, posing))

      // 2. a forged copy (c's id and key, a bad signature) of a message c really sends, arriving
      //    first, then the genuine one with the same id, relayed by a
      const id = makeNonce()
      const genuine = yield* gossipFrame(c!, c!.peerId, id, { text: "genuine" })
      const parsed = JSON.parse(genuine) as { sig: string; content: unknown }
      const forgedCopy = JSON.stringify({ ...parsed, content: { evil: "copy" } })
      assert.isTrue(yield* sendRaw(a!, b!.peerId, forgedCopy))
      assert.isTrue(yield* sendRaw(a!, b!.peerId, genuine))

      // 3. a marker broadcast from a: once b has it, everything a sent before has been handled
      const marker = yield* a!.run(Mesh.use((m) => m.sendMessage({ text: "marker" })))
      yield* waitFor("b has the marker", Effect.sync(() => received(b!).some((m) => m.messageId === marker)))
      yield* waitFor("b has the genuine message", Effect.sync(() => received(b!).some((m) => m.messageId === id)))

      const atB = received(b!)
      assert.deepStrictEqual(atB.filter((m) => m.messageId === id).map((m) => m.content), [{ text: "genuine" }])
      assert.isFalse(atB.some((m) => JSON.stringify(m.content).includes("evil")))
    }).pipe(Effect.scoped), 60_000)
})
