/**
 * A server cut off from Redis, and one id wanted on two servers. Server P reaches Redis
 * through an in-test TCP proxy; Q and R directly. When the proxy blackholes (no bytes, no
 * close), P closes its sockets with 1013 before its lease can expire, answers `/health`
 * 503 and refuses newcomers with 1013; its peers are re-admitted on Q and R once the lease
 * is gone. A sampler reads every server's connections every few milliseconds throughout:
 * no id is ever held by two servers. Takeover across servers is what one server does: a
 * proven holder keeps its id, an unproven one loses it to a proven announce.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { TAKEOVER_REASON } from "../../src/server/Announce.ts"
import { PeerPigeonServer } from "../../src/server/index.ts"
import { type ClusterPeer, joinAs, makePeer, otherFrames, rejoin, until } from "../support/cluster.ts"
import { type RedisServer, startRedis } from "../support/redis.ts"
import { randomId } from "../support/server.ts"
import { startTcpProxy, type TcpProxy } from "../support/tcpProxy.ts"
import { connect, join, type TestClient } from "../support/wsClient.ts"

const LEASE_TTL = 3000 // RedisCluster.ts defaults (docs/DEPLOYMENT.md)
const FENCE_AFTER = 2500
const RENEW_INTERVAL = 1000

let redis: RedisServer
let proxy: TcpProxy
let P: PeerPigeonServer
let Q: PeerPigeonServer
let R: PeerPigeonServer
const common = { host: "127.0.0.1", port: 0, discoveryRandom: 0, maxConnectionsPerIp: 500 }

beforeAll(async () => {
  redis = await startRedis()
  proxy = await startTcpProxy({ path: redis.socket })
})
afterAll(async () => {
  await proxy?.close()
  await redis?.stop()
})

/** Every few ms: which server holds each id; any id held twice is recorded. */
const ownerSampler = (servers: ReadonlyArray<PeerPigeonServer>) => {
  const doubles: Array<string> = []
  let samples = 0
  const timer = setInterval(() => {
    samples++
    const seen = new Map<string, number>()
    for (const [i, s] of servers.entries()) {
      if (!s.isRunning) continue
      for (const p of s.getPeers()) {
        const other = seen.get(p.peerId)
        if (other !== undefined) doubles.push(`${p.peerId} on servers ${other} and ${i}`)
        seen.set(p.peerId, i)
      }
    }
  }, 5)
  return { doubles, samples: () => samples, stop: () => clearInterval(timer) }
}

const health = async (s: PeerPigeonServer) => (await fetch(`http://127.0.0.1:${s.port}/health`)).status
const ownerOf = async (id: string) => (await redis.command("HGET", "pp:owner", id)).split("\r\n")[1]?.split("|")[0]

const clients: Array<TestClient> = []
const peers: Array<ClusterPeer> = []
let sampler: ReturnType<typeof ownerSampler>
beforeEach(async () => {
  await redis.command("FLUSHALL")
  proxy.heal()
  P = new PeerPigeonServer({ ...common, redis: `redis://127.0.0.1:${proxy.port}` })
  Q = new PeerPigeonServer({ ...common, redisSocket: redis.socket })
  R = new PeerPigeonServer({ ...common, redisSocket: redis.socket })
  await Promise.all([P.start(), Q.start(), R.start()])
  sampler = ownerSampler([P, Q, R])
})
afterEach(async () => {
  sampler.stop()
  for (const c of clients.splice(0)) await c.close()
  for (const p of peers.splice(0)) await p.client?.close()
  proxy.heal()
  await Promise.all([P.stop(), Q.stop(), R.stop()])
  expect(sampler.doubles).toEqual([])
})

describe("a server partitioned from Redis", () => {
  it("closes its sockets with 1013 before its lease expires, answers 503, and its peers are owned once, elsewhere", async () => {
    const servers = [P, Q, R]
    for (let i = 0; i < 12; i++) {
      const peer = await makePeer()
      peers.push(peer)
      await joinAs(peer, servers[i % 3]!.port, "n")
    }
    await until("all announced", () => peers.every((p) => p.knows.size >= 2))
    const onP = peers.filter((p) => p.port === P.port)
    const pId = await ownerOf(onP[0]!.peerId)
    expect(await health(P)).toBe(200)

    const cutAt = Date.now()
    proxy.blackhole()
    // while P still holds its lease, its proven peer's id is refused on Q (never two owners)
    const twin = await connect(Q.port, onP[0]!.peerId)
    expect(await twin.closed).toEqual({ code: 1008, reason: "Peer already connected" })

    const closes = await Promise.all(onP.map((p) => p.client.closed.then((c) => ({ ...c, at: Date.now() }))))
    const fencedAfter = Math.max(...closes.map((c) => c.at)) - cutAt
    for (const c of closes) expect(c).toMatchObject({ code: 1013, reason: "Signaling store unreachable; try again later" })
    // fenced before anyone could take its peers over: the lease was still there
    const leaseLeft = Number((await redis.command("PTTL", `pp:srv:${pId}`)).slice(1))
    expect(await health(P)).toBe(503)
    expect(await health(Q)).toBe(200)
    const late = await connect(P.port, randomId())
    expect((await late.closed).code).toBe(1013)

    const back = await Promise.all(onP.map((p, i) => rejoin(p, i % 2 === 0 ? [Q.port, R.port] : [R.port, Q.port], "n", cutAt + 20_000)))
    const readmittedAfter = Math.max(...back) - cutAt
    for (const p of onP) expect(await ownerOf(p.peerId)).not.toBe(pId)
    // the others were told the peers of P had gone (swept), and met them again
    for (const p of peers.filter((x) => x.port !== P.port && !onP.includes(x))) {
      for (const f of otherFrames(p)) expect(f.type).not.toBe("error")
    }

    proxy.heal()
    const healedAt = Date.now()
    for (;;) {
      if (await health(P) === 200) break
      if (Date.now() - healedAt > LEASE_TTL + 2000) throw new Error("P did not come back")
      await new Promise((r) => setTimeout(r, 20))
    }
    const servingAfter = Date.now() - healedAt
    const fresh = await makePeer()
    peers.push(fresh)
    await joinAs(fresh, P.port, "n")
    await until("the newcomer on P discovers", () => fresh.knows.size > 0)
    expect(await redis.command("HLEN", "pp:owner")).toBe(":13\r\n")
    expect(await redis.command("ZCARD", "pp:{n}:ids")).toBe(":13\r\n")
    console.log(
      `partition: sockets closed (1013) ${fencedAfter} ms after the cut with ${leaseLeft} ms of lease left; ` +
        `re-admitted elsewhere after ${readmittedAfter} ms; serving ${servingAfter} ms after the heal; ${sampler.samples()} owner samples`
    )
    expect(fencedAfter).toBeLessThan(FENCE_AFTER + RENEW_INTERVAL)
    expect(leaseLeft).toBeGreaterThan(0)
    expect(readmittedAfter).toBeLessThan(LEASE_TTL + 3 * RENEW_INTERVAL)
  }, 60_000)
})

describe("one id on two servers", () => {
  it("a proven holder keeps its id: a second connection on another server is refused (1008)", async () => {
    const holder = await makePeer()
    peers.push(holder)
    await joinAs(holder, Q.port, "n")
    await until("announced", () => Q.getPeers().some((p) => p.peerId === holder.peerId && p.verified))
    const second = await connect(R.port, holder.peerId)
    expect(await second.closed).toEqual({ code: 1008, reason: "Peer already connected" })
    holder.client.send({ type: "ping" })
    await until("the holder still served", () => otherFrames(holder).some((f) => f.type === "pong"))
    expect(R.getPeers()).toEqual([])
  })

  it("an unproven holder loses its id to a proven announce on another server; an unproven contender is refused", async () => {
    const me = await makePeer()
    const watcher = await makePeer()
    peers.push(watcher)
    await joinAs(watcher, P.port, "n")
    // the squatter holds me's id on Q without a proof
    const squatter = await join(Q.port, me.peerId)
    clients.push(squatter)
    squatter.send({ type: "announce", data: {}, networkName: "n" })
    await until("the watcher met the squatter", () => watcher.knows.has(me.peerId))
    const qId = await ownerOf(me.peerId)
    // an unproven contender on R gets the greeting, then 1.x's answer for a duplicate
    const contender = await join(R.port, me.peerId)
    contender.send({ type: "announce", data: {}, networkName: "n" })
    expect(await contender.closed).toEqual({ code: 1008, reason: "Peer already connected" })
    expect(Q.getPeers().map((p) => p.peerId)).toEqual([me.peerId])

    // the proven owner on R takes the id over: the squatter is closed, the watcher told, then introduced to the owner
    peers.push(me)
    await joinAs(me, R.port, "n")
    expect(await squatter.closed).toEqual({ code: 1008, reason: TAKEOVER_REASON })
    await until("the watcher told and introduced again", () => watcher.goneAt.has(me.peerId) && watcher.knows.has(me.peerId))
    await until("Q let go", () => Q.getPeers().length === 0)
    const rId = await ownerOf(me.peerId)
    expect(rId).toBeDefined()
    expect(rId).not.toBe(qId)
    expect(R.getPeers().map((p) => [p.peerId, p.verified])).toEqual([[me.peerId, true]])
  })
})

describe("a short Redis blip (under the fence)", () => {
  it("an admission that timed out leaves no owner behind once its command runs late", async () => {
    await P.stop()
    P = new PeerPigeonServer({ ...common, redis: `redis://127.0.0.1:${proxy.port}`, redisCommandTimeout: 300 })
    await P.start()
    // one admission first, so the script is loaded and the late one is the admission itself
    const warm = await join(P.port, randomId())
    await warm.close()
    const id = randomId()
    proxy.blackhole()
    const x = await connect(P.port, id)
    expect(await x.closed).toEqual({ code: 1013, reason: "Signaling store unavailable; try again later" })
    proxy.heal()
    // commands on P's connection run in order: once this one is admitted, the late one has run
    const probe = await join(P.port, randomId())
    clients.push(probe)
    expect(await redis.command("HGET", "pp:owner", id)).toBe("$-1\r\n")
    const again = await join(Q.port, id)
    clients.push(again)
    again.send({ type: "announce", data: {}, networkName: "n" })
    await until("admitted on Q", () => Q.getPeers().some((p) => p.peerId === id && p.announced))
    const [onP] = P.getPeers()
    expect(await ownerOf(id)).not.toBe(await ownerOf(onP!.peerId))
  })
})
