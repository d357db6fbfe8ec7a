/**
 * The mesh part of bench:compare: one run = N peer children (one peer per process) start a
 * fresh mesh in a fresh network on their system's server; the run measures the time until
 * the links form a connected mesh with every degree within bounds (or the bound passes),
 * then sends a few broadcasts and direct messages from random peers, collects what arrived
 * (with latency, from the payload's send time), reads each process's RSS, and disconnects.
 *
 * Everything is bounded: each IPC call has a timeout, formation has a bound, delivery a
 * drain bound; a failure of the library (a start that throws, a send that fails, a message
 * that never arrives) is counted in the result, never thrown.
 */
import type { Rpc } from "./server-ipc.ts"
import type { Delivery, MemoryReading, PeerRequest, PeerState, Started, System } from "./compare-ipc.ts"
import { degreeHistogram, meshFormed } from "./compare-stats.ts"
import { prng } from "./mesh-common.ts"

export interface MeshConfig {
  readonly maxPeers: number
  readonly minPeers: number
  /** formation bound for N peers, ms */
  readonly formationTimeoutMs: (n: number) => number
  readonly broadcasts: number
  readonly directs: number
  /** pause between two sends, ms */
  readonly gapMs: number
  /** how long to wait for the last deliveries, ms */
  readonly drainMs: number
}

export interface RunResult {
  readonly system: System
  readonly n: number
  readonly run: number
  /** peers whose start (init + connect) succeeded */
  readonly started: number
  readonly startErrors: ReadonlyArray<string>
  readonly formed: boolean
  /** from the start commands to a formed mesh (degrees within [minPeers, maxPeers], connected); null when not within the bound */
  readonly formationMs: number | null
  /** from the start commands to one connected component in which every peer has a link (any degree) */
  readonly connectedMs: number | null
  readonly degrees: string
  /** peers whose state poll timed out at the end of formation (their degree is unknown) */
  readonly unknownStates: number
  readonly components: number
  readonly broadcastsSent: number
  readonly broadcastSendFailures: number
  /** (broadcast, receiver) pairs expected (attempts x (n - 1)) and delivered (once each) */
  readonly broadcastExpected: number
  readonly broadcastDelivered: number
  readonly broadcastLatencies: ReadonlyArray<number>
  readonly directsSent: number
  readonly directSendFailures: number
  readonly directDelivered: number
  readonly directLatencies: ReadonlyArray<number>
  /** deliveries to a wrong receiver, or from a wrong sender, or repeated */
  readonly misdeliveredOrDuplicate: number
  /** RSS of each peer process (by its index in the pool) after the traffic, and just before its mesh was created (bytes; null: not read) */
  readonly rssAfter: ReadonlyArray<number | null>
  readonly rssBefore: ReadonlyArray<number | null>
  /** exceptions the library threw inside the peer processes during this run (uncaught/unhandled) */
  readonly libraryErrors: number
  readonly lastLibraryError: string
}

/** a peer's state, or `ok: false` when its process did not answer in time (not: "has no links") */
type State = PeerState & { readonly errors: number; readonly lastError: string; readonly ok: boolean }

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

const settle = <A>(p: Promise<A>): Promise<{ ok: true; value: A } | { ok: false; error: string }> =>
  p.then(
    (value) => ({ ok: true as const, value }),
    (e: unknown) => ({ ok: false as const, error: String(e instanceof Error ? e.message : e).slice(0, 200) })
  )

const states = async (peers: ReadonlyArray<Rpc<PeerRequest>>): Promise<Array<State>> =>
  (await Promise.all(peers.map((p) => settle(p.call<State>({ cmd: "state" }, 10_000))))).map((r) =>
    r.ok ? { ...r.value, ok: true } : { peerId: "", connected: [], errors: 0, lastError: r.error, ok: false }
  )

const components = (ss: ReadonlyArray<State>): number => {
  const ids = new Set(ss.map((s) => s.peerId))
  const parent = new Map([...ids].map((id) => [id, id]))
  const find = (x: string): string => {
    while (parent.get(x) !== x) x = parent.get(x)!
    return x
  }
  for (const s of ss) for (const t of s.connected) if (ids.has(t)) parent.set(find(s.peerId), find(t))
  return new Set([...ids].map(find)).size
}

/** One run of `n` peers (the first `n` of `pool`) against the server at `url`. */
export const runOnce = async (system: System, pool: ReadonlyArray<Rpc<PeerRequest>>, url: string, n: number, run: number, cfg: MeshConfig): Promise<RunResult> => {
  const peers = pool.slice(0, n)
  const random = prng(1000 * n + run)
  const errors0 = (await states(peers)).reduce((a, s) => a + s.errors, 0)
  const networkName = `cmp-${n}-${run}-${Math.floor(random() * 1e9).toString(36)}`
  const t0 = performance.now()
  const starts = await Promise.all(
    peers.map((p) => settle(p.call<Started>({ cmd: "start", url, networkName, maxPeers: cfg.maxPeers, minPeers: cfg.minPeers }, 45_000)))
  )
  const live = peers.filter((_, i) => starts[i]!.ok)
  const startErrors = starts.flatMap((s) => (s.ok ? [] : [s.error]))
  const rssBefore = starts.map((s) => (s.ok ? s.value.rssBefore : null))

  // formation: poll the links of every peer until they form a mesh within bounds
  let formedAt: number | null = null
  let connectedAt: number | null = null
  let last: Array<State> = []
  const bound = t0 + cfg.formationTimeoutMs(n)
  if (startErrors.length === 0) {
    while (performance.now() < bound) {
      last = await states(peers)
      const now = performance.now()
      // connected: one component, every peer with a link (degrees above maxPeers allowed)
      if (connectedAt === null && meshFormed(last, 1, Number.POSITIVE_INFINITY)) connectedAt = now
      if (meshFormed(last, cfg.minPeers, cfg.maxPeers)) {
        formedAt = now
        break
      }
      await sleep(100)
    }
  }
  if (last.length === 0) last = await states(peers)

  // traffic, formed or not: what a user's messages would meet at this moment
  const ids = starts.map((s) => (s.ok ? s.value.peerId : ""))
  const liveIdx = peers.flatMap((_, i) => (ids[i] !== "" ? [i] : []))
  const inboxes = peers.map(() => [] as Array<Delivery>)
  // how many records of each peer have been read (a timed-out take is read again next time)
  const cursor = peers.map(() => 0)
  const take = async (keep: boolean) => {
    const got = await Promise.all(peers.map((p, i) => settle(p.call<Array<Delivery>>({ cmd: "take", since: cursor[i]! }, 10_000))))
    got.forEach((g, i) => {
      if (!g.ok) return
      cursor[i]! += g.value.length
      if (keep) inboxes[i]!.push(...g.value)
    })
  }
  await take(false) // skip anything before the measured traffic
  const bSender = new Map<number, string>()
  const dSent = new Map<number, { readonly from: string; readonly to: string }>()
  let bFail = 0
  let dFail = 0
  if (liveIdx.length >= 2) {
    const pick = () => liveIdx[Math.floor(random() * liveIdx.length)]!
    for (let seq = 0; seq < cfg.broadcasts; seq++) {
      const i = pick()
      // known before the call: a reply lost to a timeout does not make its deliveries "wrong"
      bSender.set(seq, ids[i]!)
      const r = await settle(peers[i]!.call<boolean>({ cmd: "broadcast", seq }, 8_000))
      if (!r.ok) bFail++
      await sleep(cfg.gapMs)
    }
    for (let seq = 0; seq < cfg.directs; seq++) {
      const i = pick()
      let j = pick()
      while (j === i) j = pick()
      dSent.set(seq, { from: ids[i]!, to: ids[j]! })
      const r = await settle(peers[i]!.call<boolean>({ cmd: "direct", to: ids[j]!, seq }, 8_000))
      if (!r.ok) dFail++
      await sleep(cfg.gapMs)
    }
  }
  const expectedB = bSender.size * (liveIdx.length - 1)
  const sentB = bSender.size - bFail
  const drainEnd = performance.now() + cfg.drainMs
  const tally = () => {
    const seenB = new Set<string>()
    const seenD = new Set<number>()
    const bLat: Array<number> = []
    const dLat: Array<number> = []
    let bad = 0
    inboxes.forEach((box, i) => {
      for (const m of box) {
        if (m.kind === "b") {
          const from = bSender.get(m.seq)
          const key = `${m.seq}:${i}`
          if (from === undefined || from !== m.from || seenB.has(key)) bad++
          else {
            seenB.add(key)
            bLat.push(m.at - m.sentAt)
          }
        } else {
          const d = dSent.get(m.seq)
          if (d === undefined || d.from !== m.from || d.to !== ids[i] || seenD.has(m.seq)) bad++
          else {
            seenD.add(m.seq)
            dLat.push(m.at - m.sentAt)
          }
        }
      }
    })
    return { bLat, dLat, bad }
  }
  await take(true)
  let t = tally()
  while (performance.now() < drainEnd && (t.bLat.length < expectedB || t.dLat.length < dSent.size)) {
    await sleep(200)
    await take(true)
    t = tally()
  }

  const mem = await Promise.all(peers.map((p) => settle(p.call<MemoryReading>({ cmd: "memory" }, 10_000))))
  const end = await states(peers)
  await Promise.all(peers.map((p) => settle(p.call<boolean>({ cmd: "stop" }, 15_000))))
  return {
    system,
    n,
    run,
    started: live.length,
    startErrors,
    formed: formedAt !== null,
    formationMs: formedAt === null ? null : formedAt - t0,
    connectedMs: connectedAt === null ? null : connectedAt - t0,
    degrees: degreeHistogram(last.filter((s) => s.ok)) + (last.some((s) => !s.ok) ? ` (${last.filter((s) => !s.ok).length} state polls timed out)` : ""),
    unknownStates: last.filter((s) => !s.ok).length,
    components: components(last),
    broadcastsSent: sentB,
    broadcastSendFailures: bFail,
    // every attempted broadcast should reach the other n - 1 peers (failed starts and sends count as missed)
    broadcastExpected: bSender.size * (n - 1),
    broadcastDelivered: t.bLat.length,
    broadcastLatencies: t.bLat,
    directsSent: dSent.size - dFail,
    directSendFailures: dFail,
    directDelivered: t.dLat.length,
    directLatencies: t.dLat,
    misdeliveredOrDuplicate: t.bad,
    rssAfter: mem.map((m) => (m.ok ? m.value.rss : null)),
    rssBefore,
    libraryErrors: end.reduce((a, s) => a + s.errors, 0) - errors0,
    lastLibraryError: end.map((s) => s.lastError).find((e) => e !== "") ?? ""
  }
}
