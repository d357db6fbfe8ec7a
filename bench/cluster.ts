/**
 * `npm run bench:cluster`: three signaling servers over one redis-server (its own, on a unix
 * socket, no persistence), N peers round-robin in one network (N = argv[2], default 3000).
 * Prints announce -> first discovery p95, cross-server relays/s, Redis time per announce and
 * per relay (INFO commandstats, EVALSHA), Redis memory per peer. Servers and load share this
 * process (a first cut: the separate load processes of bench:server are not used yet).
 */
import { PeerPigeonServer } from "../src/server/index.ts"
import { startRedis } from "../test/support/redis.ts"
import { randomId } from "../test/support/server.ts"
import { connect, ofType, type TestClient } from "../test/support/wsClient.ts"

const N = Number(process.argv[2] ?? 3000)
const redis = await startRedis()
const info = async (section: string, field: string) => {
  const text = await redis.command("INFO", section)
  const m = new RegExp(`${field}[:=]([0-9.]+)`).exec(text)
  return m === null ? NaN : Number(m[1])
}
const servers = [0, 1, 2].map(() => new PeerPigeonServer({
  host: "127.0.0.1", port: 0, redisSocket: redis.socket, maxConnections: N, maxConnectionsPerIp: N, announceTimeout: 600_000,
  rateLimit: { perSecond: 1_000_000, burst: 1_000_000 }
}))
for (const s of servers) await s.start()
const p95 = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.95)] ?? NaN

const memBefore = await info("memory", "used_memory")
await redis.command("CONFIG", "RESETSTAT")
const clients: Array<TestClient> = []
const latencies: Array<number> = []
for (let i = 0; i < N; i++) {
  const c = await connect(servers[i % 3]!.port, randomId())
  await c.next(ofType("connected"))
  const t0 = performance.now()
  c.send({ type: "announce", data: {}, networkName: "bench" })
  if (i > 0) {
    await c.next(ofType("peer-discovered"))
    latencies.push(performance.now() - t0)
  }
  clients.push(c)
}
const announceUs = await info("commandstats", "cmdstat_evalsha:calls=[0-9]+,usec=[0-9]+,usec_per_call")
const memPerPeer = ((await info("memory", "used_memory")) - memBefore) / N

// relays: 50 pairs, each sender to a peer on another server, for 3 s, in windows of 20
await redis.command("CONFIG", "RESETSTAT")
const pairs = Array.from({ length: 50 }, (_, i) => [clients[i * 3]!, clients[i * 3 + 1]!] as const)
let delivered = 0
const ids = new Map(clients.map((c) => [c, new URL(c.ws.url).searchParams.get("peerId")!]))
for (const [, b] of pairs) b.ws.on("message", () => { delivered++ })
const t0 = performance.now()
let sent = 0
while (performance.now() - t0 < 3000) {
  for (const [a, b] of pairs) for (let k = 0; k < 20; k++) a.send({ type: "offer", data: { k }, targetPeerId: ids.get(b) })
  sent += pairs.length * 20
  while (delivered < sent - 2000) await new Promise((r) => setImmediate(r))
}
while (delivered < sent && performance.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 5))
const relayRate = delivered / ((performance.now() - t0) / 1000)
const relayUs = await info("commandstats", "cmdstat_evalsha:calls=[0-9]+,usec=[0-9]+,usec_per_call")

console.log(`| figure (${N} peers, 3 servers, one Redis, one process) | value |`)
console.log("| --- | --- |")
console.log(`| announce -> first discovery p95 | ${p95(latencies).toFixed(1)} ms |`)
console.log(`| cross-server relays delivered/s (50 pairs, windows of 20) | ${Math.round(relayRate)} |`)
console.log(`| Redis time per announce (EVALSHA usec_per_call) | ${announceUs.toFixed(0)} us |`)
console.log(`| Redis time per relay (EVALSHA usec_per_call) | ${relayUs.toFixed(1)} us |`)
console.log(`| Redis memory per peer | ${(memPerPeer / 1024).toFixed(2)} KB |`)
for (const c of clients) c.ws.terminate()
for (const s of servers) await s.stop()
await redis.stop()
process.exit(0)
