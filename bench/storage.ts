/**
 * Distributed storage and CRDT documents: `npm run bench:storage` (`node bench/storage.ts
 * [--trace=automerge-paper.json(.gz)] [--edits=N] [--nodes=10,50] [--sync=ms] [--samples=N] [--quick]`; not part of the test suite).
 *
 * The editing trace: with `--trace`, the B4 trace file of josephg/editing-traces
 * (`sequential_traces/ascii_only/automerge-paper.json.gz`: 259,778 edits); without it, a
 * synthetic trace with B4's counts (182,315 single-character inserts and 77,463 deletes,
 * seeded, typing at a moving cursor): the B4 file is not shipped with this repository or any
 * npm package this project uses. Say which one you quote.
 *
 * Prints:
 *   - raw Yjs: the writer (one transaction per edit) and a replica applying every update;
 *   - our stack without the network: the writer's batches of 100 edits merged, AES-256-GCM
 *     sealed and Ed25519 signed; a subscriber verifying, opening and applying each batch;
 *     bytes per edit of what goes on a link (payload + op JSON + signature);
 *   - our stack over a MemoryNetwork (2 nodes): the whole trace typed into the writer's
 *     live `Y.Doc` (one transaction per edit), until the subscriber's document equals it;
 *   - convergence latency p50/p99 (N = 10 and 50 memory nodes, one writer, N-1 subscribers of
 *     a private document): an edit at the writer until every subscriber has it;
 *   - re-keying a private record with 100 readers (new content key sealed to each, list
 *     signed, body re-encrypted);
 *   - an encrypted direct message (CryptoManager encrypt + decrypt, 1 KB);
 *   - bundle cost: storage + crypto modules with Yjs, minified, gzip -9 (effect excluded:
 *     the rest of the library ships it anyway), and Yjs alone.
 * Figures are wall-clock on whatever else the machine is doing: say so when quoting them.
 */
import { Context, Effect, Layer, Schedule } from "effect"
import { readFileSync } from "node:fs"
import { gunzipSync, gzipSync } from "node:zlib"
import * as esbuild from "esbuild"
import * as Y from "yjs"
import { CryptoManager } from "../src/crypto/CryptoManager.ts"
import { KeyDirectory } from "../src/crypto/KeyDirectory.ts"
import { primitives, randomBytes, utf8 } from "../src/crypto/primitives.ts"
import { MemoryNetwork } from "../src/layers/MemoryNetwork.ts"
import { makeMeshLayer } from "../src/layers/Mesh.ts"
import { Connections } from "../src/services/Connections.ts"
import { DistributedStorage } from "../src/services/DistributedStorage.ts"
import * as IdentityModule from "../src/services/Identity.ts"
import { Mesh } from "../src/services/Mesh.ts"
import { makeBody, newContentKey, sealSlots, signAcl } from "../src/storage/build.ts"
import { bodyAad } from "../src/storage/record.ts"
import { browserOnly, root } from "../scripts/build-browser.ts"

const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
const quick = process.argv.includes("--quick")

type Edit = readonly [pos: number, del: number, ins: string]

/** The edits of a trace file (editing-traces format: {txns: [{patches: [[pos, del, ins]]}]}), or the synthetic one. */
const loadTrace = (): { readonly name: string; readonly edits: ReadonlyArray<Edit> } => {
  const path = arg("trace")
  if (path !== undefined) {
    const raw = readFileSync(path)
    const json = JSON.parse((path.endsWith(".gz") ? gunzipSync(raw) : raw).toString("utf8")) as { txns: Array<{ patches: Array<Edit> }> }
    return { name: path, edits: json.txns.flatMap((t) => t.patches) }
  }
  let seed = 4
  const random = () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), seed | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const total = Number(arg("edits") ?? 259_778)
  const deletes = Math.round(total * (77_463 / 259_778))
  const edits: Array<Edit> = []
  let length = 0
  let cursor = 0
  let left = deletes
  for (let i = 0; i < total; i++) {
    if (random() < 0.02) cursor = Math.floor(random() * (length + 1))
    const remaining = total - i
    if (length > 0 && cursor > 0 && left > 0 && random() < left / remaining) {
      edits.push([cursor - 1, 1, ""])
      cursor--
      length--
      left--
    } else {
      edits.push([cursor, 0, String.fromCharCode(97 + Math.floor(random() * 26))])
      cursor++
      length++
    }
  }
  return { name: `synthetic (B4's counts, ${total} edits)`, edits }
}

const trace = loadTrace()
const edits = trace.edits
const apply = (text: Y.Text, [pos, del, ins]: Edit) => {
  if (del > 0) text.delete(pos, del)
  if (ins.length > 0) text.insert(pos, ins)
}
const ms = (t0: number) => performance.now() - t0
const fmt = (n: number, d = 0) => n.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d })
const rows: Array<[string, string]> = []
const row = (name: string, value: string) => {
  rows.push([name, value])
  console.log(`${name.padEnd(64)} ${value}`)
}
console.log(`trace: ${trace.name}, ${fmt(edits.length)} edits\n`)

// raw Yjs
{
  const writer = new Y.Doc()
  const updates: Array<Uint8Array> = []
  writer.on("update", (u: Uint8Array) => updates.push(u))
  const text = writer.getText("t")
  let t0 = performance.now()
  for (const e of edits) writer.transact(() => apply(text, e))
  const writerMs = ms(t0)
  const replica = new Y.Doc()
  t0 = performance.now()
  for (const u of updates) Y.applyUpdate(replica, u)
  const replicaMs = ms(t0)
  if (replica.getText("t").toJSON() !== text.toJSON()) throw new Error("raw replica diverged")
  row("raw Yjs: writer, one transaction per edit", `${fmt(writerMs)} ms`)
  row("raw Yjs: replica applies every update", `${fmt(replicaMs)} ms`)
  row("raw Yjs: bytes per update", `${fmt(updates.reduce((n, u) => n + u.length, 0) / updates.length, 1)} B`)
  ;(globalThis as { rawReplicaMs?: number }).rawReplicaMs = replicaMs
  ;(globalThis as { rawWriterMs?: number }).rawWriterMs = writerMs
}

// our pipeline without the network: batches of 100 edits, sealed and signed; opened, verified, applied
{
  const identity = await Effect.runPromise(IdentityModule.make())
  const cek = randomBytes(32)
  const writer = new Y.Doc()
  const text = writer.getText("t")
  let pending: Array<Uint8Array> = []
  writer.on("update", (u: Uint8Array) => pending.push(u))
  const ops: Array<{ iv: Uint8Array<ArrayBuffer>; ct: Uint8Array<ArrayBuffer>; sig: string; head: string }> = []
  let bytes = 0
  const t0 = performance.now()
  for (let i = 0; i < edits.length; i++) {
    writer.transact(() => apply(text, edits[i]!))
    if (pending.length === 100 || i === edits.length - 1) {
      const merged = Y.mergeUpdates(pending)
      pending = []
      const iv = randomBytes(12)
      const head = JSON.stringify({ v: 1, key: "doc", owner: identity.peerId, epoch: 0, seq: ops.length + 1, iv: "x".repeat(16) })
      const ct = await Effect.runPromise(primitives.seal(cek, iv, new Uint8Array(merged), utf8(head)))
      const sig = await Effect.runPromise(identity.sign(new Uint8Array([...utf8(head), ...ct])))
      ops.push({ iv, ct, sig, head })
      bytes += ct.length + head.length + sig.length
    }
  }
  const writerMs = ms(t0)
  const replica = new Y.Doc()
  const t1 = performance.now()
  for (const op of ops) {
    const ok = await Effect.runPromise(IdentityModule.verifySignature(identity.publicKey, op.sig, new Uint8Array([...utf8(op.head), ...op.ct])))
    if (!ok) throw new Error("signature")
    Y.applyUpdate(replica, await Effect.runPromise(primitives.open(cek, op.iv, op.ct, utf8(op.head))))
  }
  const readerMs = ms(t1)
  if (replica.getText("t").toJSON() !== text.toJSON()) throw new Error("pipeline replica diverged")
  const raw = (globalThis as { rawReplicaMs?: number }).rawReplicaMs!
  row("ours, no network: writer (edits, merge per 100, seal, sign)", `${fmt(writerMs)} ms (${fmt(writerMs / (globalThis as { rawWriterMs?: number }).rawWriterMs!, 2)}x raw writer)`)
  row("ours, no network: subscriber (verify, decrypt, apply)", `${fmt(readerMs)} ms (${fmt(readerMs / raw, 2)}x raw replica)`)
  row("ours: bytes on a link per edit (batches of 100, op + sig)", `${fmt(bytes / edits.length, 1)} B`)
}

/** `n` memory nodes linked into one mesh, each with its key in the directory. */
const startMesh = (n: number, network: MemoryNetwork) =>
  Effect.gen(function*() {
    const nodes = yield* Effect.forEach(Array.from({ length: n }), () =>
      Effect.gen(function*() {
        const context = yield* Layer.build(makeMeshLayer({ maxPeers: 6, minPeers: 2, presenceInterval: 1000, optimizeInterval: 500, storage: { batchMs: 30, ...(arg("sync") === undefined ? {} : { syncIntervalMs: Number(arg("sync")) }) } }, network.layer))
        yield* Effect.provide(Mesh.use((m) => m.connect("memory://bench")), context)
        return context
      }))
    const ready = Effect.forEach(nodes, (c) => Effect.provide(Effect.zip(Connections.use((x) => x.connected), KeyDirectory.use((d) => d.published)), c))
    const deadline = Date.now() + 120_000
    while ((yield* ready).some(([links, published]) => links.length === 0 || !published)) {
      if (Date.now() > deadline) return yield* Effect.die(new Error("mesh did not form"))
      yield* Effect.sleep(250)
    }
    return nodes.map((c) => ({ storage: Context.get(c, DistributedStorage), peerId: Context.get(c, Mesh).peerId as string }))
  })

const waitUntil = (check: () => boolean, timeoutMs: number) =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMs
    while (!check()) {
      if (Date.now() > deadline) return yield* Effect.die(new Error("timed out"))
      yield* Effect.sleep(5)
    }
  })

// the whole trace over a MemoryNetwork: writer -> subscriber
await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
  const [writer, reader] = yield* startMesh(2, new MemoryNetwork())
  yield* writer!.storage.store("doc:b4", { title: "B4" }, { enableCRDT: true, allowedPeers: [reader!.peerId] })
  const mine = yield* writer!.storage.getDocument("doc:b4")
  const theirs = yield* reader!.storage.getDocument("doc:b4")
  const text = mine.getText("t")
  const t0 = performance.now()
  const slice = quick ? edits.slice(0, 20_000) : edits
  for (let i = 0; i < slice.length; i += 1000) {
    for (const e of slice.slice(i, i + 1000)) mine.transact(() => apply(text, e))
    yield* Effect.yieldNow
  }
  const writerMs = ms(t0)
  yield* waitUntil(() => theirs.getText("t").length === text.length && theirs.getText("t").toJSON() === text.toJSON(), 600_000)
  row(`ours over a MemoryNetwork: writer typed ${fmt(slice.length)} edits`, `${fmt(writerMs)} ms`)
  row("ours over a MemoryNetwork: until the subscriber has all of it", `${fmt(ms(t0))} ms`)
})))

// convergence latency for N nodes
const latency = (n: number, samples: number) =>
  Effect.scoped(Effect.gen(function*() {
    const t0 = performance.now()
    const nodes = yield* startMesh(n, new MemoryNetwork({ latencyMs: 1 }))
    console.error(`  N = ${n}: mesh formed, keys published in ${fmt(ms(t0) / 1000, 1)} s`)
    const [writer, ...readers] = nodes
    // a reader's key may not be found in the directory at the first lookup on a loaded machine: try again
    yield* writer!.storage.store("doc:lat", { n: 0 }, { enableCRDT: true, allowedPeers: readers.map((r) => r.peerId) }).pipe(
      Effect.retry({ times: 20, schedule: Schedule.spaced(500) })
    )
    const mine = yield* writer!.storage.getDocument("doc:lat")
    // a lookup right after the store may not find the record yet on a loaded machine: try again
    const docs = yield* Effect.forEach(readers, (r) => r.storage.getDocument("doc:lat").pipe(Effect.retry({ times: 20, schedule: Schedule.spaced(250) })), { concurrency: 8 })
    console.error(`  N = ${n}: ${docs.length} subscribers ready after ${fmt(ms(t0) / 1000, 1)} s`)
    const times: Array<number> = []
    for (let s = 0; s < samples; s++) {
      const marker = `m${s};`
      const t0 = performance.now()
      mine.getText("t").insert(mine.getText("t").length, marker)
      const arrived = docs.map(() => -1)
      yield* waitUntil(() => {
        docs.forEach((d, i) => {
          if (arrived[i] === -1 && d.getText("t").toJSON().endsWith(marker)) arrived[i] = ms(t0)
        })
        return arrived.every((a) => a >= 0)
      }, 30_000)
      times.push(...arrived)
    }
    times.sort((a, b) => a - b)
    const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))]!
    row(`convergence N = ${n} (${samples} edits x ${n - 1} subscribers): p50 / p99`, `${fmt(q(0.5), 1)} / ${fmt(q(0.99), 1)} ms`)
  }))
const sizes = (arg("nodes") ?? "10,50").split(",").map(Number)
for (const n of sizes) {
  const t0 = performance.now()
  await Effect.runPromise(latency(n, arg("samples") !== undefined ? Number(arg("samples")) : quick ? 5 : n >= 50 ? 20 : 30))
  console.log(`  (N = ${n}: ${fmt(ms(t0) / 1000, 1)} s including start-up)`)
}

// re-key with 100 readers
{
  const owner = await Effect.runPromise(IdentityModule.make())
  const readers = await Effect.runPromise(Effect.forEach(Array.from({ length: 100 }), () =>
    Effect.map(primitives.keyPair, (p) => ({ peerId: "0".repeat(40), encryptionKey: Buffer.from(p.publicKey).toString("base64url") }))))
  const value = utf8(JSON.stringify({ text: "x".repeat(4000) }))
  const runs: Array<number> = []
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now()
    await Effect.runPromise(Effect.gen(function*() {
      const cek = newContentKey()
      const slots = yield* sealSlots("doc", owner.peerId, i + 1, readers, cek)
      yield* signAcl(owner, "doc", "private", false, { epoch: i + 1, rev: i + 1, readers: slots, writers: [] })
      yield* makeBody(value, false, cek, bodyAad("doc", owner.peerId, i + 2, i + 1))
    }))
    runs.push(ms(t0))
  }
  runs.sort((a, b) => a - b)
  row("re-key a private record with 100 readers (median of 5)", `${fmt(runs[2]!, 1)} ms`)
}

// encrypted direct message
await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
  const a = yield* IdentityModule.make()
  const b = yield* IdentityModule.make()
  const managerOf = (identity: IdentityModule.Identity["Service"]) =>
    Effect.map(Layer.build(CryptoManager.layer.pipe(Layer.provide(Layer.succeed(IdentityModule.Identity, identity)))), (c) => Context.get(c, CryptoManager))
  const ca = yield* managerOf(a)
  const cb = yield* managerOf(b)
  yield* ca.addPeerKey(yield* cb.getAnnouncement)
  yield* cb.addPeerKey(yield* ca.getAnnouncement)
  const content = { text: "x".repeat(1013) }
  const n = 2000
  const t0 = performance.now()
  for (let i = 0; i < n; i++) yield* cb.decrypt(yield* ca.encrypt(content, b.peerId), a.peerId)
  row("encrypted direct message, 1 KB: encrypt + decrypt", `${fmt(ms(t0) / n * 1000, 0)} µs`)
})))

// bundle cost
{
  const build = async (contents: string, external: Array<string>) => {
    const out = await esbuild.build({
      stdin: { contents, resolveDir: root, loader: "ts" },
      bundle: true, format: "esm", platform: "browser", target: "es2022", minify: true, write: false, legalComments: "none",
      external, plugins: [browserOnly]
    })
    const code = out.outputFiles[0]!.contents
    return gzipSync(code, { level: 9 }).length
  }
  const ours = await build(
    `export * from "./src/layers/DistributedStorage.ts"; export * from "./src/facade/storage.ts"; export * from "./src/crypto/CryptoManager.ts"; export * from "./src/crypto/KeyDirectory.ts"; export * from "./src/facade/crypto.ts"`,
    ["effect", "effect/*"]
  )
  const yjs = await build(`export * from "yjs"`, [])
  row("bundle: storage + crypto incl. Yjs, gzip -9 (effect excluded)", `${fmt(ours / 1024, 1)} KiB (Yjs alone ${fmt(yjs / 1024, 1)} KiB)`)
}

console.log("\n| measure | value |\n| --- | --- |")
for (const [k, v] of rows) console.log(`| ${k} | ${v} |`)
process.exit(0)
