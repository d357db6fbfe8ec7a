/**
 * An id that leaves and comes straight back to the same server over Redis: the release of the
 * old connection must not run in Redis after the admission of the new one (a release's script
 * is loaded on its first use, a round trip of its own, so a slower link to Redis let the new
 * admission overtake it; the release then deleted the new connection's ownership and its
 * announce was refused with 1013). The proxy in front of Redis adds 40 ms each way.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { PeerPigeonServer } from "../../src/server/index.ts"
import { until } from "../support/cluster.ts"
import { type RedisServer, startRedis } from "../support/redis.ts"
import { startTcpProxy, type TcpProxy } from "../support/tcpProxy.ts"
import { hexId, join, ofType } from "../support/wsClient.ts"

let redis: RedisServer
let proxy: TcpProxy
let server: PeerPigeonServer

beforeAll(async () => {
  redis = await startRedis()
  proxy = await startTcpProxy({ path: redis.socket })
  server = new PeerPigeonServer({ host: "127.0.0.1", port: 0, discoveryRandom: 0, redis: `redis://127.0.0.1:${proxy.port}` })
  await server.start()
})
afterAll(async () => {
  await server?.stop()
  await proxy?.close()
  await redis?.stop()
})

describe("an id released and admitted again on one server", () => {
  it("the new connection keeps its ownership: its announce is taken, and Redis names this server as owner", async () => {
    const watcher = await join(server.port, hexId(1, "a"))
    watcher.send({ type: "announce", data: {}, networkName: "n" })
    const id = hexId(2, "b")
    const first = await join(server.port, id)
    first.send({ type: "announce", data: {}, networkName: "n" })
    await watcher.next((f) => f.type === "peer-discovered" && (f.data as { peerId?: string }).peerId === id)

    proxy.delay(40)
    await first.close()
    await until("the old connection released here", () => !server.getPeers().some((p) => p.peerId === id))
    const again = await join(server.port, id)
    again.send({ type: "announce", data: {}, networkName: "n" })
    const outcome = await Promise.race([
      watcher.next((f) => f.type === "peer-discovered" && (f.data as { peerId?: string }).peerId === id, 10_000).then(() => "discovered"),
      again.closed.then((c) => `closed ${c.code}`)
    ])
    expect(outcome).toBe("discovered")
    // the release has run by now (its round trips are done); the id is still owned here
    again.send({ type: "ping" })
    await again.next(ofType("pong"), 10_000)
    const owner = await redis.command("HGET", "pp:owner", id)
    expect(owner).toContain("|0|n")
    proxy.delay(0)
    await Promise.all([again.close(), watcher.close()])
  }, 30_000)
})
