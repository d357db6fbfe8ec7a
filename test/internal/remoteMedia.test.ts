import { assert, describe, it } from "@effect/vitest"
import { RemoteMedia } from "../../src/internal/remoteMedia.ts"

describe("RemoteMedia", () => {
  const tracks = new Map([["0", "audio-track"], ["1", "video-track"]])
  const trackOf = (mid: string) => tracks.get(mid)
  const both = [{ mid: "0", kind: "audio" as const }, { mid: "1", kind: "video" as const }]
  const on = { audio: true, video: true }

  it("an announce adds the stream once; repeating it adds nothing", () => {
    const r = new RemoteMedia<string>()
    assert.deepStrictEqual(r.announce("camera", both, on, trackOf), [
      { _tag: "Added", source: "camera", tracks: ["audio-track", "video-track"], audio: true, video: true }
    ])
    assert.deepStrictEqual(r.announce("camera", both, on, trackOf), [])
  })

  it("an announce with unknown m-lines, or none, is ignored", () => {
    const r = new RemoteMedia<string>()
    assert.deepStrictEqual(r.announce("camera", [{ mid: "9", kind: "video" }], on, trackOf), [])
    assert.deepStrictEqual(r.announce("camera", [], on, trackOf), [])
    assert.isUndefined(r.get("camera"))
  })

  it("mute states are reported only when they change", () => {
    const r = new RemoteMedia<string>()
    r.announce("camera", both, on, trackOf)
    assert.deepStrictEqual(r.state("camera", { audio: true, video: false }), [{ _tag: "State", source: "camera", audio: true, video: false }])
    assert.deepStrictEqual(r.state("camera", { audio: true, video: false }), [])
    // a repeated announce with another state is a state change, not a new stream
    assert.deepStrictEqual(r.announce("camera", both, on, trackOf), [{ _tag: "State", source: "camera", audio: true, video: true }])
    assert.deepStrictEqual(r.state("screen", on), [])
  })

  it("stop removes once; a start after it is a new stream", () => {
    const r = new RemoteMedia<string>()
    r.announce("camera", both, on, trackOf)
    assert.deepStrictEqual(r.stop("camera"), [{ _tag: "Removed", source: "camera" }])
    assert.deepStrictEqual(r.stop("camera"), [])
    assert.strictEqual(r.announce("camera", both, on, trackOf)[0]?._tag, "Added")
  })

  it("other m-lines for a source replace the stream (removed, then added)", () => {
    const r = new RemoteMedia<string>()
    r.announce("camera", both, on, trackOf)
    const changes = r.announce("camera", [{ mid: "1", kind: "video" }], { audio: false, video: true }, trackOf)
    assert.deepStrictEqual(changes.map((c) => c._tag), ["Removed", "Added"])
  })

  it("closing the link removes every source", () => {
    const r = new RemoteMedia<string>()
    r.announce("camera", both, on, trackOf)
    r.announce("screen", [{ mid: "1", kind: "video" }], { audio: false, video: true }, trackOf)
    assert.deepStrictEqual(r.close(), [{ _tag: "Removed", source: "camera" }, { _tag: "Removed", source: "screen" }])
    assert.deepStrictEqual(r.sources, [])
  })
})
