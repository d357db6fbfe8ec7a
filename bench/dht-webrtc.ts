/**
 * Child of bench/dht.ts: the WebDHT over real WebRTC (werift) with a real `PeerPigeonServer`
 * on 127.0.0.1 port 0; N `PeerPigeonMesh` facades in this process.
 *
 *   --n=10 --puts=20 --gets=50
 *
 * Every wait is bounded; the process ends by itself after disconnecting everything.
 */
import { PeerPigeonMesh, PeerPigeonServer } from "../src/index.ts"
import { arg, components, deadline, done, log, percentile, prng, report, sleep } from "./dht-common.ts"

const n = arg("n", 10)
const puts = arg("puts", 20)
const gets = arg("gets", 50)
const formationTimeoutMs = arg("formationTimeout", 60_000)
const opTimeoutMs = arg("opTimeout", 20_000)
const random = prng(arg("seed", 5))
const pick = <A>(xs: ReadonlyArray<A>): A => xs[Math.floor(random() * xs.length)]!

const connectedIds = (m: PeerPigeonMesh) => m.getConnectedPeerIds()

const bounded = async <A>(p: Promise<A>): Promise<{ ok: true; value: A } | { ok: false; error: string }> => {
  const timeout = deadline(opTimeoutMs, { ok: false as const, error: "bench-timeout" })
  return Promise.race([p.then((value) => ({ ok: true as const, value }), (e: unknown) => ({ ok: false as const, error: String(e) })), timeout])
}

const main = async () => {
  const server = new PeerPigeonServer({ host: "127.0.0.1", port: 0 })
  await server.start()
  const url = `ws://127.0.0.1:${server.port}`
  const meshes: Array<PeerPigeonMesh> = []
  try {
    const t0 = Date.now()
    for (let i = 0; i < n; i++) {
      const mesh = new PeerPigeonMesh({ networkName: "dhtbench", maxPeers: 3, minPeers: 2, connectionTimeout: 8000 })
      await mesh.init()
      meshes.push(mesh)
    }
    await Promise.race([Promise.all(meshes.map((m) => m.connect(url))), deadline(20_000, undefined)])
    let formed = false
    while (Date.now() - t0 < formationTimeoutMs) {
      const g = new Map(meshes.map((m) => [m.peerId as string, connectedIds(m)]))
      if (components(g).length === 1 && meshes.every((m) => connectedIds(m).length >= 2)) {
        formed = true
        break
      }
      await sleep(250)
    }
    report("nodes", n)
    report("formed_s", formed ? (Date.now() - t0) / 1000 : "not formed")
    log(`werift mesh ${formed ? "formed" : "NOT formed"}`)

    const keys: Array<{ key: string; value: { i: number; token: string } }> = []
    const putMs: Array<number> = []
    for (let i = 0; i < puts; i++) {
      const entry = { key: `rtc/${i}`, value: { i, token: random().toString(36).slice(2) } }
      const t = performance.now()
      const r = await bounded(pick(meshes).dhtPut(entry.key, entry.value))
      putMs.push(performance.now() - t)
      if (r.ok) keys.push(entry)
      else log(`put failed: ${r.error}`)
    }
    report("put_ok", `${keys.length}/${puts}`)
    report("put_p50_ms", percentile(putMs, 50))
    report("put_p95_ms", percentile(putMs, 95))

    const getMs: Array<number> = []
    let ok = 0
    for (let i = 0; i < gets && keys.length > 0; i++) {
      const entry = pick(keys)
      const t = performance.now()
      const r = await bounded(pick(meshes).dhtGet(entry.key))
      getMs.push(performance.now() - t)
      if (r.ok && JSON.stringify(r.value) === JSON.stringify(entry.value)) ok++
      else if (!r.ok) log(`get failed: ${r.error}`)
    }
    report("get_ok", `${ok}/${getMs.length}`)
    report("get_p50_ms", percentile(getMs, 50))
    report("get_p95_ms", percentile(getMs, 95))
  } finally {
    const t = Date.now()
    const stopped = await Promise.race([Promise.all(meshes.map((m) => m.disconnect())).then(() => true), deadline(20_000, false)])
    await Promise.race([server.stop(), deadline(5_000, undefined)])
    report("teardown", stopped ? `${Date.now() - t} ms` : "timeout")
  }
}

await main().catch((error: unknown) => {
  log(`failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`)
  process.exitCode = 1
})
done()
if (process.connected) process.disconnect()
// werift may keep sockets or timers open after disconnect: end here
setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref()
