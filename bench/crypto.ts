/**
 * Cost of end-to-end encryption: `node bench/crypto.ts [seconds per case]` (not part of the
 * test suite; `npm run bench:crypto` once the script is added).
 *
 * Prints, for a 1 KB message (JSON content of 1,024 bytes):
 *   - sealed direct envelopes (`src/crypto/envelope.ts`): encrypt + decrypt per second, one
 *     at a time and 8 in flight (WebCrypto runs on libuv's thread pool), and the time of
 *     each half;
 *   - group broadcasts (`src/crypto/group.ts`): the same;
 *   - the envelope overhead: bytes of envelope JSON beyond the content's JSON.
 * Figures are wall-clock on whatever else the machine is doing: say so when quoting them.
 */
import { Effect } from "effect"
import { decrypt, encrypt, type Envelope } from "../src/crypto/envelope.ts"
import { decryptGroup, encryptGroup, type GroupMessage, makeGroupKey } from "../src/crypto/group.ts"
import { announce, generateEncryptionKeyPair } from "../src/crypto/keys.ts"
import { ReplayGuard } from "../src/crypto/replay.ts"
import * as Identity from "../src/services/Identity.ts"

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
}

const sealed = await Effect.runPromise(seal())
const broadcast = await Effect.runPromise(sealGroup())
const dmSize = JSON.stringify(sealed).length
const groupSize = JSON.stringify(broadcast).length

const n = 500
const pool = await Effect.runPromise(Effect.all(Array.from({ length: n }, seal)))
const encryptUs = await micros(n, () => seal())
const decryptUs = await micros(n, (i) => open(pool[i]!))
const groupPool = await Effect.runPromise(Effect.all(Array.from({ length: n }, sealGroup)))
const groupEncryptUs = await micros(n, () => sealGroup())
const groupDecryptUs = await micros(n, (i) => openGroup(groupPool[i]!))

const dm1 = await rate(Effect.flatMap(seal(), open).pipe(Effect.map(check)), 1)
const dm8 = await rate(Effect.flatMap(seal(), open).pipe(Effect.map(check)), 8)
const g1 = await rate(Effect.flatMap(sealGroup(), openGroup).pipe(Effect.map(check)), 1)
const g8 = await rate(Effect.flatMap(sealGroup(), openGroup).pipe(Effect.map(check)), 8)

const fmt = (x: number) => Math.round(x).toLocaleString("en-US")
console.log(`crypto bench: 1 KB message (${contentBytes} B of JSON content), ${seconds} s per rate, Node ${process.version}`)
console.log("")
console.log("| what | encrypt+decrypt /s (1 in flight) | /s (8 in flight) | encrypt µs | decrypt µs | JSON bytes | overhead |")
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
console.log(`| direct envelope | ${fmt(dm1)} | ${fmt(dm8)} | ${fmt(encryptUs)} | ${fmt(decryptUs)} | ${dmSize} | ${dmSize - contentBytes} B |`)
console.log(`| group broadcast | ${fmt(g1)} | ${fmt(g8)} | ${fmt(groupEncryptUs)} | ${fmt(groupDecryptUs)} | ${groupSize} | ${groupSize - contentBytes} B |`)
console.log("")
console.log(
  "overhead = envelope JSON minus content JSON: base64url of the ciphertext (+1/3 of the content, +16 B tag), " +
    "the ephemeral key, nonce, ids, sender key and signature."
)
const fixed = JSON.stringify({ ...sealed, ct: "" }).length
console.log(`direct envelope without its ct field: ${fixed} B; ct: ${sealed.ct.length} chars for ${contentBytes} B of content`)
