import { describe, expect, it } from "vitest"
import { connect, hexId, join, ofType } from "../support/wsClient.ts"
import { withServer } from "../support/server.ts"

const A = hexId(0xa, "a")
const B = hexId(0xb, "b")
const C = hexId(0xc, "c")

describe("signaling protocol", () => {
  it("greets with connected, a nonce, and the normalised peer id", () =>
    withServer({}, async (server) => {
      const client = await connect(server.port, A.toUpperCase())
      const hello = await client.next()
      expect(hello).toMatchObject({ type: "connected", data: { peerId: A }, fromPeerId: "system" })
      expect(typeof (hello["data"] as { nonce: unknown }).nonce).toBe("string")
      expect(typeof hello["timestamp"]).toBe("number")
      await client.close()
    }))

  it.each([
    ["a missing peerId", null],
    ["a short peerId", "abc"],
    ["a non-hex peerId", "z".repeat(40)]
  ])("closes %s with 1008", (_, peerId) =>
    withServer({}, async (server) => {
      const client = await connect(server.port, peerId)
      expect(await client.closed).toEqual({ code: 1008, reason: "Invalid peerId format" })
    }))

  it("refuses a second connection with the same peer id (1008) and keeps the first", () =>
    withServer({}, async (server) => {
      const first = await join(server.port, A)
      // the first has not proved A, so the second is greeted and may still prove it (see
      // test/adversarial); an announce without a proof gets 1.x's refusal
      const second = await join(server.port, A)
      second.send({ type: "announce", data: { peerId: A } })
      expect(await second.closed).toEqual({ code: 1008, reason: "Peer already connected" })
      first.send({ type: "announce", data: { peerId: A } })
      const third = await join(server.port, A)
      third.send({ type: "ping" })
      await third.next(ofType("pong"))
      third.send({ type: "offer", data: {}, targetPeerId: B })
      expect(await third.next()).toMatchObject({ type: "error", code: "not-announced" })
      third.send({ type: "announce", data: { peerId: A } })
      expect(await third.closed).toEqual({ code: 1008, reason: "Peer already connected" })
      first.send({ type: "ping" })
      expect(await first.next()).toMatchObject({ type: "pong" })
      await first.close()
    }))

  it("refuses connections over maxConnections (1008) and frees slots on close", () =>
    withServer({ maxConnections: 2 }, async (server) => {
      const a = await join(server.port, A)
      const b = await join(server.port, B)
      const c = await connect(server.port, C)
      expect(await c.closed).toEqual({ code: 1008, reason: "Maximum connections reached" })
      await a.close()
      const c2 = await join(server.port, C)
      await Promise.all([b.close(), c2.close()])
    }))

  it("closes with 1009 on a frame over maxMessageSize", () =>
    withServer({ maxMessageSize: 1024 }, async (server) => {
      const a = await join(server.port, A)
      a.send({ type: "ping", data: "x".repeat(2000) })
      expect((await a.closed).code).toBe(1009)
    }))

  it("answers invalid JSON, schema-invalid frames and unknown types with error, and stays usable", () =>
    withServer({}, async (server) => {
      const a = await join(server.port, A)
      a.send("{not json")
      expect(await a.next()).toMatchObject({ type: "error", code: "invalid-json", fromPeerId: "system" })
      a.send({ type: "offer", data: 5, targetPeerId: B })
      const invalid = await a.next()
      expect(invalid).toMatchObject({ type: "error", code: "invalid-frame" })
      expect(String(invalid["error"])).toContain("data")
      a.send({ type: "offer", data: {}, targetPeerId: "nope" })
      expect(await a.next()).toMatchObject({ type: "error", code: "invalid-frame" })
      a.send({ type: "teleport", data: {} })
      expect(await a.next()).toMatchObject({ type: "error", code: "unknown-type", error: "Unknown message type: teleport" })
      a.send([1, 2])
      expect(await a.next()).toMatchObject({ type: "error", code: "invalid-frame" })
      a.send({ data: 1 })
      expect(await a.next()).toMatchObject({ type: "error", code: "invalid-frame" })
      a.send({ type: "ping", data: { peerId: A } })
      expect(await a.next()).toMatchObject({ type: "pong", fromPeerId: "system" })
      await a.close()
    }))

  it("announce: both sides learn of each other, only within the network", () =>
    withServer({}, async (server) => {
      const a = await join(server.port, A)
      const b = await join(server.port, B)
      const c = await join(server.port, C)
      a.send({ type: "announce", data: { peerId: A, name: "alice" }, networkName: "red" })
      c.send({ type: "announce", data: { peerId: C }, networkName: "blue" })
      b.send({ type: "announce", data: { peerId: B }, networkName: "red" })
      const toB = await b.next(ofType("peer-discovered"))
      expect(toB).toMatchObject({
        type: "peer-discovered",
        data: { peerId: A, isHub: false, name: "alice" },
        fromPeerId: "system",
        targetPeerId: B,
        networkName: "red"
      })
      expect(await a.next(ofType("peer-discovered"))).toMatchObject({ data: { peerId: B }, targetPeerId: A })
      // c is alone in "blue": a ping round-trip orders the check after any discovery would have arrived
      c.send({ type: "ping" })
      await c.next(ofType("pong"))
      expect(c.all("peer-discovered")).toEqual([])
      await Promise.all([a.close(), b.close(), c.close()])
    }))

  it("relays offer, answer and ice-candidate with the sender's real id", () =>
    withServer({}, async (server) => {
      const a = await join(server.port, A)
      const b = await join(server.port, B)
      a.send({ type: "announce", data: { peerId: A } })
      b.send({ type: "announce", data: { peerId: B } })
      await a.next(ofType("peer-discovered"))
      const spoof = C
      b.send({ type: "offer", data: { type: "offer", sdp: "v=0" }, targetPeerId: A, fromPeerId: spoof })
      expect(await a.next(ofType("offer"))).toMatchObject({
        data: { type: "offer", sdp: "v=0" },
        fromPeerId: B,
        targetPeerId: A,
        networkName: "global"
      })
      a.send({ type: "answer", data: { type: "answer", sdp: "v=0" }, targetPeerId: B })
      expect(await b.next(ofType("answer"))).toMatchObject({ fromPeerId: A })
      b.send({ type: "ice-candidate", data: { candidate: "candidate:1", sdpMid: "0", sdpMLineIndex: 0 }, targetPeerId: A })
      expect(await a.next(ofType("ice-candidate"))).toMatchObject({ data: { candidate: "candidate:1" }, fromPeerId: B })
      b.send({ type: "ice-candidate", data: null, targetPeerId: A })
      expect(await a.next(ofType("ice-candidate"))).toMatchObject({ data: null, fromPeerId: B })
      await Promise.all([a.close(), b.close()])
    }))

  it("refuses relays to unknown peers, to other networks, and before announcing", () =>
    withServer({}, async (server) => {
      const a = await join(server.port, A)
      const b = await join(server.port, B)
      a.send({ type: "offer", data: { sdp: "x" }, targetPeerId: B })
      expect(await a.next()).toMatchObject({ type: "error", code: "not-announced" })
      a.send({ type: "announce", data: { peerId: A }, networkName: "red" })
      b.send({ type: "announce", data: { peerId: B }, networkName: "blue" })
      b.send({ type: "ping" })
      await b.next(ofType("pong"))
      a.send({ type: "offer", data: { sdp: "x" }, targetPeerId: C })
      const unknown = await a.next(ofType("error"))
      a.send({ type: "offer", data: { sdp: "x" }, targetPeerId: B, networkName: "blue" })
      const cross = await a.next(ofType("error"))
      expect(unknown).toMatchObject({ code: "unknown-peer" })
      // the same answer for both, so nothing leaks about other networks
      expect(cross).toMatchObject({ code: "unknown-peer", error: `Unknown peer ${B} in network red` })
      b.send({ type: "ping" })
      await b.next(ofType("pong"))
      expect(b.all("offer")).toEqual([])
      await Promise.all([a.close(), b.close()])
    }))

  it("goodbye and close tell the peers that knew, and no other network", () =>
    withServer({}, async (server) => {
      const a = await join(server.port, A)
      const b = await join(server.port, B)
      const c = await join(server.port, C)
      c.send({ type: "announce", data: { peerId: C }, networkName: "other" })
      a.send({ type: "announce", data: { peerId: A } })
      b.send({ type: "announce", data: { peerId: B } })
      await a.next(ofType("peer-discovered"))
      b.send({ type: "goodbye", data: { peerId: B, timestamp: Date.now(), reason: "peer_disconnect" } })
      expect(await a.next(ofType("peer-disconnected"))).toMatchObject({
        data: { peerId: B, reason: "peer_disconnect" },
        fromPeerId: "system",
        targetPeerId: A,
        networkName: "global"
      })
      b.send({ type: "announce", data: { peerId: B } })
      await a.next(ofType("peer-discovered"))
      await b.close()
      expect(await a.next(ofType("peer-disconnected"))).toMatchObject({ data: { peerId: B } })
      c.send({ type: "ping" })
      await c.next(ofType("pong"))
      expect(c.all("peer-disconnected")).toEqual([])
      await Promise.all([a.close(), c.close()])
    }))

  it("accepts cleanup without a reply", () =>
    withServer({}, async (server) => {
      const a = await join(server.port, A)
      a.send({ type: "cleanup", data: { peerId: A, targetPeerId: B, reason: "peer_disconnect" }, targetPeerId: B })
      a.send({ type: "ping" })
      expect(await a.next()).toMatchObject({ type: "pong" })
      await a.close()
    }))

  it("refuses an announce whose data.peerId is not the connection's", () =>
    withServer({}, async (server) => {
      const a = await join(server.port, A)
      a.send({ type: "announce", data: { peerId: B } })
      expect(await a.next()).toMatchObject({ type: "error", code: "peer-id-mismatch" })
      await a.close()
    }))

  it("rate-limits a flooding connection, then closes it (1008)", () =>
    withServer({ rateLimit: { perSecond: 10, burst: 5 }, rateLimitCloseAfter: 50 }, async (server) => {
      const a = await join(server.port, A)
      const b = await join(server.port, B)
      for (let i = 0; i < 200; i++) a.send({ type: "ping" })
      expect(await a.next(ofType("error"))).toMatchObject({ code: "rate-limited" })
      expect(await a.closed).toEqual({ code: 1008, reason: "Rate limit exceeded" })
      // a healthy neighbour is untouched
      b.send({ type: "ping" })
      expect(await b.next(ofType("pong"))).toMatchObject({ type: "pong" })
      await b.close()
    }))

  it("drops a peer that stops answering pings after peerTimeout and tells its neighbours", () =>
    withServer({ peerTimeout: 300, pingInterval: 50 }, async (server) => {
      const live = await join(server.port, A)
      const dead = await join(server.port, B, { autoPong: false })
      live.send({ type: "announce", data: { peerId: A } })
      dead.send({ type: "announce", data: { peerId: B } })
      await live.next(ofType("peer-discovered"))
      expect(await live.next(ofType("peer-disconnected"), 5000)).toMatchObject({ data: { peerId: B, reason: "timeout" } })
      expect((await dead.closed).code).toBe(1006)
      expect(live.ws.readyState).toBe(live.ws.OPEN)
      const peers = server.getPeers()
      expect(peers.map((p) => p.peerId)).toEqual([A])
      expect(server.getStats().timeouts).toBe(1)
      await live.close()
    }))
})
