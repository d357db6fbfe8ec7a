/**
 * A slow subscriber: server S's Redis subscriber connection stops reading (through an in-test
 * proxy) while peers on server T relay large offers to peers on S. Redis buffers the inbox
 * up to `client-output-buffer-limit pubsub` (set low here) and then cuts the connection; the
 * frames in that buffer are gone although their PUBLISH counted a receiver. What must hold:
 * memory stays bounded (Redis's limit), S resubscribes by itself, and nothing is lost
 * silently: every offer is delivered, answered `relay-failed`, or its receiver's socket is
 * closed with 1013 once S finds the gap in its inbox's sequence (checked at least every
 * lease renewal), so the receiver reconnects and signals again.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { PeerPigeonServer } from "../../src/server/index.ts"
import { until } from "../support/cluster.ts"
import { type RedisServer, startRedis } from "../support/redis.ts"
import { randomId } from "../support/server.ts"
import { startTcpProxy, type TcpProxy } from "../support/tcpProxy.ts"
import { type Frame, join, type TestClient } from "../support/wsClient.ts"

const RENEW_INTERVAL = 1000 // RedisCluster.ts default (docs/DEPLOYMENT.md)

let redis: RedisServer
let proxy: TcpProxy
let S: PeerPigeonServer
let T: PeerPigeonServer
beforeAll(async () => {
  redis = await startRedis()
  proxy = await startTcpProxy({ path: redis.socket })
  S = new PeerPigeonServer({ host: "127.0.0.1", port: 0, redis: `redis://127.0.0.1:${proxy.port}`, discoveryRandom: 0 })
  await S.start()
  T = new PeerPigeonServer({ host: "127.0.0.1", port: 0, redisSocket: redis.socket, discoveryRandom: 0 })
  await T.start()
})
afterAll(async () => {
  await S?.stop()
  await T?.stop()
  await proxy?.close()
  await redis?.stop()
})

const reply = async (...args: Array<string>) => (await redis.command(...args)).split("\r\n")

describe("a slow subscriber", () => {
  it("is cut by Redis at its buffer limit; S resubscribes and closes its peers with 1013: nothing lost silently", async () => {
    // S's connections through the proxy: the command connection first, then the subscriber
    await until("S subscribed", () => proxy.connections() === 2)
    expect((await reply("CONFIG", "SET", "client-output-buffer-limit", "pubsub 262144 0 0"))[0]).toBe("+OK")
    const receivers = await Promise.all([0, 1].map(() => join(S.port, randomId())))
    const senders = await Promise.all([0, 1, 2, 3].map(() => join(T.port, randomId())))
    for (const c of [...receivers, ...senders]) c.send({ type: "announce", data: {}, networkName: "n" })
    const receiverIds = await Promise.all(receivers.map(async (r) => (await r.next((f) => f.type === "peer-discovered")) && idOf(r)))
    const sId = (await reply("HGET", "pp:owner", receiverIds[0]!))[1]!.split("|")[0]!
    const subscribed = async () => Number((await reply("PUBSUB", "NUMSUB", `pp:to:${sId}`))[3]?.slice(1))
    expect(await subscribed()).toBe(1)

    const got = new Map<string, Array<number>>()
    receivers.forEach((r, i) =>
      r.ws.on("message", (data) => {
        const f = JSON.parse((data as Buffer).toString()) as { type: string; fromPeerId: string; data: { seq: number } }
        if (f.type === "offer") got.set(`${f.fromPeerId}>${receiverIds[i]}`, [...(got.get(`${f.fromPeerId}>${receiverIds[i]}`) ?? []), f.data.seq])
      })
    )
    const pairs = senders.map((s, i) => ({ s, from: idOf(s), to: receiverIds[i % 2]!, sent: 0 }))
    const pad = "x".repeat(8 * 1024)
    proxy.stallReads(1)
    const stalledAt = Date.now()
    let sending = true
    const load = setInterval(() => {
      if (!sending) return
      for (const p of pairs) if (p.s.ws.readyState === p.s.ws.OPEN) p.s.send({ type: "offer", data: { seq: p.sent++, pad }, targetPeerId: p.to })
    }, 20)
    let cutAfter: number
    try {
      // Redis cuts the subscriber once its buffer passes the limit
      let n = 1
      await until("Redis cut the subscriber", () => {
        void subscribed().then((x) => (n = x))
        return n === 0
      }, 15_000)
      cutAfter = Date.now() - stalledAt
      proxy.resumeReads(1)
      const resumedAt = Date.now()
      // S finds its inbox's gap: its peers are closed with 1013, and it serves again
      const closes = await Promise.all(receivers.map((r) => r.closed))
      const closedAfter = Date.now() - resumedAt
      for (const c of closes) expect(c).toEqual({ code: 1013, reason: "Signaling messages lost; try again" })
      sending = false
      await until("S resubscribed", () => {
        void subscribed().then((x) => (n = x))
        return n === 1
      })
      const again = await join(S.port, randomId())
      again.send({ type: "announce", data: {}, networkName: "n" })
      await again.next((f) => f.type === "peer-discovered")
      senders[0]!.send({ type: "offer", data: { seq: -1 }, targetPeerId: idOf(again) })
      await again.next((f) => f.type === "offer")
      await again.close()
      // each offer delivered (in order), answered, or its receiver closed with 1013 after the loss
      for (const p of pairs) {
        const seqs = got.get(`${p.from}>${p.to}`) ?? []
        expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
        // relay-failed, or unknown-peer once the receiver had gone
        const answered = (e: Frame) => e["code"] === "relay-failed" || e["code"] === "unknown-peer"
        const failed = p.s.all("error").filter(answered).length
        expect(p.s.all("error").filter((e) => !answered(e))).toEqual([])
        expect(seqs.length + failed).toBeLessThanOrEqual(p.sent)
        expect(seqs.length + failed === p.sent || closes[receiverIds.indexOf(p.to)]!.code === 1013).toBe(true)
      }
      const sent = pairs.reduce((k, p) => k + p.sent, 0)
      const delivered = [...got.values()].reduce((k, d) => k + d.length, 0)
      console.log(`slow subscriber: cut by Redis ${cutAfter} ms after it stalled; peers closed (1013) ${closedAfter} ms after it read again; ${sent} offers, ${delivered} delivered`)
      expect(closedAfter).toBeLessThan(2 * RENEW_INTERVAL + 1000)
    } finally {
      clearInterval(load)
      for (const c of [...receivers, ...senders]) await c.close()
    }
  }, 60_000)
})

const ids = new WeakMap<TestClient, string>()
const idOf = (c: TestClient) => {
  let id = ids.get(c)
  if (id === undefined) {
    id = new URL(c.ws.url).searchParams.get("peerId")!
    ids.set(c, id)
  }
  return id
}
