/**
 * Small helpers of the WebRTC link modules: reading werift's and browsers' event objects
 * (they differ, so fields are narrowed one by one), listeners that come off again, and the
 * rule for a link's fibers: one that dies takes the link down with a reason, and its cause
 * is logged.
 *
 * @since 2.0.0
 */
import { Cause, Effect } from "effect"
import type { DataChannelLike, EventTargetLike } from "../RtcPeerConnection.ts"

export const field = (u: unknown, key: string): unknown =>
  typeof u === "object" && u !== null ? (u as Record<string, unknown>)[key] : undefined

export const isDataChannel = (u: unknown): u is DataChannelLike =>
  typeof field(u, "send") === "function" && typeof field(u, "addEventListener") === "function"

export const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/** Adds a listener; returns its removal. */
export const on = (target: EventTargetLike, type: string, listener: (event: unknown) => void): () => void => {
  target.addEventListener(type, listener)
  return () => target.removeEventListener(type, listener)
}

/** Waits until the channel has handed everything to SCTP. */
export const drained = (dc: DataChannelLike): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    if (dc.bufferedAmount === 0) return resume(Effect.void)
    dc.bufferedAmountLowThreshold = 0
    const listener = () => resume(Effect.void)
    dc.addEventListener("bufferedamountlow", listener)
    return Effect.sync(() => dc.removeEventListener("bufferedamountlow", listener))
  })

/**
 * Runs one fiber of a link. A defect (a bug, or a platform object that threw) is logged with
 * its cause, and `end` closes the link with `"<name> failed: <message>"`: restarting a reader
 * or a sender mid-frame would corrupt the stream, and a link missing one is half dead.
 * Interruption (the link's Scope closing) passes through.
 */
export const endLinkOnDefect = (name: string, end: (reason: string) => void) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A | void, E, R> =>
  self.pipe(
    Effect.catchDefect((defect) =>
      Effect.logError(`WebRtcTransport ${name} died; closing the link`, Cause.die(defect)).pipe(
        Effect.andThen(Effect.sync(() => end(`${name} failed: ${describe(defect)}`)))
      )
    )
  )
