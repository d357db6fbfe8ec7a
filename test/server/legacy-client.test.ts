// Drives the server exactly as a PeerPigeon 1.x client does: the frames of its
// SignalingClient (announce with only {peerId}, maxPeers and a self-declared fromPeerId on
// every frame, RTCSessionDescription-shaped offers, candidates, keep-alive pings, goodbye),
// no identity, no networkName. Three such clients must discover each other and relay.
import { describe, expect, it } from "vitest"
import { withServer } from "../support/server.ts"
import { connect, type Frame, ofType, type TestClient } from "../support/wsClient.ts"

const ids = ["3f2a" + "1".repeat(36), "9c01" + "2".repeat(36), "e7b4" + "3".repeat(36)]

const legacySend = (client: TestClient, self: string, message: { type: string; data: unknown; targetPeerId?: string }) =>
  client.send({
    type: message.type,
    data: message.data,
    maxPeers: 3,
    fromPeerId: self,
    ...(message.targetPeerId !== undefined && { targetPeerId: message.targetPeerId })
  })

describe("a PeerPigeon 1.x client", () => {
  it("connects, announces, discovers, relays offer/answer/candidates and says goodbye", () =>
    withServer({}, async (server) => {
      const clients: Array<TestClient> = []
      for (const id of ids) {
        // 1.x appends ?peerId= to the URL it is given and ignores `connected` beyond logging
        const client = await connect(server.port, id)
        expect(await client.next(ofType("connected"))).toMatchObject({ data: { peerId: id } })
        legacySend(client, id, { type: "announce", data: { peerId: id } })
        clients.push(client)
      }
      const [a, b, c] = clients as [TestClient, TestClient, TestClient]
      // everyone learns of everyone (3 peers < K)
      const discoveredBy = async (client: TestClient, n: number) => {
        const got: Array<Frame> = []
        for (let i = 0; i < n; i++) got.push(await client.next(ofType("peer-discovered")))
        return got.map((f) => (f["data"] as { peerId: string }).peerId).sort()
      }
      expect(await discoveredBy(a, 2)).toEqual([ids[1], ids[2]])
      expect(await discoveredBy(b, 2)).toEqual([ids[0], ids[2]])
      expect(await discoveredBy(c, 2)).toEqual([ids[0], ids[1]])

      // 1.x: the greater id initiates; offer and answer are RTCSessionDescription JSON
      legacySend(c, ids[2]!, { type: "offer", data: { type: "offer", sdp: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n" }, targetPeerId: ids[0]! })
      const offer = await a.next(ofType("offer"))
      expect(offer).toMatchObject({ fromPeerId: ids[2], targetPeerId: ids[0], data: { type: "offer" } })
      legacySend(a, ids[0]!, { type: "answer", data: { type: "answer", sdp: "v=0\r\n" }, targetPeerId: ids[2]! })
      expect(await c.next(ofType("answer"))).toMatchObject({ fromPeerId: ids[0] })
      legacySend(c, ids[2]!, {
        type: "ice-candidate",
        data: { candidate: "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host", sdpMid: "0", sdpMLineIndex: 0, usernameFragment: "abcd" },
        targetPeerId: ids[0]!
      })
      expect(await a.next(ofType("ice-candidate"))).toMatchObject({ fromPeerId: ids[2], data: { sdpMid: "0" } })

      // keep-alive ping of 1.x (only the designated peer sends it)
      legacySend(a, ids[0]!, { type: "ping", data: { peerId: ids[0] } })
      expect(await a.next(ofType("pong"))).toMatchObject({ fromPeerId: "system" })

      // cleanup and goodbye as 1.x sends them on unload
      legacySend(c, ids[2]!, { type: "cleanup", data: { peerId: ids[2], targetPeerId: ids[0], timestamp: Date.now(), reason: "peer_disconnect" }, targetPeerId: ids[0]! })
      c.send({ type: "goodbye", data: { peerId: ids[2], timestamp: Date.now(), reason: "peer_disconnect" } })
      expect(await a.next(ofType("peer-disconnected"))).toMatchObject({ data: { peerId: ids[2], reason: "peer_disconnect" } })
      expect(await b.next(ofType("peer-disconnected"))).toMatchObject({ data: { peerId: ids[2] } })
      await c.close()
      // 1.x treats any other frame type as signaling; there must have been no error replies
      for (const client of clients) expect(client.all("error")).toEqual([])
      await Promise.all([a.close(), b.close()])
    }))
})
