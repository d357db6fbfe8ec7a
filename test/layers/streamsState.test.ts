import { assert, describe, it } from "@effect/vitest"
import { parseMessageId, streamError } from "../../src/layers/streams/state.ts"

describe("stream message ids", () => {
  it("tell the stream and the end a message came from", () => {
    assert.deepStrictEqual(parseMessageId("abc>5"), { sid: "abc", fromSender: true })
    assert.deepStrictEqual(parseMessageId("abc<c48"), { sid: "abc", fromSender: false })
    // the first mark decides: a stream id never holds one
    assert.deepStrictEqual(parseMessageId("abc>a<"), { sid: "abc", fromSender: true })
    assert.strictEqual(parseMessageId("no-mark"), undefined)
    assert.strictEqual(parseMessageId(""), undefined)
  })

  it("stream errors carry the stream, the reason and the message", () => {
    const e = streamError("s1", "unreachable", "gone")
    assert.strictEqual(e._tag, "StreamError")
    assert.deepStrictEqual([e.streamId, e.reason, e.message], ["s1", "unreachable", "gone"])
  })
})
