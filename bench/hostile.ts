/**
 * `npm run bench:hostile`: 10 honest memory-network nodes and one hostile neighbour (the same
 * library, writing hand-made frames onto its links). Each attack runs for `--seconds` (30) at
 * the highest rate the hostile node can send (it only waits while more than 2,000 of its
 * frames are in flight, so that its own queues do not fill the heap being measured), while
 * honest nodes broadcast and send direct messages to each other 5 times a second. Prints one
 * row per attack:
 * - honest broadcast and direct delivery (every honest node should get every broadcast);
 * - link messages per injected frame: everything the network carried during the attack,
 *   less what the same network carried per honest message in a quiet phase just before it
 *   (`max(5, seconds / 3)` s of honest traffic alone), per frame injected (1 = only the
 *   injected frame itself: the first honest hop dropped it);
 * - heap growth of the process after a full GC (honest nodes, plus the hostile node's few
 *   in-flight frames), and the process's CPU share (all 11 nodes run on one core).
 *
 * Options: --seconds=30, --only=name,name
 */
import { Context, Effect, Exit, Scope } from "effect"
import { MemoryNetwork } from "../src/layers/MemoryNetwork.ts"
import type { PeerId } from "../src/schema/PeerId.ts"
import { Mesh } from "../src/services/Mesh.ts"
import * as IdentityModule from "../src/services/Identity.ts"
import { directFrame, gossipFrame, identityOf, madeUpId, sendRaw, throwawayIdentity } from "../test/support/hostile.ts"
import { connectedOf, received, startNodes, type TestNode, waitFor } from "../test/support/memoryMesh.ts"

const argOf = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
const SECONDS = Number(argOf("seconds") ?? 30)
const ONLY = argOf("only")?.split(",")
const gc = (globalThis as { gc?: () => void }).gc
const heap = () => {
  gc?.()
  gc?.()
  return process.memoryUsage().heapUsed
}

type Identity = IdentityModule.Identity["Service"]
/** One attack: makes the next frame to inject (the victim is a neighbour of the hostile node). */
interface Attack {
  readonly name: string
  readonly what: string
  readonly prepare: (hostile: Identity, honest: ReadonlyArray<TestNode>) => Effect.Effect<(i: number) => Effect.Effect<string>>
}

const deep = "[".repeat(60_000) + "]".repeat(60_000)
const attacks: ReadonlyArray<Attack> = [
  { name: "none", what: "no attack (baseline)", prepare: () => Effect.succeed(() => Effect.succeed("")) },
  {
    name: "nested",
    what: "gossip with 60,000-level nested content",
    prepare: (h) =>
      Effect.map(gossipFrame(h, "x"), (f) => {
        const texts = Array.from({ length: 16 }, (_, i) => JSON.stringify({ ...f, id: `n${i}` }).replace(`"content":"x"`, `"content":${deep}`))
        return (i: number) => Effect.succeed(texts[i % texts.length]!)
      })
  },
  {
    name: "oversize",
    what: "600 KB gossip frames",
    prepare: (h) =>
      Effect.map(gossipFrame(h, "x".repeat(600 * 1024)), (f) => {
        const texts = Array.from({ length: 16 }, (_, i) => JSON.stringify({ ...f, id: `o${i}` }))
        return (i: number) => Effect.succeed(texts[i % texts.length]!)
      })
  },
  {
    name: "junk-flood",
    what: "direct, flood:true, random target, bad signature",
    prepare: (h) =>
      Effect.map(directFrame(h, madeUpId(), { junk: true }, { flood: true }), (f) => (i) =>
        Effect.succeed(JSON.stringify({ ...f, id: `j${i}`, to: madeUpId(), sig: `A${f.sig.slice(1)}` })))
  },
  {
    name: "signed-flood",
    what: "direct, flood:true, random target, valid signature",
    prepare: (h) => Effect.succeed((i) => Effect.map(directFrame(h, madeUpId(), { i }, { flood: true }), (f) => JSON.stringify(f)))
  },
  {
    name: "replay",
    what: "one valid direct frame replayed, attempts renumbered",
    prepare: (h, honest) =>
      Effect.map(directFrame(h, honest[0]!.peerId, { replay: true }), (f) => (i) =>
        Effect.succeed(JSON.stringify(i % 2 === 0 ? f : { ...f, attempt: 1 + (i % 4) })))
  },
  {
    name: "forged",
    what: "broadcasts posing as an honest peer",
    prepare: (h, honest) =>
      Effect.succeed((i) => Effect.map(gossipFrame(h, { forged: i }, { origin: honest[i % honest.length]!.peerId }), (f) => JSON.stringify(f)))
  },
  {
    name: "fake-presence",
    what: "presence from 200 throwaway keys (peer ids not on signaling)",
    prepare: () =>
      Effect.gen(function*() {
        const fakes = yield* Effect.forEach(Array.from({ length: 200 }), () => throwawayIdentity)
        return (i: number) => Effect.map(gossipFrame(fakes[i % fakes.length]!, { d: 0, m: 8 }, { kind: "presence" }), (f) => JSON.stringify(f))
      })
  },
  {
    name: "spam",
    what: "valid broadcasts as fast as it can sign",
    prepare: (h) => Effect.succeed((i) => Effect.map(gossipFrame(h, { spam: i }), (f) => JSON.stringify(f)))
  }
]

const HONEST = 10
// presence at its default period (test/support's fast options have it at 250 ms)
const options = { maxPeers: 3, minPeers: 2, enableWebDHT: false, presenceInterval: 5000 }

/** Seconds of honest traffic alone before each attack, on the same network: the baseline. */
const QUIET = Math.max(5, Math.round(SECONDS / 3))

const run = (attack: Attack) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const network = new MemoryNetwork({ latencyMs: 2 })
    const honest = yield* startNodes(network, HONEST, options).pipe(Scope.provide(scope))
    const [hostile] = yield* startNodes(network, 1, options).pipe(Scope.provide(scope))
    yield* waitFor("the hostile node links", Effect.map(connectedOf(hostile!), (p) => p.length > 0))
    yield* waitFor("honest nodes link", Effect.map(Effect.forEach(honest, connectedOf), (ls) => ls.every((l) => l.length >= 1)))
    const victims = yield* connectedOf(hostile!)
    const next = yield* attack.prepare(identityOf(hostile!), honest)
    let injected = 0
    let expectedBroadcasts = 0
    let expectedDirect = 0
    const tags: Array<string> = []
    const directTags: Array<{ to: TestNode; tag: string }> = []
    let sequence = 0
    // honest traffic, 5 broadcasts and 5 direct messages a second, for `seconds`
    const honestLoop = (seconds: number) =>
      Effect.gen(function*() {
        const until = Date.now() + seconds * 1000
        while (Date.now() < until) {
          const i = sequence++
          const from = honest[i % HONEST]!
          const to = honest[(i * 7 + 3) % HONEST]!
          const tag = `${attack.name}-${i}`
          tags.push(tag)
          expectedBroadcasts += HONEST - 1
          yield* from.run(Mesh.use((m) => m.sendMessage({ tag }))).pipe(Effect.ignore)
          if (to !== from) {
            directTags.push({ to, tag })
            expectedDirect++
            yield* from.run(Mesh.use((m) => m.sendDirectMessage(to.peerId, { tag }))).pipe(Effect.ignore, Effect.forkIn(scope))
          }
          yield* Effect.sleep(200)
        }
      })
    // the baseline: what this network carries for honest traffic alone
    // (per honest message sent, so an attack that slows the honest senders is not credited for it)
    const quietSent = network.stats.sent
    yield* honestLoop(QUIET)
    const baselinePerMessage = (network.stats.sent - quietSent) / sequence
    const sequenceBefore = sequence
    // the harness records every event of every node: keep only the honest messages it
    // measures, so the heap figures are the nodes' own
    const trimEvents = () => {
      for (const n of [...honest, hostile!]) {
        const kept = n.events.filter((e) => e._tag !== "MessageReceived" || typeof (e.content as { tag?: unknown })?.tag === "string")
        n.events.length = 0
        n.events.push(...kept)
      }
    }
    trimEvents()
    const heapBefore = heap()
    const sentBefore = network.stats.sent
    const cpuBefore = process.cpuUsage()
    const started = Date.now()
    const hostileLoop = Effect.gen(function*() {
      if (attack.name === "none") return
      while (Date.now() - started < SECONDS * 1000) {
        if (network.stats.sent - network.stats.delivered - network.stats.dropped > 2000) {
          yield* Effect.sleep(1)
          continue
        }
        const text = yield* next(injected)
        let any = false
        for (const v of victims) {
          if (yield* sendRaw(hostile!, v, text)) {
            injected++
            any = true
          }
        }
        if (!any) yield* Effect.sleep(10) // every victim dropped the hostile link
        if (injected % 64 === 0) yield* Effect.yieldNow
      }
    })
    yield* Effect.all([honestLoop(SECONDS), hostileLoop], { concurrency: 2 })
    const elapsed = (Date.now() - started) / 1000
    const cpu = process.cpuUsage(cpuBefore)
    const sent = network.stats.sent - sentBefore
    // let the last messages land (retransmissions included)
    const delivered = () => {
      let b = 0
      for (const n of honest) {
        const got = new Set(received(n).filter((e) => !e.direct).map((e) => (e.content as { tag?: string }).tag))
        for (const tag of tags) if (got.has(tag)) b++
      }
      const d = directTags.filter(({ to, tag }) => received(to).some((e) => e.direct && (e.content as { tag?: string }).tag === tag)).length
      return { b, d } // (a node does not receive its own broadcast: HONEST - 1 per tag)
    }
    yield* waitFor("honest traffic delivered", Effect.sync(() => {
      const { b, d } = delivered()
      return b >= expectedBroadcasts && d >= expectedDirect
    }), 20_000).pipe(Effect.exit)
    const { b, d } = delivered()
    trimEvents()
    const heapAfter = heap()
    const evicted = honest.filter((n) => n.events.some((e) => e._tag === "PeerDisconnected" && e.peerId === hostile!.peerId && e.reason.startsWith("rate-limit"))).length
    yield* Scope.close(scope, Exit.void)
    return {
      name: attack.name,
      what: attack.what,
      injected,
      injectedPerSecond: injected / elapsed,
      broadcast: b / expectedBroadcasts,
      direct: d / Math.max(1, expectedDirect),
      sentPerSecond: sent / elapsed,
      perFrame: injected === 0 ? null : (sent - baselinePerMessage * (sequence - sequenceBefore)) / injected,
      heapGrowthMB: (heapAfter - heapBefore) / 1024 / 1024,
      cpu: (cpu.user + cpu.system) / 1000 / (elapsed * 1000),
      evicted
    }
  })

const pct = (x: number) => `${(100 * x).toFixed(x === 1 ? 0 : 1)}%`

const main = Effect.gen(function*() {
  console.log(`bench:hostile: ${HONEST} honest nodes + 1 hostile neighbour, ${SECONDS} s per attack, gc ${gc ? "on" : "off (run with --expose-gc)"}`)
  const rows: Array<Effect.Success<ReturnType<typeof run>>> = []
  for (const attack of attacks) {
    if (ONLY !== undefined && attack.name !== "none" && !ONLY.includes(attack.name)) continue
    const row = yield* run(attack)
    rows.push(row)
    console.log(`  ${row.name}: injected ${row.injected}, broadcast ${pct(row.broadcast)}, direct ${pct(row.direct)}, ${row.perFrame?.toFixed(2) ?? "-"} link msgs/frame, heap ${row.heapGrowthMB.toFixed(1)} MB, cpu ${pct(row.cpu)}`)
  }
  console.log("")
  console.log("| attack | frames injected (/s) | honest broadcast | honest direct | link messages per injected frame | heap growth | CPU (one core) | victims that cut the attacker off |")
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- |")
  for (const r of rows) {
    console.log(
      `| ${r.what} | ${r.injected} (${r.injectedPerSecond.toFixed(0)}) | ${pct(r.broadcast)} | ${pct(r.direct)} | ${r.perFrame === null ? "-" : r.perFrame.toFixed(2)} | ${r.heapGrowthMB.toFixed(1)} MB | ${pct(r.cpu)} | ${r.evicted} |`
    )
  }
})

Effect.runPromise(main).then(() => process.exit(0), (e) => {
  console.error(e)
  process.exit(1)
})

export type { PeerId }
void Context
