/**
 * Redis is SIGKILLed under relay load and started again empty (no persistence). Twelve peers
 * on three servers keep relaying offers, each to a peer on another server, numbered. Nothing
 * is lost without an error: for every sender and target, each offer is delivered (in order)
 * or the sender got a `relay-failed` for that target (or, had a server fenced itself, its
 * sockets closed with 1013); never an `unknown-peer` for a peer that is there. Presence is
 * back (every peer registered again, relays delivered) within a lease renewal.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { PeerPigeonServer } from "../../src/server/index.ts"
import { until } from "../support/cluster.ts"
import { type RedisServer, startRedis } from "../support/redis.ts"
import { randomId } from "../support/server.ts"
import { join, type TestClient } from "../support/wsClient.ts"

const RENEW_INTERVAL = 1000 // RedisCluster.ts default (docs/DEPLOYMENT.md)

let redis: RedisServer
const servers: Array<PeerPigeonServer> = []
beforeAll(async () => {
  redis = await startRedis()
  for (let i = 0; i < 3; i++) servers.push(new PeerPigeonServer({ host: "127.0.0.1", port: 0, redisSocket: redis.socket, discoveryRandom: 0 }))
  await Promise.all(servers.map((s) => s.start()))
})
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()))
  await redis?.stop()
})

interface Sender {
  readonly id: string
  readonly client: TestClient
  readonly target: string
  sent: number
}

const count = async (...args: Array<string>) => Number((await redis.command(...args)).slice(1))

describe("Redis killed and restarted empty under load", () => {
  it("every relay is delivered or answered; presence is re-registered before relaying again", async () => {
    const ids = Array.from({ length: 12 }, () => randomId())
    const clients = await Promise.all(ids.map((id, i) => join(servers[i % 3]!.port, id)))
    for (const c of clients) c.send({ type: "announce", data: {}, networkName: "n" })
    await until("all announced", async_(() => count("ZCARD", "pp:{n}:ids"), 12))
    // each sends to the next peer, which is on the next server
    const senders: Array<Sender> = ids.map((id, i) => ({ id, client: clients[i]!, target: ids[(i + 1) % 12]!, sent: 0 }))
    const delivered = new Map<string, Array<number>>() // "from>to" -> seqs
    clients.forEach((c) =>
      c.ws.on("message", (data) => {
        const f = JSON.parse((data as Buffer).toString()) as { type: string; fromPeerId: string; targetPeerId: string; data: { seq: number } }
        if (f.type !== "offer") return
        const key = `${f.fromPeerId}>${f.targetPeerId}`
        delivered.set(key, [...(delivered.get(key) ?? []), f.data.seq])
      })
    )
    let sending = true
    // 50 offers/s per sender, under the rate limit (100/s)
    const load = setInterval(() => {
      if (!sending) return
      for (const s of senders) {
        if (s.client.ws.readyState !== s.client.ws.OPEN) continue
        s.client.send({ type: "offer", data: { seq: s.sent++ }, targetPeerId: s.target })
      }
    }, 20)
    try {
      const deliveredCount = () => [...delivered.values()].reduce((n, d) => n + d.length, 0)
      await until("load flowing", () => deliveredCount() > 100)
      await redis.kill()
      await new Promise((r) => setTimeout(r, 200))
      const restartedAt = Date.now()
      await redis.restart()
      // presence: every peer registered again by its own server
      let registered = 0
      await until("presence restored", async_(async () => (registered = await count("ZCARD", "pp:{n}:ids")), 12), 10_000)
      const restoredAfter = Date.now() - restartedAt
      expect(await count("HLEN", "pp:owner")).toBe(12)
      // and relays flow again, to every target
      const before = new Map(senders.map((s) => [s.id, delivered.get(`${s.id}>${s.target}`)?.length ?? 0]))
      await until("relays delivered again", () => senders.every((s) => (delivered.get(`${s.id}>${s.target}`)?.length ?? 0) > before.get(s.id)! + 5), 10_000)
      const flowingAfter = Date.now() - restartedAt
      sending = false
      // the last relays settle: each delivered or answered
      const settled = () =>
        senders.every((s) => {
          const got = delivered.get(`${s.id}>${s.target}`)?.length ?? 0
          const failed = s.client.all("error").filter((e) => e["code"] === "relay-failed" && String(e["error"]).includes(s.target)).length
          return got + failed >= s.sent
        })
      await until("every relay delivered or answered", settled, 10_000)
      let failures = 0
      for (const s of senders) {
        const seqs = delivered.get(`${s.id}>${s.target}`) ?? []
        // in order, none twice
        expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
        expect(new Set(seqs).size).toBe(seqs.length)
        const errors = s.client.all("error")
        expect(errors.filter((e) => e["code"] !== "relay-failed")).toEqual([])
        failures += errors.length
      }
      // no server fenced itself: the outage was shorter than the fence
      for (const c of clients) expect(c.ws.readyState).toBe(c.ws.OPEN)
      const sent = senders.reduce((n, s) => n + s.sent, 0)
      console.log(
        `redis restart: presence restored after ${restoredAfter} ms (${registered} peers), relays to every target after ${flowingAfter} ms; ` +
          `${sent} offers sent, ${deliveredCount()} delivered, ${failures} relay-failed`
      )
      expect(restoredAfter).toBeLessThan(2 * RENEW_INTERVAL + 1000)
    } finally {
      clearInterval(load)
      for (const c of clients) await c.close()
    }
  }, 60_000)
})

/** A synchronous check over an async probe: the last probe's answer, a new probe started each time. */
const async_ = (probe: () => Promise<number>, want: number) => {
  let last = -1
  let busy = false
  return () => {
    if (!busy) {
      busy = true
      probe().then((n) => (last = n), () => (last = -1)).finally(() => (busy = false))
    }
    return last === want
  }
}
