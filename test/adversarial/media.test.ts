/**
 * A hostile neighbour writing media frames: malformed or out-of-bounds ones are counted as
 * invalid and dropped, well-formed ones on a link without media are ignored, and the link and
 * the node keep working (read after a barrier: a later direct message that must arrive).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { MemoryNetwork } from "../../src/layers/MemoryNetwork.ts"
import { MAX_SDP_CHARS } from "../../src/schema/MediaFrames.ts"
import { Connections } from "../../src/services/Connections.ts"
import { Mesh } from "../../src/services/Mesh.ts"
import { sendRaw } from "../support/hostile.ts"
import { connectedOf, received, startNodes, waitFor } from "../support/memoryMesh.ts"

describe("a hostile neighbour's media frames", () => {
  it.live("bad ones count as invalid and are dropped; good ones on a memory link do nothing; the link stays", () =>
    Effect.gen(function*() {
      const [victim, hostile] = yield* startNodes(new MemoryNetwork({ latencyMs: 1 }), 2, { enableWebDHT: false, maxPeers: 1, minPeers: 1 })
      yield* waitFor("linked", Effect.map(connectedOf(victim!), (ids) => ids.includes(hostile!.peerId)))
      yield* waitFor("linked both ways", Effect.map(connectedOf(hostile!), (ids) => ids.includes(victim!.peerId)))
      const before = (yield* victim!.run(Connections.use((c) => c.stats))).invalidFrames
      const bad = [
        '{"t":"media","op":"dance"}',
        '{"t":"media","op":"neg","desc":{"type":"rollback","sdp":""}}',
        JSON.stringify({ t: "media", op: "neg", desc: { type: "offer", sdp: "x".repeat(MAX_SDP_CHARS + 1) } }),
        JSON.stringify({ t: "media", op: "announce", source: "camera", tracks: [1, 2, 3], audio: true, video: true }),
        '{"t":"media",' + "[".repeat(5000),
        '{"t":"media","op":"stop","source":"microwave"}'
      ]
      for (const text of bad) assert.isTrue(yield* sendRaw(hostile!, victim!.peerId, text))
      const good = [
        JSON.stringify({ t: "media", op: "neg", desc: { type: "offer", sdp: "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111" } }),
        JSON.stringify({ t: "media", op: "announce", source: "camera", tracks: [{ mid: "0", kind: "audio" }], audio: true, video: false }),
        JSON.stringify({ t: "media", op: "stop", source: "camera" })
      ]
      for (const text of good) assert.isTrue(yield* sendRaw(hostile!, victim!.peerId, text))
      // a barrier: a direct message sent after the frames, on the same ordered link
      yield* hostile!.run(Mesh.use((m) => m.sendDirectMessage(victim!.peerId, { tag: "after" })))
      yield* waitFor("message after the frames", Effect.sync(() => received(victim!).some((e) => (e.content as { tag?: string }).tag === "after")))
      const after = (yield* victim!.run(Connections.use((c) => c.stats))).invalidFrames
      assert.strictEqual(after - before, bad.length)
      assert.include(yield* connectedOf(victim!), hostile!.peerId)
      assert.deepStrictEqual((yield* victim!.run(Connections.use((c) => c.links))).map((l) => l.peerId), [hostile!.peerId])
    }))
})
