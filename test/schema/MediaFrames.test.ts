import { assert, describe, it } from "@effect/vitest"
import { decodeMediaFrame, MAX_SDP_CHARS } from "../../src/schema/MediaFrames.ts"
import { totalsOf } from "../../src/layers/media/stats.ts"

describe("media frames", () => {
  it("decodes each op", () => {
    assert.deepStrictEqual(decodeMediaFrame({ t: "media", op: "neg", desc: { type: "offer", sdp: "v=0" } }), {
      t: "media",
      op: "neg",
      desc: { type: "offer", sdp: "v=0" }
    })
    assert.strictEqual(
      decodeMediaFrame({ t: "media", op: "announce", source: "camera", tracks: [{ mid: "1", kind: "video" }], audio: false, video: true })?.op,
      "announce"
    )
    assert.strictEqual(decodeMediaFrame({ t: "media", op: "state", source: "screen", audio: false, video: false })?.op, "state")
    assert.strictEqual(decodeMediaFrame({ t: "media", op: "stop", source: "camera" })?.op, "stop")
  })

  it("refuses what is out of bounds or malformed", () => {
    assert.isUndefined(decodeMediaFrame({ t: "media", op: "neg", desc: { type: "offer", sdp: "x".repeat(MAX_SDP_CHARS + 1) } }))
    assert.isUndefined(decodeMediaFrame({ t: "media", op: "neg", desc: { type: "rollback", sdp: "" } }))
    assert.isUndefined(decodeMediaFrame({ t: "media", op: "stop", source: "microwave" }))
    const three = [{ mid: "1", kind: "video" }, { mid: "2", kind: "video" }, { mid: "3", kind: "audio" }]
    assert.isUndefined(decodeMediaFrame({ t: "media", op: "announce", source: "camera", tracks: three, audio: true, video: true }))
    assert.isUndefined(decodeMediaFrame({ t: "media", op: "announce", source: "camera", tracks: [{ mid: "", kind: "video" }], audio: true, video: true }))
    assert.isUndefined(decodeMediaFrame({ t: "media", op: "dance" }))
    assert.isUndefined(decodeMediaFrame(undefined))
  })
})

describe("RTP totals", () => {
  it("sums outbound and inbound entries and reads the selected pair's round trip", () => {
    const t = totalsOf([
      { type: "outbound-rtp", bytesSent: 100, packetsSent: 2, framesEncoded: 5 },
      { type: "outbound-rtp", bytesSent: 50, packetsSent: 1 },
      { type: "inbound-rtp", bytesReceived: 70, packetsReceived: 3, packetsLost: 1, framesDecoded: 4 },
      { type: "candidate-pair", nominated: false, currentRoundTripTime: 9 },
      { type: "candidate-pair", nominated: true, currentRoundTripTime: 0.004 },
      { type: "codec", bytesSent: 1e9 }
    ])
    assert.deepStrictEqual(t, {
      bytesSent: 150,
      packetsSent: 3,
      framesEncoded: 5,
      bytesReceived: 70,
      packetsReceived: 3,
      packetsLost: 1,
      framesDecoded: 4,
      roundTripTime: 0.004
    })
  })
})
