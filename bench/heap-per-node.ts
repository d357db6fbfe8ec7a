/**
 * `npm run bench:heap [-- <checkout>]`: heap held per formed memory-network node, from two V8
 * heap snapshots (before starting 100 nodes, and once they are formed and idle), by object
 * kind. Point it at another checkout (a `git worktree` of an older commit, with this
 * checkout's node_modules) to compare what a change costs per node.
 */
import { Effect } from "effect"
import * as v8 from "node:v8"
import * as ThisNetwork from "../src/layers/MemoryNetwork.ts"
import * as ThisMesh from "../test/support/memoryMesh.ts"

const root = process.argv[2]
const { MemoryNetwork } = root === undefined ? ThisNetwork : (await import(`${root}/src/layers/MemoryNetwork.ts`)) as typeof ThisNetwork
const { connectedOf, startNodes, waitFor } = root === undefined ? ThisMesh : (await import(`${root}/test/support/memoryMesh.ts`)) as typeof ThisMesh
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error("run with --expose-gc (npm run bench:heap does)")
const N = 100

/** The parts of V8's heap snapshot format read here. */
interface HeapSnapshot {
  readonly snapshot: { readonly meta: { readonly node_fields: Array<string>; readonly node_types: [Array<string>, ...Array<unknown>] } }
  readonly nodes: Array<number>
  readonly strings: Array<string>
}
const agg = () => {
  gc(); gc()
  const chunks: Array<string> = []
  const stream = v8.getHeapSnapshot()
  return new Promise<Map<string, [number, number]>>((resolve) => {
    stream.on("data", (c: Buffer) => chunks.push(c.toString()))
    stream.on("end", () => {
      const snap = JSON.parse(chunks.join("")) as HeapSnapshot
      const f = snap.snapshot.meta.node_fields
      const types = snap.snapshot.meta.node_types[0]
      const nf = f.length
      const iType = f.indexOf("type"), iName = f.indexOf("name"), iSize = f.indexOf("self_size")
      const out = new Map<string, [number, number]>()
      const nodes = snap.nodes
      for (let i = 0; i < nodes.length; i += nf) {
        const t = types[nodes[i + iType]!]!
        const name = t === "object" || t === "closure" ? `${t}:${snap.strings[nodes[i + iName]!]}` : t
        const e = out.get(name) ?? [0, 0]
        e[0]++; e[1] += nodes[i + iSize]!
        out.set(name, e)
      }
      resolve(out)
    })
  })
}
await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
  const net = new MemoryNetwork({ latencyMs: 1 })
  const before = yield* Effect.promise(agg)
  const nodes = yield* startNodes(net, N, { maxPeers: 4, minPeers: 2, presenceInterval: 0 })
  yield* waitFor("linked", Effect.map(Effect.forEach(nodes, connectedOf), (ls) => ls.every((l) => l.length >= 2)), 60000)
  yield* Effect.sleep(2000)
  const after = yield* Effect.promise(agg)
  const rows: Array<[string, number, number]> = []
  for (const [k, [c, s]] of after) {
    const b = before.get(k) ?? [0, 0]
    rows.push([k, (c - b[0]) / N, (s - b[1]) / N])
  }
  rows.sort((a, b) => b[2] - a[2])
  let total = 0
  for (const r of rows) total += r[2]
  console.log(`heap per formed node (${N} nodes, maxPeers 4): ${(total / 1024).toFixed(1)} KB; by kind (count and bytes per node):`)
  for (const r of rows.slice(0, Number(process.env.ROWS ?? 40))) console.log(r[0].slice(0, 60).padEnd(60), r[1].toFixed(1).padStart(8), r[2].toFixed(0).padStart(8))
})))
process.exit(0)
