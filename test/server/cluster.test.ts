/**
 * Three servers over one Redis act as one: 60 peers spread round-robin discover exactly what
 * one server's XOR discovery gives them (the in-memory `XorIndex` decides), relays cross
 * servers in order and stamped, a peer of another network on another server stays
 * `unknown-peer`, and a leave on one server reaches those on the others who knew it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { XorIndex } from "../../src/internal/xorIndex.ts"
import { PeerPigeonServer } from "../../src/server/index.ts"
import { startRedis, type RedisServer } from "../support/redis.ts"
import { randomId } from "../support/server.ts"
import { connect, type Frame, ofType, type TestClient } from "../support/wsClient.ts"

let redis: RedisServer
let servers: Array<PeerPigeonServer>
beforeAll(async () => {
  redis = await startRedis()
  servers = [0, 1, 2].map(() => new PeerPigeonServer({ host: "127.0.0.1", port: 0, redisSocket: redis.socket, discoveryRandom: 0, maxConnectionsPerIp: 500 }))
  for (const s of servers) await s.start()
})
afterAll(async () => {
  for (const s of servers) await s.stop()
  await redis.stop()
})

const K = 8
const discovered = (c: TestClient) => new Set(c.all("peer-discovered").map((f) => (f["data"] as { peerId: string }).peerId))

/** Waits (by polling its received frames on each tick, bounded) until `check` holds. */
const until = async (check: () => boolean, what: string) => {
  const deadline = Date.now() + 10_000
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe("three servers over one Redis", () => {
  it("60 peers: discoveries as one server, ordered relays across servers, no cross-network relay, leaves told everywhere", async () => {
    const oracle = new XorIndex<string>()
    const knows = new Map<string, Set<string>>()
    const clients = new Map<string, TestClient>()
    const home = new Map<string, number>()
    for (let i = 0; i < 60; i++) {
      const id = randomId()
      const c = await connect(servers[i % 3]!.port, id)
      await c.next(ofType("connected"))
      oracle.add(id)
      const ring = oracle.ringNeighbours(id)
      const chosen = new Set([...oracle.closest(id, K), ring.pred, ring.succ].filter((x): x is string => x !== undefined))
      knows.set(id, new Set(chosen))
      for (const other of chosen) knows.get(other)!.add(id)
      clients.set(id, c)
      home.set(id, i % 3)
      c.send({ type: "announce", data: {}, networkName: "n" })
      await until(() => discovered(c).size === chosen.size, `${chosen.size} discoveries of peer ${i}`)
      expect(discovered(c)).toEqual(chosen)
    }
    // the introductions reached the earlier peers on every server
    for (const [id, c] of clients) await until(() => discovered(c).size === knows.get(id)!.size, `introductions of ${id}`)
    for (const [id, c] of clients) expect(discovered(c)).toEqual(knows.get(id))
    expect((await servers[0]!.getClusterStats())).toMatchObject({ servers: 3, peers: 60 })

    // relays between peers on different servers: in order, stamped with the sender
    const ids = [...clients.keys()]
    const pairs = ids.slice(0, 10).map((a, i) => [a, ids.find((b, j) => j > 10 + i && home.get(b) !== home.get(a))!] as const)
    for (const [a, b] of pairs) for (let seq = 0; seq < 30; seq++) clients.get(a)!.send({ type: "offer", data: { seq }, targetPeerId: b })
    for (const [a, b] of pairs) {
      const got = clients.get(b)!
      await until(() => got.all("offer").filter((f) => f.fromPeerId === a).length === 30, `30 offers ${a} -> ${b}`)
      expect(got.all("offer").filter((f) => f.fromPeerId === a).map((f) => (f["data"] as { seq: number }).seq)).toEqual([...Array(30).keys()])
    }

    // a peer of another network on another server: unknown-peer, no frame reaches it
    const stranger = randomId()
    const s = await connect(servers[(home.get(ids[0]!)! + 1) % 3]!.port, stranger)
    s.send({ type: "announce", data: {}, networkName: "other" })
    await until(() => servers.some((srv) => srv.getPeers().some((p) => p.peerId === stranger && p.announced)), "stranger announced")
    clients.get(ids[0]!)!.send({ type: "offer", data: {}, targetPeerId: stranger })
    const refusal = await clients.get(ids[0]!)!.next((f: Frame) => f.type === "error")
    expect(refusal["code"]).toBe("unknown-peer")
    expect(s.all("offer")).toEqual([])

    // a leave on one server reaches those that knew it, on every server
    const leaver = ids[5]!
    await clients.get(leaver)!.close()
    for (const other of knows.get(leaver)!) {
      const c = clients.get(other)!
      await until(() => c.all("peer-disconnected").some((f) => (f["data"] as { peerId: string }).peerId === leaver), `${other} told`)
    }
    const told = ids.filter((id) => clients.get(id)!.all("peer-disconnected").length > 0)
    expect(new Set(told)).toEqual(knows.get(leaver))
    for (const c of [...clients.values(), s]) await c.close()
  }, 60_000)
})
