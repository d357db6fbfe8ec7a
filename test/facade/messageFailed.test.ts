/**
 * A direct message its target never acknowledges becomes `MessageFailed` on MeshEvents (the
 * Mesh forwards the Router's `undelivered`), and the facade reports it as `messageFailed`
 * under the id `sendDirectMessage` returned. Memory network, driven by TestClock.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { EventBridge } from "../../src/facade/dispatch.ts"
import type { PeerPigeonMeshEvents } from "../../src/facade/events.ts"
import { MemoryNetwork } from "../../src/layers/MemoryNetwork.ts"
import { Connections } from "../../src/services/Connections.ts"
import { Mesh } from "../../src/services/Mesh.ts"
import { startNodes } from "../support/memoryMesh.ts"

describe("MessageFailed", () => {
  it.effect("a direct message to a peer cut off is reported after the Router's retransmissions", () =>
    Effect.gen(function*() {
      const network = new MemoryNetwork()
      const [a, b] = yield* startNodes(network, 2, { maxPeers: 1, minPeers: 1 })
      const linked = Effect.map(a!.run(Connections.use((c) => c.connected)), (peers) => peers.includes(b!.peerId))
      while (!(yield* linked)) yield* TestClock.adjust(25)
      yield* network.partition([[a!.peerId], [b!.peerId]])
      while (yield* linked) yield* TestClock.adjust(25)
      const id = yield* a!.run(Mesh.use((m) => m.sendDirectMessage(b!.peerId, "lost")))
      const failedOf = () => a!.events.filter((e) => e._tag === "MessageFailed")
      yield* TestClock.adjust(60_000)
      assert.strictEqual(failedOf().length, 0)
      for (let i = 0; i < 80 && failedOf().length === 0; i++) yield* TestClock.adjust(1_000)
      const failed = failedOf()
      assert.strictEqual(failed.length, 1)
      assert.deepInclude(failed[0], { _tag: "MessageFailed", messageId: id, to: b!.peerId })
    }).pipe(Effect.scoped), 60_000)

  it("the facade reports a MessageFailed under the message's own id", () => {
    const emitted: Array<[string, unknown]> = []
    const bridge = new EventBridge((event, data) => emitted.push([event, data]), () => 0)
    const to = "a".repeat(40) as never
    bridge.dispatch({ _tag: "MessageFailed", messageId: "the-id", to, reason: "not acknowledged" })
    const failed = emitted.find(([e]) => e === "messageFailed")![1] as PeerPigeonMeshEvents["messageFailed"]
    assert.deepStrictEqual(failed, { messageId: "the-id", reason: "not acknowledged", to })
    assert.isTrue(emitted.some(([e, d]) => e === "statusChanged" && (d as { type: string }).type === "error"))
  })
})
