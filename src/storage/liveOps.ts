/**
 * Live CRDT updates: a writer's batched Yjs edits sent to every peer as one gossip message
 * (kind `pp-st-op`), signed by the gossip layer as the writer's and, for private records,
 * AES-256-GCM under the record's content key. Receivers that subscribed to the key take an
 * op only from a peer the current access list lets write, of the current key epoch; others
 * ignore it. A lost op is not lost: a skipped sequence number makes the receiver ask a writer
 * for what its document lacks (`stateSync.ts`), and the next snapshot in the DHT carries the
 * same edits.
 *
 *   content = {v: 1, key, owner, epoch, seq, iv?}, payload = the update (or its ciphertext,
 *   associated data "peerpigeon-st-op:v1:" key owner epoch writer seq)
 *
 * @since 2.0.0
 */
import { Effect, PubSub, Schema } from "effect"
import { PeerIdHex, tryDecode } from "../crypto/keys.ts"
import { fromBase64Url, primitives, randomBytes, toBase64Url, utf8 } from "../crypto/primitives.ts"
import { BoundedMap } from "../internal/boundedMap.ts"
import type { StorageEvent } from "../services/DistributedStorage.ts"
import type { Delivered, Gossip } from "../services/Gossip.ts"
import type { makeDocuments } from "./documents.ts"
import type { Seen } from "./events.ts"
import type { makeOpener } from "./open.ts"
import { isTombstone, StorageKey } from "./record.ts"
import { mayWrite } from "./rules.ts"

export const OP_KIND = "pp-st-op"

export const LiveOp = Schema.Struct({
  v: Schema.Literal(1),
  key: StorageKey,
  owner: PeerIdHex,
  epoch: Schema.Number.check(Schema.isInt(), Schema.isBetween({ minimum: 0, maximum: 2 ** 32 })),
  seq: Schema.Number.check(Schema.isInt(), Schema.isBetween({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
  iv: Schema.optionalKey(Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_-]{16}$/)))
})
export type LiveOp = typeof LiveOp.Type

const decode = Schema.decodeUnknownOption(LiveOp)

/** The op in a gossip message's content, or undefined. */
export const readOp = (content: unknown): LiveOp | undefined => tryDecode(decode, content)

/** Associated data of an op's ciphertext. */
export const opAad = (op: Omit<LiveOp, "v" | "iv">, writer: string): Uint8Array<ArrayBuffer> =>
  utf8(`peerpigeon-st-op:v1:${op.key}:${op.owner}:${op.epoch}:${writer}:${op.seq}`)

/** How long a skipped sequence number may take to arrive by another path before it is asked for (ms). */
export const GAP_WAIT_MS = 200
/** Skipped sequence numbers remembered per writer and key, at most. */
export const MAX_MISSING = 64

/**
 * The sequence numbers taken from one writer of one key: the highest, and those below it not
 * seen yet (at most `MAX_MISSING`, the newest). Pure; `take` says whether a number skipped
 * some. A writer that restarted counts from 1 again: numbers below the highest only fill gaps.
 */
export class SeqGaps {
  max = 0
  readonly missing = new Set<number>()
  /** A check of the missing numbers is under way (one at a time per writer and key). */
  checking = false

  take(seq: number): boolean {
    if (this.max === 0) {
      // the first op seen: what came before is the subscription's business
      this.max = seq
      return false
    }
    if (seq <= this.max) {
      this.missing.delete(seq)
      return false
    }
    for (let s = Math.max(this.max + 1, seq - MAX_MISSING); s < seq; s++) this.missing.add(s)
    while (this.missing.size > MAX_MISSING) this.missing.delete(this.missing.values().next().value!)
    const skipped = seq > this.max + 1
    this.max = seq
    return skipped
  }
}

export interface LiveDeps {
  readonly self: string
  readonly gossip: Gossip["Service"]
  readonly known: BoundedMap<string, Seen>
  readonly subscribed: ReadonlySet<string>
  readonly docs: ReturnType<typeof makeDocuments>
  readonly opener: ReturnType<typeof makeOpener<never>>
  readonly events: PubSub.PubSub<StorageEvent>
  readonly maxKnown: number
  /** Called when a writer's ops skip a sequence number: some were lost (a state-vector request fetches them). */
  readonly onGap: (key: string, writer: string) => Effect.Effect<void>
}

/** Sending and receiving live ops for one peer's storage. */
export const makeLiveOps = (deps: LiveDeps) => {
  const { docs, events, gossip, known, opener, self, subscribed } = deps
  /** Sequence numbers of this peer's live ops, per key. */
  const seqs = new BoundedMap<string, number>(deps.maxKnown)
  /** The sequence numbers taken from each writer, per key (`key` newline `writer`). */
  const lastSeen = new BoundedMap<string, SeqGaps>(deps.maxKnown)

  /** Sends a batch of local edits of `key` live (encrypted when private); nothing when this peer may not write it. */
  const sendOp = (key: string, update: Uint8Array) =>
    Effect.gen(function*() {
      const seen = known.get(key)
      if (seen === undefined || !seen.record.crdt || isTombstone(seen.record.body) || !mayWrite(seen.record.acl, self)) return
      const { record } = seen
      const seq = (seqs.get(key) ?? 0) + 1
      seqs.set(key, seq)
      const op = { key, owner: record.acl.owner, epoch: record.acl.epoch, seq }
      if (record.space !== "private") {
        yield* gossip.publish({ v: 1, ...op }, OP_KIND, { payload: update })
        return
      }
      const cek = yield* opener.contentKey(record)
      if (cek === undefined) return
      const iv = randomBytes(12)
      const ct = yield* primitives.seal(cek, iv, new Uint8Array(update), opAad(op, self))
      yield* gossip.publish({ v: 1, ...op, iv: toBase64Url(iv) }, OP_KIND, { payload: ct })
    })

  /** A live op from another peer: applied when it is a current writer's, of the current epoch, of a key subscribed here. */
  const receiveOp = (d: Delivered) =>
    Effect.gen(function*() {
      if (d.kind !== OP_KIND || !d.verified || d.payload === undefined) return
      const op = readOp(d.content)
      if (op === undefined || !subscribed.has(op.key)) return
      const seen = known.get(op.key)
      if (seen === undefined || !seen.record.crdt || !seen.readable) return
      const { record } = seen
      if (record.acl.owner !== op.owner || record.acl.epoch !== op.epoch || !mayWrite(record.acl, d.origin)) return
      let update: Uint8Array | undefined = d.payload
      if (record.space === "private") {
        const cek = yield* opener.contentKey(record)
        const iv = op.iv === undefined ? undefined : fromBase64Url(op.iv, 12)
        if (cek === undefined || iv === undefined) return
        update = yield* primitives.open(cek, iv, new Uint8Array(d.payload), opAad(op, d.origin)).pipe(Effect.orElseSucceed(() => undefined))
      } else if (op.iv !== undefined) {
        return
      }
      if (update === undefined) return
      const before = seen.value
      const value = docs.merge(op.key, update)
      known.set(op.key, { ...seen, value })
      if (JSON.stringify(value) !== JSON.stringify(before)) {
        yield* PubSub.publish(events, { _tag: "Updated", key: op.key, version: record.version, value, by: d.origin })
      }
      const id = `${op.key}\n${d.origin}`
      let gaps = lastSeen.get(id)
      if (gaps === undefined) lastSeen.set(id, gaps = new SeqGaps())
      if (gaps.take(op.seq) && !gaps.checking) {
        const tracker = gaps
        tracker.checking = true
        // ops travel several paths and may overtake each other: ask only for what is still missing a moment later
        yield* Effect.forkChild(Effect.gen(function*() {
          yield* Effect.sleep(GAP_WAIT_MS)
          tracker.checking = false
          if (tracker.missing.size === 0) return
          tracker.missing.clear()
          yield* deps.onGap(op.key, d.origin)
        }))
      }
    })
  return { send: sendOp, receive: receiveOp }
}
