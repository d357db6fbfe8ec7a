/**
 * Cost of end-to-end encryption: `npm run bench:crypto` (`node bench/crypto.ts [seconds per
 * case] [messages end to end]`; not part of the test suite).
 *
 * Prints, for a 1 KB message (JSON content of 1,024 bytes):
 *   - sealed direct envelopes (`src/crypto/envelope.ts`): encrypt + decrypt per second, one
 *     at a time and 8 in flight (WebCrypto runs on libuv's thread pool), and the time of
 *     each half, three ways: signed with a key agreement per envelope (the first envelope
 *     between two keys, and `encrypt` without `pairKeys`), signed with the agreement kept
 *     (`pairKeys.ts`, what `CryptoManager.encrypt` does), and routed (no signature of its own,
 *     agreement kept: what `sendEncryptedMessage` puts in its signed frame);
 *   - group broadcasts (`src/crypto/group.ts`): the same;
 *   - the envelope overhead: bytes of envelope JSON beyond the content's JSON;
 *   - end to end over a MemoryNetwork link: ms per plain and per encrypted direct message
 *     (sent, routed, delivered as MessageReceived), and their difference. The messages go in
 *     5 rounds of a plain block then an encrypted block (each a fifth of the messages), so
 *     that both kinds share the machine's load alike; the difference is the median of the
 *     rounds' differences. CPU time per message (`process.cpuUsage`, both nodes being in this
 *     process) is printed beside: on a shared machine wall-clock time is CPU time divided by
 *     the share of a core the process gets, so the CPU figures are the ones that do not follow
 *     the load.
 * Figures are wall-clock on whatever else the machine is doing: say so when quoting them.
 */
import { Context, Effect, Layer, PubSub } from "effect"
import { CryptoManager } from "../src/crypto/CryptoManager.ts"
import { decrypt, decryptRouted, encrypt, encryptRouted, type Envelope, type RoutedEnvelope } from "../src/crypto/envelope.ts"
import { decryptGroup, encryptGroup, type GroupMessage, makeGroupKey } from "../src/crypto/group.ts"
import { announce, generateEncryptionKeyPair } from "../src/crypto/keys.ts"
import { PairKeys } from "../src/crypto/pairKeys.ts"
import { ReplayGuard } from "../src/crypto/replay.ts"
import { MemoryNetwork } from "../src/layers/MemoryNetwork.ts"
import { makeMeshLayer } from "../src/layers/Mesh.ts"
import * as Identity from "../src/services/Identity.ts"
import { Mesh } from "../src/services/Mesh.ts"
import { MeshEvents } from "../src/services/MeshEvents.ts"

const seconds = Number(process.argv[2] ?? 3)

const peer = Effect.gen(function*() {
  const identity = yield* Identity.make()
  const pair = yield* generateEncryptionKeyPair(Date.now())
  yield* announce(identity, pair.publicKey, Date.now())
  return { identity, pair }
})

const alice = await Effect.runPromise(peer)
const bob = await Effect.runPromise(peer)
// 1,024 bytes of JSON: {"text":"xxx..."} is 11 bytes of frame
const content = { text: "x".repeat(1024 - 11) }
const contentBytes = JSON.stringify(content).length
// large enough that a run of several seconds never evicts (the bench checks each opens)
const replay = new ReplayGuard({ maxEntries: 10_000_000 })
const recipient = { peerId: bob.identity.peerId, replay, keyFor: (kid: string) => (kid === bob.pair.kid ? bob.pair : undefined) }
const group = await Effect.runPromise(makeGroupKey("bench", alice.identity.peerId, [bob.identity.peerId], 0))

const seal = () => encrypt(content, bob.identity.peerId, bob.pair.publicKey, alice.identity)
const open = (e: Envelope) => decrypt(e, recipient, alice.identity.peerId)
// the agreement kept between envelopes, each side its own (as two CryptoManagers)
const sending = new PairKeys()
const kept = { ...recipient, pairKeys: new PairKeys() }
const sealKept = () => encrypt(content, bob.identity.peerId, bob.pair.publicKey, alice.identity, { pairKeys: sending })
const openKept = (e: Envelope) => decrypt(e, kept, alice.identity.peerId)
const sealRouted = () => encryptRouted(content, bob.identity.peerId, bob.pair.publicKey, alice.identity, { pairKeys: sending })
const openRouted = (e: RoutedEnvelope) => decryptRouted(e, kept, alice.identity.peerId)
const sealGroup = () => encryptGroup(content, group, alice.identity)
const openGroup = (m: GroupMessage) => decryptGroup(m, () => group, replay)

/** Runs `roundTrip` `inFlight` at a time for `seconds`; round trips per second. */
const rate = async (roundTrip: Effect.Effect<unknown, unknown>, inFlight: number) => {
  const until = performance.now() + seconds * 1000
  let done = 0
  const worker = async () => {
    while (performance.now() < until) {
      await Effect.runPromise(roundTrip)
      done++
    }
  }
  const start = performance.now()
  await Promise.all(Array.from({ length: inFlight }, worker))
  return done / ((performance.now() - start) / 1000)
}

/** Mean microseconds of `effect`, one at a time, over `n` runs. */
const micros = async <A>(n: number, effect: (i: number) => Effect.Effect<A, unknown>) => {
  const start = performance.now()
  for (let i = 0; i < n; i++) await Effect.runPromise(effect(i))
  return ((performance.now() - start) * 1000) / n
}

const check = <A extends { readonly content: unknown }>(a: A) => {
  if (JSON.stringify(a.content) !== JSON.stringify(content)) throw new Error("round trip changed the content")
}

// warm up both paths (JIT, key caches, the thread pool)
for (let i = 0; i < 200; i++) {
  check(await Effect.runPromise(Effect.flatMap(seal(), open)))
  check(await Effect.runPromise(Effect.flatMap(sealGroup(), openGroup)))
  check(await Effect.runPromise(Effect.flatMap(sealKept(), openKept)))
  check(await Effect.runPromise(Effect.flatMap(sealRouted(), openRouted)))
}

const sealed = await Effect.runPromise(seal())
const broadcast = await Effect.runPromise(sealGroup())
const dmSize = JSON.stringify(sealed).length
const groupSize = JSON.stringify(broadcast).length

const n = 500
const pool = await Effect.runPromise(Effect.all(Array.from({ length: n }, seal)))
const encryptUs = await micros(n, () => seal())
const decryptUs = await micros(n, (i) => open(pool[i]!))
const keptPool = await Effect.runPromise(Effect.all(Array.from({ length: n }, sealKept)))
const keptEncryptUs = await micros(n, () => sealKept())
const keptDecryptUs = await micros(n, (i) => openKept(keptPool[i]!))
const routedPool = await Effect.runPromise(Effect.all(Array.from({ length: n }, sealRouted)))
const routedEncryptUs = await micros(n, () => sealRouted())
const routedDecryptUs = await micros(n, (i) => openRouted(routedPool[i]!))
const routedSize = JSON.stringify(routedPool[0]).length
const groupPool = await Effect.runPromise(Effect.all(Array.from({ length: n }, sealGroup)))
const groupEncryptUs = await micros(n, () => sealGroup())
const groupDecryptUs = await micros(n, (i) => openGroup(groupPool[i]!))

const dm1 = await rate(Effect.flatMap(seal(), open).pipe(Effect.map(check)), 1)
const dm8 = await rate(Effect.flatMap(seal(), open).pipe(Effect.map(check)), 8)
const kept1 = await rate(Effect.flatMap(sealKept(), openKept).pipe(Effect.map(check)), 1)
const kept8 = await rate(Effect.flatMap(sealKept(), openKept).pipe(Effect.map(check)), 8)
const routed1 = await rate(Effect.flatMap(sealRouted(), openRouted).pipe(Effect.map(check)), 1)
const routed8 = await rate(Effect.flatMap(sealRouted(), openRouted).pipe(Effect.map(check)), 8)
const g1 = await rate(Effect.flatMap(sealGroup(), openGroup).pipe(Effect.map(check)), 1)
const g8 = await rate(Effect.flatMap(sealGroup(), openGroup).pipe(Effect.map(check)), 8)

const fmt = (x: number) => Math.round(x).toLocaleString("en-US")
console.log(`crypto bench: 1 KB message (${contentBytes} B of JSON content), ${seconds} s per rate, Node ${process.version}`)
console.log("")
console.log("| what | encrypt+decrypt /s (1 in flight) | /s (8 in flight) | encrypt µs | decrypt µs | JSON bytes | overhead |")
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
console.log(`| direct envelope, signed, an agreement each | ${fmt(dm1)} | ${fmt(dm8)} | ${fmt(encryptUs)} | ${fmt(decryptUs)} | ${dmSize} | ${dmSize - contentBytes} B |`)
console.log(`| direct envelope, signed, agreement kept | ${fmt(kept1)} | ${fmt(kept8)} | ${fmt(keptEncryptUs)} | ${fmt(keptDecryptUs)} | ${dmSize} | ${dmSize - contentBytes} B |`)
console.log(`| direct envelope, routed (unsigned), agreement kept | ${fmt(routed1)} | ${fmt(routed8)} | ${fmt(routedEncryptUs)} | ${fmt(routedDecryptUs)} | ${routedSize} | ${routedSize - contentBytes} B |`)
console.log(`| group broadcast | ${fmt(g1)} | ${fmt(g8)} | ${fmt(groupEncryptUs)} | ${fmt(groupDecryptUs)} | ${groupSize} | ${groupSize - contentBytes} B |`)
console.log("")
console.log(
  "overhead = envelope JSON minus content JSON: base64url of the ciphertext (+1/3 of the content, +16 B tag), " +
    "the ephemeral key, nonce, ids, sender key and signature."
)
const fixed = JSON.stringify({ ...sealed, ct: "" }).length
console.log(`direct envelope without its ct field: ${fixed} B; ct: ${sealed.ct.length} chars for ${contentBytes} B of content`)

// ---------------------------------------------------------------------------------------------
// end to end over the mesh: two nodes of a MemoryNetwork, one link (no latency); N direct
// messages of the same 1 KB content sent one after the other, each waited for at the target
// (its MessageReceived) before the next, plain then encrypted: the per-message time and the
// difference are what encryption costs a sender and its target (routing, signing, acks
// included in both).

const meshMessages = Number(process.argv[3] ?? 1000)

const endToEnd = Effect.gen(function*() {
  const network = new MemoryNetwork()
  const build = Effect.gen(function*() {
    const context = yield* Layer.build(makeMeshLayer({ maxPeers: 1, minPeers: 1, presenceInterval: 0, repairInterval: 0 }, network.layer))
    const pubsub = Context.get(context, MeshEvents)
    const events = yield* PubSub.subscribe(pubsub)
    yield* Effect.provide(Mesh.use((m) => m.connect("memory://bench")), context)
    return { context, events }
  })
  const a = yield* build
  const b = yield* build
  const bId = Context.get(b.context, Mesh).peerId
  const mesh = Context.get(a.context, Mesh)
  // wait for the link and b's key (learnt in the handshake)
  const crypto = Context.get(a.context, CryptoManager)
  while ((yield* crypto.getPeerKey(bId)) === undefined) yield* Effect.sleep(10)
  const receive = (id: string, encrypted: boolean) =>
    Effect.gen(function*() {
      while (true) {
        const e = yield* PubSub.take(b.events)
        if (e._tag === "MessageReceived" && e.messageId === id) {
          if (e.encrypted !== encrypted || JSON.stringify(e.content) !== JSON.stringify(content)) throw new Error("wrong delivery")
          return
        }
      }
    })
  /** Wall-clock and CPU (this process: both nodes) ms per message of `count` messages. */
  const run = (encrypted: boolean, count: number) =>
    Effect.gen(function*() {
      const cpu = process.cpuUsage()
      const start = performance.now()
      for (let i = 0; i < count; i++) {
        const id = encrypted ? yield* mesh.sendEncryptedMessage(bId, content) : yield* mesh.sendDirectMessage(bId, content)
        yield* receive(id, encrypted)
      }
      const wall = (performance.now() - start) / count
      const used = process.cpuUsage(cpu)
      return { wall, cpu: (used.user + used.system) / 1000 / count }
    })
  // warm-up, then measured in rounds of a plain block and an encrypted block
  yield* run(false, meshMessages)
  yield* run(true, meshMessages)
  const rounds = 5
  const block = Math.max(1, Math.round(meshMessages / rounds))
  const plain: Array<{ readonly wall: number; readonly cpu: number }> = []
  const encrypted: Array<{ readonly wall: number; readonly cpu: number }> = []
  for (let r = 0; r < rounds; r++) {
    plain.push(yield* run(false, block))
    encrypted.push(yield* run(true, block))
  }
  const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / xs.length
  const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  const diffs = plain.map((p, i) => encrypted[i]!.wall - p.wall)
  const cpuDiffs = plain.map((p, i) => encrypted[i]!.cpu - p.cpu)
  return {
    plainMs: mean(plain.map((p) => p.wall)),
    encryptedMs: mean(encrypted.map((e) => e.wall)),
    diffMs: median(diffs),
    diffs,
    plainCpu: mean(plain.map((p) => p.cpu)),
    encryptedCpu: mean(encrypted.map((e) => e.cpu)),
    cpuDiff: median(cpuDiffs)
  }
}).pipe(Effect.scoped)

const e2e = await Effect.runPromise(endToEnd)
console.log("")
console.log(`end to end over one MemoryNetwork link, ${meshMessages} direct messages of 1 KB of each kind, each awaited at the target before the next, in 5 rounds of a plain and an encrypted block:`)
console.log("| what | ms per message | ")
console.log("| --- | ---: |")
console.log(`| plain direct message (signed, acknowledged) | ${e2e.plainMs.toFixed(3)} |`)
console.log(`| encrypted direct message (sendEncryptedMessage) | ${e2e.encryptedMs.toFixed(3)} |`)
console.log(`| encryption's cost per message (median of the rounds' differences; goal < 0.5 ms) | ${e2e.diffMs.toFixed(3)} |`)
console.log(`| the rounds' differences | ${e2e.diffs.map((d) => d.toFixed(3)).join(" / ")} |`)
console.log(`| CPU time per message (this process: both nodes), plain / encrypted | ${e2e.plainCpu.toFixed(3)} / ${e2e.encryptedCpu.toFixed(3)} |`)
console.log(`| encryption's CPU cost per message (median of the rounds' differences) | ${e2e.cpuDiff.toFixed(3)} |`)
console.log(`| routed envelope encrypt + decrypt (above, 1 in flight) | ${(1000 / routed1).toFixed(3)} |`)
