import { describe, expect, it } from "vitest"
import { closest } from "../../src/schema/PeerId.ts"
import { withServer } from "../support/server.ts"
import { ringOf } from "../../src/internal/ring.ts"
import { type Frame, hexId, join, ofType, type TestClient } from "../support/wsClient.ts"

// deterministic, well-spread ids
const idOf = (i: number): string => {
  let x = (i + 1) * 2654435761
  let s = ""
  for (let j = 0; j < 5; j++) {
    x = (x * 1103515245 + 12345) % 2147483648
    s += x.toString(16).padStart(8, "0")
  }
  return s.slice(0, 40)
}

const peerIdOf = (f: Frame) => (f["data"] as { peerId: string }).peerId

/** Takes every frame of a type received so far out of the client's queue. */
const drain = (client: TestClient, type: string): Array<Frame> => {
  const out = client.all(type)
  for (const f of out) client.received.splice(client.received.indexOf(f), 1)
  return out
}

describe("bounded XOR discovery", () => {
  it("tells each newcomer about at most K closest + R random peers + its 2 ring neighbours in a network of 50", () =>
    withServer({ discoveryK: 5, discoveryRandom: 1, maxConnections: 100, maxConnectionsPerIp: 100 }, async (server) => {
      const ids = Array.from({ length: 50 }, (_, i) => idOf(i))
      expect(new Set(ids).size).toBe(50)
      const clients: Array<TestClient> = []
      for (const [i, id] of ids.entries()) {
        const client = await join(server.port, id)
        clients.push(client)
        client.send({ type: "announce", data: { peerId: id }, networkName: "fifty" })
        // a ping round-trip: everything this announce queued has arrived before the pong
        client.send({ type: "ping" })
        await client.next(ofType("pong"))
        const got = drain(client, "peer-discovered").map(peerIdOf)
        expect(new Set(got).size).toBe(got.length)
        expect(got.length).toBeLessThanOrEqual(Math.min(i, 5 + 1 + 2))
        if (i > 0) expect(got.length).toBeGreaterThanOrEqual(Math.min(i, 6))
        // the K closest earlier peers and both ring neighbours are always among those told
        for (const near of closest(id, ids.slice(0, i), 5)) expect(got).toContain(near)
        for (const n of ringOf(id, ids.slice(0, i))) expect(got).toContain(n)
      }
      // total discovery traffic grows as O(N*K), not O(N^2)
      const stats = server.getStats()
      expect(stats.discoveriesSent).toBeLessThanOrEqual(2 * 8 * 50)
      expect(stats.discoveriesSent).toBeGreaterThan(0)
      await Promise.all(clients.map((c) => c.close()))
    }))

  it("when a peer leaves, its two ring neighbours are told about each other", () =>
    withServer({ discoveryK: 1, discoveryRandom: 0, maxConnections: 100, maxConnectionsPerIp: 100 }, async (server) => {
      // ids 1..5 in numeric order; with K = 1 the ends of the ring do not meet by closeness
      const ids = [1, 2, 3, 4, 5].map((n) => hexId(n, "8"))
      const clients: Array<TestClient> = []
      for (const id of ids) {
        const client = await join(server.port, id)
        clients.push(client)
        client.send({ type: "announce", data: { peerId: id }, networkName: "ring" })
        client.send({ type: "ping" })
        await client.next(ofType("pong"))
      }
      // a ping round-trip on each socket: every discovery sent to it so far has arrived
      for (const c of clients) {
        c.send({ type: "ping" })
        await c.next(ofType("pong"))
        drain(c, "peer-discovered")
      }
      // 3 leaves: 2 and 4 meet (2 learns of 4, 4 of 2); nobody else hears of anyone new
      // (who knew whom: 2 knew 1 and 3; 4 knew 1 and 3; 5 knew 1 and 4)
      const [, two, , four, five] = clients
      clients[2]!.send({ type: "goodbye", data: { peerId: ids[2], timestamp: Date.now(), reason: "bye" } })
      expect(peerIdOf(await two!.next(ofType("peer-discovered")))).toBe(ids[3])
      expect(peerIdOf(await four!.next(ofType("peer-discovered")))).toBe(ids[1])
      expect(peerIdOf(await two!.next(ofType("peer-disconnected")))).toBe(ids[2])
      // 1 (the smallest) leaves: 2 and 5 (the largest) meet across the wrap-around
      await clients[0]!.close()
      expect(peerIdOf(await two!.next(ofType("peer-discovered")))).toBe(ids[4])
      expect(peerIdOf(await five!.next(ofType("peer-discovered")))).toBe(ids[1])
      for (const c of [two!, four!, five!]) {
        c.send({ type: "ping" })
        await c.next(ofType("pong"))
        expect(c.all("peer-discovered")).toEqual([])
      }
      await Promise.all(clients.map((c) => c.close()))
    }))
})
