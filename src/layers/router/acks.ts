/**
 * End-to-end acknowledgements and retransmission for the Router (see `layers/Router.ts`).
 *
 * - The target acknowledges each message; acks are coalesced: whatever is due when the
 *   acknowledging fiber runs goes out as one signed `ack` per origin, its content the list of
 *   ids (a single id travels as a plain string). An ack counts only when its signature checks
 *   out and it comes from the peer the message was for.
 * - The sender retransmits what is not acknowledged in time (3, 9, 21, 45 s after sending),
 *   each attempt signed with its number: the first retransmission is routed around the hop the
 *   first attempt took, later ones flood; after `MAX_ATTEMPT` the message is reported
 *   undelivered. The loop sleeps while nothing waits for an ack (idle peers cost no wake-ups).
 *
 * @since 2.0.0
 */
import { Clock, Effect, Latch, PubSub, Queue, type Schema, type Scope } from "effect"
import { type SeenCache } from "../../internal/seenCache.ts"
import { supervised } from "../../internal/supervise.ts"
import { type DirectFrame, MAX_ATTEMPT, signedBytes } from "../../schema/PeerFrames.ts"
import type { PeerId } from "../../schema/PeerId.ts"
import type { Identity } from "../../services/Identity.ts"
import type { MeshOptions } from "../../services/MeshConfig.ts"
import type { PeerKeys } from "../../services/PeerKeys.ts"
import type { Undelivered } from "../../services/Router.ts"
import { checkOrigin, signFields } from "../signedMessages.ts"

/** Most acknowledgements waiting to be sent; beyond it new ones are dropped (the sender retransmits). */
const ACKS_DUE_LIMIT = 16_384
const ACK_IDS_PER_FRAME = 256

export interface AcksContext {
  readonly config: MeshOptions
  readonly identity: Identity["Service"]
  readonly keys: PeerKeys["Service"]
  readonly seen: SeenCache
  readonly stats: { flooded: number; dropped: number }
  readonly undelivered: PubSub.PubSub<Undelivered>
  /** Hops a direct message may take. */
  readonly directTtl: number
  /** Passes a frame on from this hop, avoiding `avoid`; the neighbour it went to (undefined: flooded). */
  readonly forward: (frame: DirectFrame, from: PeerId | undefined, avoid?: PeerId) => Effect.Effect<PeerId | undefined>
}

export const makeAcks = Effect.fnUntraced(function*(ctx: AcksContext): Effect.fn.Return<{
  readonly onAck: (frame: DirectFrame) => Effect.Effect<void>
  readonly owe: (to: PeerId, id: string) => void
  readonly track: (frame: DirectFrame, via: PeerId | undefined) => void
}, never, Scope.Scope> {
  const { config, identity, keys, seen, stats, undelivered, forward } = ctx
  /**
   * Messages awaiting their acknowledgement: id -> the frame, its next retransmission, and
   * the neighbour its last routed attempt went to (the next attempt avoids it: that hop may
   * be dropping it).
   */
  const unacked = new Map<string, { frame: DirectFrame; attempt: number; dueAt: number; via: PeerId | undefined }>()
  const RETRIES = MAX_ATTEMPT
  // patient first: a busy network answers late, and an eager flood makes it busier
  const retryAfter = (attempt: number) => 3000 * 2 ** attempt

  /** An ack's content: the ids it acknowledges (one id as a string, several as an array). */
  const ackedIds = (content: Schema.Json): ReadonlyArray<string> =>
    typeof content === "string"
      ? [content]
      : Array.isArray(content)
      ? content.filter((id): id is string => typeof id === "string")
      : []

  const onAck = Effect.fnUntraced(function*(frame: DirectFrame) {
    const ids = ackedIds(frame.content)
    if (ids.length === 0) return
    const check = yield* checkOrigin(keys, frame, config.allowUnverifiedPeers)
    if (check === "forged") {
      stats.dropped++
      return
    }
    for (const id of ids) {
      // only the peer a message was for may acknowledge it
      if (unacked.get(id)?.frame.to === frame.origin) unacked.delete(id)
    }
  })

  const sendAck = Effect.fnUntraced(function*(to: PeerId, ids: ReadonlyArray<string>) {
    const content = ids.length === 1 ? ids[0]! : [...ids]
    const fields = yield* signFields(identity, { t: "direct", kind: "ack", to }, content, Math.max(config.gossipTtl, ctx.directTtl))
    yield* forward({ t: "direct", kind: "ack", to, flood: false, ...fields }, undefined)
  })

  /** Acks owed, coalesced: one signed ack per origin for all that is due when this runs. */
  const acksDue = yield* Queue.dropping<{ readonly to: PeerId; readonly id: string }>(ACKS_DUE_LIMIT)
  yield* supervised("Router.acks", Effect.gen(function*() {
    while (true) {
      // wait for one, then give the event loop a few turns while more keep coming: one
      // signed ack for all of them (under load, a few turns hold dozens of ids)
      yield* Queue.peek(acksDue)
      for (let turns = 0, size = 0; turns < 4 && Queue.sizeUnsafe(acksDue) > size; turns++) {
        size = Queue.sizeUnsafe(acksDue)
        yield* Effect.yieldNow
      }
      const due = yield* Queue.takeAll(acksDue)
      const byOrigin = new Map<PeerId, Set<string>>()
      for (const { id, to } of due) {
        const ids = byOrigin.get(to)
        if (ids === undefined) byOrigin.set(to, new Set([id]))
        else ids.add(id)
      }
      for (const [to, idSet] of byOrigin) {
        const ids = [...idSet]
        for (let i = 0; i < ids.length; i += ACK_IDS_PER_FRAME) yield* sendAck(to, ids.slice(i, i + ACK_IDS_PER_FRAME))
      }
    }
  })).pipe(Effect.forkScoped)

  // retransmit what was not acknowledged in time, signed anew with its attempt number; give
  // up after RETRIES. The loop sleeps on `pendingAcks` while nothing waits for an ack (idle
  // peers cost no wake-ups).
  const pendingAcks = yield* Latch.make(false)
  const retransmit = Effect.fnUntraced(function*(pending: { frame: DirectFrame; attempt: number; via: PeerId | undefined }) {
    // the first retransmission is routed again (links may have changed), around the hop the
    // first went to; later ones flood
    const flood = pending.attempt > 1
    if (flood) stats.flooded++
    const { home: _home, ring: _ring, sig: _sig, ...fields } = pending.frame
    const unsigned = { ...fields, attempt: pending.attempt, flood }
    const sig = yield* identity.sign(signedBytes(unsigned))
    seen.add(`${unsigned.id}:${pending.attempt}`, yield* Clock.currentTimeMillis)
    pending.via = yield* forward({ ...unsigned, sig }, undefined, pending.via)
  })
  yield* supervised(
    "Router.retransmit",
    Effect.gen(function*() {
      if (unacked.size === 0) {
        pendingAcks.closeUnsafe()
        yield* pendingAcks.await
      }
      yield* Effect.sleep(250)
      const now = yield* Clock.currentTimeMillis
      for (const [id, pending] of unacked) {
        if (pending.dueAt > now) continue
        if (pending.attempt >= RETRIES) {
          unacked.delete(id)
          stats.dropped++
          const { to, kind } = pending.frame
          yield* PubSub.publish(undelivered, { id, to, kind, attempts: pending.attempt + 1 })
          continue
        }
        pending.attempt++
        pending.dueAt = now + retryAfter(pending.attempt)
        yield* retransmit(pending)
      }
    }).pipe(Effect.forever)
  ).pipe(Effect.forkScoped)

  return {
    onAck,
    owe: (to: PeerId, id: string) => {
      Queue.offerUnsafe(acksDue, { to, id })
    },
    track: (frame: DirectFrame, via: PeerId | undefined) => {
      unacked.set(frame.id, { frame, attempt: 0, dueAt: frame.ts + retryAfter(0), via })
      pendingAcks.openUnsafe()
    }
  }
})
