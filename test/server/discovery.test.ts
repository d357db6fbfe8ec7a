import { describe, expect, it } from "vitest"
import { closest } from "../../src/schema/PeerId.ts"
import { withServer } from "../support/server.ts"
import { type Frame, join, ofType, type TestClient } from "../support/wsClient.ts"

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

describe("bounded XOR discovery", () => {
  it("tells each newcomer about at most K closest + R random peers in a network of 50", () =>
    withServer({ discoveryK: 5, discoveryRandom: 1, maxConnections: 100 }, async (server) => {
      const ids = Array.from({ length: 50 }, (_, i) => idOf(i))
      expect(new Set(ids).size).toBe(50)
      const clients: Array<TestClient> = []
      for (const [i, id] of ids.entries()) {
        const client = await join(server.port, id)
        clients.push(client)
        client.send({ type: "announce", data: { peerId: id }, networkName: "fifty" })
        const expected = Math.min(i, 6)
        const got: Array<string> = []
        for (let n = 0; n < expected; n++) got.push(peerIdOf(await client.next(ofType("peer-discovered"))))
        // a ping round-trip proves nothing more was queued for this announce
        client.send({ type: "ping" })
        await client.next(ofType("pong"))
        expect(client.all("peer-discovered")).toEqual([])
        // the K closest earlier peers are always among those told
        for (const near of closest(id, ids.slice(0, i), 5)) expect(got).toContain(near)
      }
      // total discovery traffic grows as O(N*K), not O(N^2)
      const stats = await server.getStats()
      expect(stats.discoveriesSent).toBeLessThanOrEqual(2 * 6 * 50)
      expect(stats.discoveriesSent).toBeGreaterThan(0)
      await Promise.all(clients.map((c) => c.close()))
    }))
})
