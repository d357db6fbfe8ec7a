/**
 * State-vector exchange: a peer that was away (a restart, a partition, lost live ops) fetches
 * only what its copy of a CRDT document lacks, from a writer that holds it.
 *
 * The asking peer sends its Yjs state vector (`Y.encodeStateVector`) by direct message
 * (kind `pp-st-sv`) to the record's owner and granted writers (at most `MAX_TARGETS`); each
 * answers (kind `pp-st-sva`) with `Y.encodeStateAsUpdate(doc, sv)`: only what the state vector
 * lacks, and the document's delete set (Yjs state vectors do not cover deletions). The answer is signed by the router as the answering peer's and, for private records,
 * AES-256-GCM under the content key of the current epoch, with associated data binding key,
 * owner, epoch, answering peer, asking peer and the request's nonce. It is merged only when it
 * answers a request made here (nonce), comes from a peer asked, that the current access list
 * lets write, of the current epoch, and decrypts: a reader (or a relay) cannot inject edits.
 *
 * A writer answers only a peer the access list lets read (any peer for public records), at
 * most `RATE.perSecond` requests a second per asking peer (bursts of `RATE.burst`), and
 * only when the answer fits in `MAX_ANSWER_BYTES` (else the asking peer keeps what the DHT's
 * snapshot gives it). State vectors over `MAX_SV_BYTES` are not read.
 *
 * When it asks: when a subscription to a CRDT record starts (`getDocument`, `subscribe`, a
 * restored subscription after a restart), when this peer gets links again after having none,
 * and when a writer's live ops skip a sequence number (ops were lost, e.g. while partitioned).
 *
 *   request content = {v: 1, key, owner, epoch, n}, payload = the state vector
 *   answer content  = {v: 1, key, owner, epoch, n, iv?}, payload = the update (or its ciphertext)
 *
 * @since 2.0.0
 */
import { Clock, Effect, PubSub, Schema } from "effect"
import { PeerIdHex, tryDecode } from "../crypto/keys.ts"
import { fromBase64Url, primitives, randomBytes, toBase64Url, utf8 } from "../crypto/primitives.ts"
import { BoundedMap } from "../internal/boundedMap.ts"
import { TokenBucket } from "../internal/tokenBucket.ts"
import type { PeerId } from "../schema/PeerId.ts"
import type { StorageEvent } from "../services/DistributedStorage.ts"
import type { Delivered } from "../services/Gossip.ts"
import type { Router } from "../services/Router.ts"
import type { makeDocuments } from "./documents.ts"
import type { Seen } from "./events.ts"
import type { makeOpener } from "./open.ts"
import { type Acl, isTombstone, StorageKey, type StorageRecord } from "./record.ts"
import { mayWrite } from "./rules.ts"

type Bytes = Uint8Array<ArrayBuffer>

export const REQUEST_KIND = "pp-st-sv"
export const ANSWER_KIND = "pp-st-sva"

/** Largest state vector read (bytes): about a thousand Yjs clients. */
export const MAX_SV_BYTES = 16 * 1024
/** Largest answer sent (bytes of update): larger gaps are left to the DHT's snapshot. */
export const MAX_ANSWER_BYTES = 192 * 1024
/** Writers asked at once (the owner first). */
export const MAX_TARGETS = 3
/** Requests awaiting answers, at most (the oldest are forgotten first). */
export const MAX_PENDING = 256
/** How long answers to a request are taken (ms). */
export const PENDING_MS = 15_000
/** A writer that has not answered about a key is asked about it again no sooner than this (ms). */
export const REASK_MS = 1_000
/** After links come back, every subscribed document is asked for again no sooner than this (ms). */
export const RELINK_GAP_MS = 10_000
/** Requests answered per asking peer. */
export const RATE = { perSecond: 2, burst: 8 } as const
/** Asking peers whose rate is tracked, at most. */
export const MAX_RATED = 1024
/**
 * Requests answered by this peer in all, whoever asks: identities cost nothing to make, so
 * many askers (or more than `MAX_RATED`, whose buckets are forgotten) cannot make it compute
 * more diffs than this (a peer not answered falls back to the DHT's snapshot).
 */
export const TOTAL_RATE = { perSecond: 32, burst: 64 } as const

const Epoch = Schema.Number.check(Schema.isInt(), Schema.isBetween({ minimum: 0, maximum: 2 ** 32 }))
const Nonce = Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_-]{16}$/))

export const SvRequest = Schema.Struct({ v: Schema.Literal(1), key: StorageKey, owner: PeerIdHex, epoch: Epoch, n: Nonce })
export type SvRequest = typeof SvRequest.Type
export const SvAnswer = Schema.Struct({
  v: Schema.Literal(1),
  key: StorageKey,
  owner: PeerIdHex,
  epoch: Epoch,
  n: Nonce,
  iv: Schema.optionalKey(Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_-]{16}$/)))
})
export type SvAnswer = typeof SvAnswer.Type

const decodeRequest = Schema.decodeUnknownOption(SvRequest)
const decodeAnswer = Schema.decodeUnknownOption(SvAnswer)
export const readRequest = (content: unknown): SvRequest | undefined => tryDecode(decodeRequest, content)
export const readAnswer = (content: unknown): SvAnswer | undefined => tryDecode(decodeAnswer, content)

/** Associated data of an answer's ciphertext. */
export const answerAad = (a: Pick<SvAnswer, "key" | "owner" | "epoch" | "n">, writer: string, asker: string): Bytes =>
  utf8(`peerpigeon-st-sv:v1:${a.key}:${a.owner}:${a.epoch}:${writer}:${asker}:${a.n}`)

/** A request of this peer, awaiting answers. */
export interface Pending {
  readonly key: string
  readonly owner: string
  readonly epoch: number
  /** Peers asked that have not answered yet. */
  readonly asked: Set<string>
  readonly at: number
}

/** The writers to ask for `record` (the owner first), this peer left out. */
export const targetsOf = (acl: Pick<Acl, "owner" | "writers">, self: string, max = MAX_TARGETS): Array<string> =>
  [acl.owner, ...acl.writers].filter((p) => p !== self).slice(0, max)

/** True when `from` may be answered about `record` by `self`: a writer here, a reader there, the same epoch. */
export const mayAnswer = (record: StorageRecord, request: SvRequest, self: string, from: string): boolean =>
  record.crdt && !isTombstone(record.body) && record.key === request.key && record.acl.owner === request.owner &&
  record.acl.epoch === request.epoch && mayWrite(record.acl, self) &&
  (record.space === "public" || record.acl.readers.some((s) => s.to === from))

/**
 * Why an answer is not taken (undefined: take it): it must answer a live request of this peer
 * for that key, come from a peer asked, that the current record lets write, of its epoch.
 */
export const refuseAnswer = (
  pending: Pending | undefined,
  answer: SvAnswer,
  from: string,
  record: StorageRecord | undefined,
  now: number
): string | undefined => {
  if (pending === undefined || now - pending.at > PENDING_MS) return "not asked"
  if (pending.key !== answer.key || pending.owner !== answer.owner || pending.epoch !== answer.epoch) return "other request"
  if (!pending.asked.has(from)) return "not asked of this peer"
  if (record === undefined || !record.crdt || isTombstone(record.body)) return "no document"
  if (record.acl.owner !== answer.owner || record.acl.epoch !== answer.epoch) return "other epoch"
  if (!mayWrite(record.acl, from)) return "not a writer"
  if ((record.space === "private") !== (answer.iv !== undefined)) return "wrong encryption"
  return undefined
}

export interface StateSyncDeps {
  readonly self: string
  readonly router: Router["Service"]
  readonly known: BoundedMap<string, Seen>
  readonly subscribed: ReadonlySet<string>
  readonly docs: ReturnType<typeof makeDocuments>
  readonly opener: ReturnType<typeof makeOpener<never>>
  readonly events: PubSub.PubSub<StorageEvent>
}

/** Asking for and answering state vectors, for one peer's storage. */
export const makeStateSync = (deps: StateSyncDeps) => {
  const { docs, known, opener, router, self } = deps
  const pending = new BoundedMap<string, Pending>(MAX_PENDING)
  /** When each writer was asked about each key (`key` newline `writer`), until it answers. */
  const awaiting = new BoundedMap<string, number>(MAX_PENDING * MAX_TARGETS)
  const rates = new BoundedMap<string, TokenBucket>(MAX_RATED)
  let total: TokenBucket | undefined

  /**
   * Sends this peer's state vector of `key` to its writers (to `writer` alone when given: the
   * one whose ops skipped, which holds what was skipped); nothing when there is nothing to ask.
   */
  const request = (key: string, writer?: string): Effect.Effect<void> =>
    Effect.gen(function*() {
      const seen = known.get(key)
      if (seen === undefined || !seen.readable || !seen.record.crdt || isTombstone(seen.record.body) || !docs.has(key)) return
      const skipped = writer !== undefined && writer !== self && mayWrite(seen.record.acl, writer)
      const now = yield* Clock.currentTimeMillis
      // a writer asked a moment ago that has not answered yet is not asked again, unless its ops
      // skipped since (a new loss: those checks come one at a time per writer, `liveOps.ts`)
      const targets = skipped ? [writer] : targetsOf(seen.record.acl, self).filter((t) => {
        const at = awaiting.get(`${key}\n${t}`)
        return at === undefined || now - at >= REASK_MS
      })
      if (targets.length === 0) return
      const sv = docs.stateVector(key)
      if (sv.length > MAX_SV_BYTES) return
      for (const t of targets) awaiting.set(`${key}\n${t}`, now)
      const n = toBase64Url(randomBytes(12))
      const { epoch, owner } = seen.record.acl
      pending.set(n, { key, owner, epoch, asked: new Set(targets), at: now })
      const content = { v: 1, key, owner, epoch, n } satisfies SvRequest
      yield* Effect.forEach(targets, (to) => router.send(to as PeerId, content, REQUEST_KIND, { payload: sv }).pipe(Effect.ignore), { discard: true })
    })

  const answer = (d: Delivered, payload: Uint8Array) =>
    Effect.gen(function*() {
      if (payload.length > MAX_SV_BYTES) return
      const req = readRequest(d.content)
      if (req === undefined) return
      const now = yield* Clock.currentTimeMillis
      let bucket = rates.get(d.origin)
      if (bucket === undefined) rates.set(d.origin, bucket = new TokenBucket(RATE, now))
      if (!bucket.take(now)) return
      const seen = known.get(req.key)
      if (seen === undefined || !mayAnswer(seen.record, req, self, d.origin)) return
      // counted only for requests this peer would answer: refused ones cannot use it up
      total ??= new TokenBucket(TOTAL_RATE, now)
      if (!total.take(now)) return
      const update = docs.diff(req.key, payload)
      if (update === undefined || update.length > MAX_ANSWER_BYTES) return
      const head = { v: 1 as const, key: req.key, owner: req.owner, epoch: req.epoch, n: req.n }
      if (seen.record.space !== "private") {
        yield* router.send(d.origin, head, ANSWER_KIND, { payload: update }).pipe(Effect.ignore)
        return
      }
      const cek = yield* opener.contentKey(seen.record)
      if (cek === undefined) return
      const iv = randomBytes(12)
      const ct = yield* primitives.seal(cek, iv, new Uint8Array(update), answerAad(head, self, d.origin))
      yield* router.send(d.origin, { ...head, iv: toBase64Url(iv) }, ANSWER_KIND, { payload: ct }).pipe(Effect.ignore)
    })

  const take = (d: Delivered, payload: Uint8Array) =>
    Effect.gen(function*() {
      if (payload.length > MAX_ANSWER_BYTES + 16) return
      const a = readAnswer(d.content)
      if (a === undefined) return
      const p = pending.get(a.n)
      const seen = known.get(a.key)
      const now = yield* Clock.currentTimeMillis
      if (refuseAnswer(p, a, d.origin, seen?.record, now) !== undefined || seen === undefined) return
      p!.asked.delete(d.origin)
      awaiting.delete(`${a.key}\n${d.origin}`)
      if (p!.asked.size === 0) pending.delete(a.n)
      let update: Uint8Array | undefined = payload
      if (a.iv !== undefined) {
        const cek = yield* opener.contentKey(seen.record)
        const iv = fromBase64Url(a.iv, 12)
        if (cek === undefined || iv === undefined) return
        update = yield* primitives.open(cek, iv, new Uint8Array(payload), answerAad(a, d.origin, self)).pipe(Effect.orElseSucceed(() => undefined))
      }
      if (update === undefined) return
      const before = seen.value
      const value = docs.merge(a.key, update)
      known.set(a.key, { ...seen, value })
      if (JSON.stringify(value) !== JSON.stringify(before)) {
        yield* PubSub.publish(deps.events, { _tag: "Updated", key: a.key, version: seen.record.version, value, by: d.origin })
      }
    })

  /** A direct message: a request to answer or an answer to take; anything else is not ours. */
  const receive = (d: Delivered): Effect.Effect<void> => {
    if (!d.verified || d.payload === undefined) return Effect.void
    const handle = d.kind === REQUEST_KIND ? answer(d, d.payload) : d.kind === ANSWER_KIND ? take(d, d.payload) : Effect.void
    return handle.pipe(Effect.catchCause((cause) => Effect.logDebug("storage: a state-vector message was dropped", cause)))
  }

  /**
   * Asks for every subscribed document whenever this peer gets links again after having none
   * (it was offline, restarted alone, or cut off by a partition). Driven by the link events,
   * in the caller's Scope: an idle peer never wakes for it.
   */
  const onRelink = (connected: Effect.Effect<ReadonlyArray<unknown>>, links: PubSub.Subscription<{ readonly _tag: string }>) =>
    Effect.gen(function*() {
      let alone = (yield* connected).length === 0
      let askedAt: number | undefined
      yield* Effect.forkScoped(Effect.forever(Effect.gen(function*() {
        const event = yield* PubSub.take(links)
        if (event._tag !== "PeerConnected" && event._tag !== "PeerDisconnected") return
        const linked = (yield* connected).length > 0
        const now = yield* Clock.currentTimeMillis
        // a link that comes and goes asks at most once per RELINK_GAP_MS
        if (linked && alone && (askedAt === undefined || now - askedAt >= RELINK_GAP_MS)) {
          askedAt = now
          yield* Effect.forEach([...deps.subscribed], (key) => request(key), { discard: true })
        }
        alone = !linked
      })))
    })

  return { request, receive, onRelink }
}
