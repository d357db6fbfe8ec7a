/**
 * `npm run bench:start [-- <N> [<checkout>]]`: wall and CPU time to start N memory-network
 * nodes (default 3000; maxPeers 4, no presence, no DHT, as bench:mesh's simulations), and the
 * heap they hold. Point it at another checkout (a `git worktree` of an older commit, with this
 * checkout's node_modules) to compare what a change costs per node start.
 */
import { Effect, Exit, Layer, Scope } from "effect"
import * as ThisNetwork from "../src/layers/MemoryNetwork.ts"
import * as ThisMeshLayer from "../src/layers/Mesh.ts"
import * as ThisMesh from "../src/services/Mesh.ts"

const n = Number(process.argv[2] ?? 3000)
const root = process.argv[3]
const load = async <M>(path: string, local: M): Promise<M> => root === undefined ? local : (await import(`${root}/${path}`)) as M
const { MemoryNetwork } = await load("src/layers/MemoryNetwork.ts", ThisNetwork)
const { makeMeshLayer } = await load("src/layers/Mesh.ts", ThisMeshLayer)
const { Mesh } = await load("src/services/Mesh.ts", ThisMesh)

const options = { maxPeers: 4, minPeers: 2, presenceInterval: 0, enableWebDHT: false, optimizeInterval: 2000, repairInterval: 1000, connectionTimeout: 3000 }

await Effect.runPromise(
  Effect.gen(function*() {
    const network = new MemoryNetwork({ latencyMs: 5 })
    const scope = yield* Scope.make()
    const started = Date.now()
    const cpu = process.cpuUsage()
    for (let i = 0; i < n; i++) {
      const context = yield* Layer.buildWithScope(makeMeshLayer(options, network.layer), scope).pipe(Effect.orDie)
      yield* Effect.provide(Mesh.use((m) => m.connect("memory://start")), context).pipe(Effect.orDie)
      if (i % 1000 === 999) yield* Effect.sleep(10)
    }
    const used = process.cpuUsage(cpu)
    console.log(
      `${n} nodes started in ${Date.now() - started} ms (CPU ${((used.user + used.system) / 1000).toFixed(0)} ms); heap ${(process.memoryUsage().heapUsed / 1048576).toFixed(0)} MB`
    )
    yield* Scope.close(scope, Exit.void)
  })
)
process.exit(0)
