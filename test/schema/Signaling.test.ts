import { Exit } from "effect"
import { describe, expect, it } from "vitest"
import {
  type ClientMessage,
  clientMessageTypes,
  decodeClientFrame,
  decodeServerFrame,
  type FrameProblem,
  isFrameProblem
} from "../../src/schema/Signaling.ts"

const A = "a".repeat(40)
const B = "0123456789abcdef0123456789abcdef01234567"

const frame = (value: unknown) => JSON.stringify(value)

/** Decodes and insists on a message (fails the test with the problem otherwise). */
const ok = (value: unknown): ClientMessage => {
  const result = decodeClientFrame(typeof value === "string" ? value : frame(value))
  if (isFrameProblem(result)) throw new Error(`expected a message, got ${result.code}: ${result.message}`)
  return result
}
/** Decodes and insists on a problem. */
const problem = (text: string): FrameProblem => {
  const result = decodeClientFrame(text)
  if (!isFrameProblem(result)) throw new Error(`expected a problem, got ${JSON.stringify(result)}`)
  return result
}

describe("decodeClientFrame: every client message type", () => {
  it("announce, with its identity fields and extras passed through", () => {
    const msg = ok({
      type: "announce",
      data: {
        peerId: A,
        publicKey: "pk",
        signature: "sig",
        capabilities: ["webrtc"],
        nested: { n: 1, s: "x", b: true, z: null }
      },
      networkName: "room-1",
      maxPeers: 5
    })
    expect(msg).toEqual({
      type: "announce",
      data: {
        peerId: A,
        publicKey: "pk",
        signature: "sig",
        capabilities: ["webrtc"],
        nested: { n: 1, s: "x", b: true, z: null }
      },
      networkName: "room-1",
      maxPeers: 5
    })
  })

  it("announce: an uppercase peerId in data is lowercased; a bad one is refused", () => {
    const msg = ok({ type: "announce", data: { peerId: A.toUpperCase() } })
    expect(msg.type === "announce" && msg.data.peerId).toBe(A)
    expect(problem(frame({ type: "announce", data: { peerId: "nope" } })).code).toBe("invalid-frame")
    expect(problem(frame({ type: "announce", data: { peerId: A, publicKey: 7 } })).code).toBe("invalid-frame")
  })

  it("announce without networkName leaves it absent (the server applies the default)", () => {
    const msg = ok({ type: "announce", data: { peerId: A } })
    expect(msg).toEqual({ type: "announce", data: { peerId: A } })
    expect("networkName" in msg).toBe(false)
  })

  it.each(["offer", "answer"] as const)("%s with an SDP object and a target", (type) => {
    const sdp = { type, sdp: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n" }
    const msg = ok({ type, data: sdp, targetPeerId: B, networkName: "global" })
    expect(msg).toEqual({ type, data: sdp, targetPeerId: B, networkName: "global" })
  })

  it("ice-candidate with a candidate object", () => {
    const candidate = { candidate: "candidate:1 1 udp 2122260223 10.0.0.1 5000 typ host", sdpMid: "0", sdpMLineIndex: 0 }
    expect(ok({ type: "ice-candidate", data: candidate, targetPeerId: B })).toEqual({
      type: "ice-candidate",
      data: candidate,
      targetPeerId: B
    })
  })

  it("ice-candidate with data: null (end of candidates)", () => {
    expect(ok({ type: "ice-candidate", data: null, targetPeerId: B })).toEqual({
      type: "ice-candidate",
      data: null,
      targetPeerId: B
    })
  })

  it("goodbye, with and without data", () => {
    const data = { peerId: A, timestamp: 123, reason: "leaving" }
    expect(ok({ type: "goodbye", data, networkName: "n" })).toEqual({ type: "goodbye", data, networkName: "n" })
    expect(ok({ type: "goodbye" })).toEqual({ type: "goodbye" })
  })

  it("ping with any JSON data, or none", () => {
    expect(ok({ type: "ping" })).toEqual({ type: "ping" })
    expect(ok({ type: "ping", data: { timestamp: 1 } })).toEqual({ type: "ping", data: { timestamp: 1 } })
    expect(ok({ type: "ping", data: 42 })).toEqual({ type: "ping", data: 42 })
    expect(ok({ type: "ping", data: "hi" })).toEqual({ type: "ping", data: "hi" })
    expect(ok({ type: "ping", data: null })).toEqual({ type: "ping", data: null })
    expect(ok({ type: "ping", data: [1, "two"] })).toEqual({ type: "ping", data: [1, "two"] })
  })

  it("cleanup, with data and a target", () => {
    const data = { peerId: A, targetPeerId: B, reason: "timeout" }
    expect(ok({ type: "cleanup", data, targetPeerId: B })).toEqual({ type: "cleanup", data, targetPeerId: B })
    expect(ok({ type: "cleanup" })).toEqual({ type: "cleanup" })
  })

  it("covers exactly the client types of PROTOCOL.md", () => {
    expect([...clientMessageTypes].sort()).toEqual(
      ["announce", "answer", "cleanup", "goodbye", "ice-candidate", "offer", "ping"].sort()
    )
  })
})

describe("decodeClientFrame: normalisation", () => {
  it.each(["announce", "offer", "answer", "ice-candidate", "goodbye", "ping", "cleanup"])(
    "strips a client-supplied fromPeerId from %s",
    (type) => {
      const data = type === "announce" ? { peerId: A } : type === "ice-candidate" ? null : { x: 1 }
      const msg = ok({ type, data, targetPeerId: B, fromPeerId: "f".repeat(40) })
      expect("fromPeerId" in msg).toBe(false)
      expect(msg.type).toBe(type)
    }
  )

  it("strips other unknown top-level keys too", () => {
    const msg = ok({ type: "ping", isHub: true, code: "x" })
    expect(msg).toEqual({ type: "ping" })
    expect(isFrameProblem(msg)).toBe(false)
  })

  it.each(["offer", "answer", "ice-candidate", "cleanup"])("lowercases an uppercase targetPeerId on %s", (type) => {
    const msg = ok({ type, data: { x: 1 }, targetPeerId: B.toUpperCase() })
    expect((msg as { targetPeerId?: string }).targetPeerId).toBe(B)
  })
})

describe("decodeClientFrame: problems", () => {
  it.each(["", "{", "not json", "{'type':'ping'}", '{"type":"ping",}', "undefined"])("invalid-json for %j", (text) => {
    expect(problem(text)).toEqual({ code: "invalid-json", message: "Invalid JSON" })
  })

  it.each(["42", '"ping"', "null", "true", "[]", '[{"type":"ping"}]'])("invalid-frame for a non-object %s", (text) => {
    const p = problem(text)
    expect(p.code).toBe("invalid-frame")
    expect(p.message).toBe("A frame must be a JSON object")
  })

  it.each([frame({}), frame({ data: {} }), frame({ type: 7 }), frame({ type: null }), frame({ type: ["ping"] })])(
    "invalid-frame for a missing or non-string type: %s",
    (text) => {
      expect(problem(text)).toEqual({ code: "invalid-frame", message: "Missing message type" })
    }
  )

  it.each([
    ["offer without targetPeerId", { type: "offer", data: { sdp: "x" } }],
    ["offer with a short targetPeerId", { type: "offer", data: { sdp: "x" }, targetPeerId: "abc" }],
    ["answer with a non-hex targetPeerId", { type: "answer", data: {}, targetPeerId: "z".repeat(40) }],
    ["ice-candidate with a numeric targetPeerId", { type: "ice-candidate", data: null, targetPeerId: 1 }],
    ["cleanup with a 41-char targetPeerId", { type: "cleanup", targetPeerId: "a".repeat(41) }],
    ["offer with string data", { type: "offer", data: "v=0", targetPeerId: B }],
    ["offer with null data", { type: "offer", data: null, targetPeerId: B }],
    ["answer with array data", { type: "answer", data: [1], targetPeerId: B }],
    ["ice-candidate without data", { type: "ice-candidate", targetPeerId: B }],
    ["ice-candidate with numeric data", { type: "ice-candidate", data: 5, targetPeerId: B }],
    ["announce without data", { type: "announce" }],
    ["announce with string data", { type: "announce", data: "hello" }],
    ["goodbye with string data", { type: "goodbye", data: "bye" }],
    ["cleanup with numeric data", { type: "cleanup", data: 1 }],
    ["an empty networkName", { type: "ping", networkName: "" }],
    ["a networkName over 128 characters", { type: "ping", networkName: "n".repeat(129) }],
    ["a numeric networkName", { type: "ping", networkName: 5 }],
    ["a string maxPeers", { type: "announce", data: { peerId: A }, maxPeers: "3" }]
  ])("invalid-frame for %s, naming the type", (_, value) => {
    const p = problem(frame(value))
    expect(p.code).toBe("invalid-frame")
    expect(p.message.startsWith(`Invalid ${(value as { type: string }).type} message: `)).toBe(true)
    expect(p.message.length).toBeLessThanOrEqual(`Invalid ${(value as { type: string }).type} message: `.length + 303)
  })

  it("the invalid-frame message says which field is wrong", () => {
    expect(problem(frame({ type: "offer", data: {}, targetPeerId: "abc" })).message).toContain("targetPeerId")
    expect(problem(frame({ type: "offer", data: "v=0", targetPeerId: B })).message).toContain("data")
  })

  it("accepts networkName at the 1 and 128 character bounds", () => {
    expect(ok({ type: "ping", networkName: "n" })).toEqual({ type: "ping", networkName: "n" })
    expect(ok({ type: "ping", networkName: "n".repeat(128) })).toEqual({ type: "ping", networkName: "n".repeat(128) })
  })

  it.each(["peer-discovered", "connected", "pong", "error", "PING", "Announce", "", "hello"])(
    "unknown-type for %j",
    (type) => {
      expect(problem(frame({ type, data: {} }))).toEqual({ code: "unknown-type", message: `Unknown message type: ${type}` })
    }
  )

  it("unknown-type truncates the type to 64 characters", () => {
    const type = "x".repeat(64) + "y".repeat(1000)
    const p = problem(frame({ type }))
    expect(p).toEqual({ code: "unknown-type", message: `Unknown message type: ${"x".repeat(64)}` })
  })

  it("isFrameProblem tells problems from messages", () => {
    expect(isFrameProblem(decodeClientFrame("{"))).toBe(true)
    expect(isFrameProblem(decodeClientFrame(frame({ type: "ping" })))).toBe(false)
  })
})

describe("decodeServerFrame", () => {
  const decodeOk = (value: unknown) => {
    const exit = decodeServerFrame(frame(value))
    if (!Exit.isSuccess(exit)) throw new Error(`expected success, got ${String(exit.cause)}`)
    return exit.value
  }
  const now = 1_700_000_000_000

  it("accepts connected, with and without a nonce, and lowercases the peer id", () => {
    expect(decodeOk({ type: "connected", data: { peerId: A.toUpperCase() }, fromPeerId: "system", timestamp: now })).toEqual({
      type: "connected",
      data: { peerId: A },
      fromPeerId: "system",
      timestamp: now
    })
    expect(
      decodeOk({ type: "connected", data: { peerId: A, nonce: "abc" }, fromPeerId: "system", timestamp: now })
    ).toMatchObject({ data: { peerId: A, nonce: "abc" } })
  })

  it("accepts peer-discovered with isHub, verified and announce extras", () => {
    const msg = {
      type: "peer-discovered",
      data: { peerId: B, isHub: false, verified: true, publicKey: "pk", nickname: "bob", caps: { video: true } },
      fromPeerId: "system",
      targetPeerId: A,
      networkName: "global",
      timestamp: now
    }
    expect(decodeOk(msg)).toEqual(msg)
  })

  it("accepts pong, error (with and without code), peer-disconnected and relayed messages", () => {
    const pong = { type: "pong", data: { timestamp: now }, fromPeerId: "system", timestamp: now }
    expect(decodeOk(pong)).toEqual(pong)
    const error = { type: "error", error: "Unknown message type: x", code: "unknown-type", fromPeerId: "system", timestamp: now }
    expect(decodeOk(error)).toEqual(error)
    const { code: _code, ...errorWithoutCode } = error
    expect(decodeOk(errorWithoutCode)).toEqual(errorWithoutCode)
    const gone = {
      type: "peer-disconnected",
      data: { peerId: B, reason: "goodbye", timestamp: now },
      fromPeerId: "system",
      targetPeerId: A,
      networkName: "global",
      timestamp: now
    }
    expect(decodeOk(gone)).toEqual(gone)
    const offer = { type: "offer", data: { type: "offer", sdp: "v=0" }, fromPeerId: B, targetPeerId: A, timestamp: now }
    expect(decodeOk(offer)).toEqual(offer)
    const end = { type: "ice-candidate", data: null, fromPeerId: B, targetPeerId: A, timestamp: now }
    expect(decodeOk(end)).toEqual(end)
  })

  it("rejects non-JSON, unknown types, a system frame from a non-system sender, and missing timestamps", () => {
    expect(Exit.isFailure(decodeServerFrame("{"))).toBe(true)
    expect(Exit.isFailure(decodeServerFrame(frame({ type: "bogus", fromPeerId: "system", timestamp: now })))).toBe(true)
    expect(
      Exit.isFailure(decodeServerFrame(frame({ type: "pong", data: { timestamp: now }, fromPeerId: A, timestamp: now })))
    ).toBe(true)
    expect(Exit.isFailure(decodeServerFrame(frame({ type: "pong", data: { timestamp: now }, fromPeerId: "system" })))).toBe(
      true
    )
    expect(
      Exit.isFailure(
        decodeServerFrame(frame({ type: "offer", data: {}, fromPeerId: "system", targetPeerId: A, timestamp: now }))
      )
    ).toBe(true)
  })
})
