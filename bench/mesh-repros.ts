/**
 * Minimal reproductions of the problems bench/mesh.ts runs into (not part of the bench run):
 *
 *   node bench/mesh-repros.ts stun [pairs=20]
 *     werift 0.25.2 with `iceServers: []` still gathers from stun.l.google.com:19302: every
 *     RTCPeerConnection does a DNS lookup (libuv threadpool) and setLocalDescription waits up
 *     to 5 s for it. 20 concurrent pairs: ~5.4 s to open all; with an IP-literal STUN address
 *     and `iceStunGatherTimeout: 0.05`: ~0.5 s.
 *   node bench/mesh-repros.ts partition [n=200]
 *     MemoryNetwork, maxPeers 4, minPeers 2, presenceInterval 0: the mesh settles into many
 *     components (XOR-closest links, full peers never bridge without presence).
 *   node bench/mesh-repros.ts direct
 *     Two nodes on a MemoryNetwork (no WebRTC): 20,000 signed 1 KB direct messages; the
 *     receiver's rate is the ceiling of the library's per-message path.
 */
import { Context, Effect, Exit, Layer, PubSub, Scope } from "effect"
import { RTCPeerConnection } from "werift"
import { MemoryNetwork } from "../src/layers/MemoryNetwork.ts"
import { makeMeshLayer } from "../src/layers/Mesh.ts"
import { Connections } from "../src/services/Connections.ts"
import { Mesh } from "../src/services/Mesh.ts"
import type { MeshOptions } from "../src/services/MeshConfig.ts"
import { MeshEvents } from "../src/services/MeshEvents.ts"
import { components } from "./mesh-common.ts"

const [what = "stun", count] = process.argv.slice(2)

const stun = async (pairs: number, config: Record<string, unknown>) => {
  const t0 = Date.now()
  const make = () => new RTCPeerConnection({ iceServers: [], iceAdditionalHostAddresses: ["127.0.0.1"], ...config })
  const open = async () => {
    const a = make()
    const b = make()
    a.onicecandidate = ({ candidate }) => void (candidate && b.addIceCandidate(candidate).catch(() => {}))
    b.onicecandidate = ({ candidate }) => void (candidate && a.addIceCandidate(candidate).catch(() => {}))
    const dc = a.createDataChannel("m")
    const opened = new Promise((resolve) => (dc.onopen = () => resolve(undefined)))
    await a.setLocalDescription(await a.createOffer())
    await b.setRemoteDescription(a.localDescription!)
    await b.setLocalDescription(await b.createAnswer())
    await a.setRemoteDescription(b.localDescription!)
    await opened
    return [a, b] as const
  }
  const all = await Promise.all(Array.from({ length: pairs }, open))
  console.log(`${pairs} pairs, config ${JSON.stringify(config)}: all channels open after ${Date.now() - t0} ms`)
  for (const [a, b] of all) await Promise.all([a.close(), b.close()])
}

const startNodes = (network: MemoryNetwork, n: number, options: Partial<MeshOptions>, scope: Scope.Scope) =>
  Effect.forEach(Array.from({ length: n }), () =>
    Effect.gen(function*() {
      const context = yield* Layer.buildWithScope(makeMeshLayer(options, network.layer), scope).pipe(Effect.orDie)
      yield* Effect.provide(Mesh.use((m) => m.connect("memory://repro")), context).pipe(Effect.orDie)
      return context
    }))

const partition = (n: number) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const network = new MemoryNetwork({ latencyMs: 5 })
    const nodes = yield* startNodes(network, n, { maxPeers: 4, minPeers: 2, presenceInterval: 0 }, scope)
    for (const seconds of [5, 15, 30]) {
      yield* Effect.sleep(seconds === 5 ? 5000 : seconds === 15 ? 10_000 : 15_000)
      const graph = new Map<string, ReadonlyArray<string>>()
      for (const context of nodes) {
        graph.set(Context.get(context, Mesh).peerId, yield* Effect.provide(Connections.use((c) => c.connected), context))
      }
      const parts = components(graph)
      console.log(`${n} nodes, presenceInterval 0, after ${seconds} s: ${parts.length} components (sizes ${parts.slice(0, 8).join(", ")}...)`)
    }
    yield* Scope.close(scope, Exit.void)
  })

const direct = Effect.gen(function*() {
  const scope = yield* Scope.make()
  const [a, b] = yield* startNodes(new MemoryNetwork(), 2, { maxPeers: 1, minPeers: 1 }, scope)
  let received = 0
  const subscription = yield* PubSub.subscribe(Context.get(b!, MeshEvents)).pipe(Scope.provide(scope))
  yield* Effect.gen(function*() {
    while (true) if ((yield* PubSub.take(subscription))._tag === "MessageReceived") received++
  }).pipe(Effect.forkIn(scope))
  while ((yield* Effect.provide(Connections.use((c) => c.connected), a!)).length === 0) yield* Effect.sleep(20)
  const to = Context.get(b!, Mesh).peerId
  const pad = "x".repeat(1024)
  const n = 20_000
  const t0 = performance.now()
  yield* Effect.forEach(
    Array.from({ length: n }, (_, i) => i),
    (seq) => Effect.provide(Mesh.use((m) => m.sendDirectMessage(to, { seq, pad })), a!),
    { concurrency: 64, discard: true }
  )
  const sent = performance.now()
  while (received < n) yield* Effect.sleep(5)
  const done = performance.now()
  console.log(`memory network, 2 nodes: ${n} x 1 KB direct messages offered at ${Math.round(n / (sent - t0) * 1000)}/s, all received at ${Math.round(n / (done - t0) * 1000)}/s`)
  yield* Scope.close(scope, Exit.void)
})

if (what === "stun") {
  const pairs = Number(count ?? 20)
  await stun(pairs, {})
  await stun(pairs, { iceServers: [{ urls: "stun:127.0.0.1:9" }], iceStunGatherTimeout: 0.05 })
} else if (what === "partition") {
  await Effect.runPromise(partition(Number(count ?? 200)))
} else if (what === "direct") {
  await Effect.runPromise(direct)
} else {
  console.error(`unknown repro ${what}: stun | partition | direct`)
  process.exitCode = 2
}
