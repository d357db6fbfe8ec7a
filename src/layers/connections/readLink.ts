/**
 * Reading one link once it is up: each frame is size-checked, decoded and counted against the
 * neighbour's rate limits (internal/linkLimits.ts) before it is handed on. Returns why the
 * link ended: closed, an eviction notice from the peer, the peer exceeding its limits, or a
 * defect while reading (logged with its cause; it ends this link, never the node).
 *
 * @since 2.0.0
 */
import { Cause, Clock, Effect, Queue } from "effect"
import { LinkLimiter, type RateLimits, type TrafficClass } from "../../internal/linkLimits.ts"
import { decodeBinary } from "../../schema/binaryFrames.ts"
import { parseBounded } from "../../internal/jsonLimits.ts"
import { decodeMediaFrame, type MediaFrame } from "../../schema/MediaFrames.ts"
import { decodePeerFrame } from "../../schema/PeerFrames.ts"
import type { Inbound } from "../../services/Connections.ts"
import type { Link } from "../../services/PeerTransport.ts"

/** The traffic class of a decoded frame, for the per-neighbour limits. */
export const classOf = (frame: Inbound["frame"]): TrafficClass =>
  frame.t === "gossip" ? "gossip" : frame.t === "direct" ? (frame.kind === "dht" ? "dht" : "direct") : "repair"

/** Longest JSON header of a frame with an attachment (its content is small: ids, offsets). */
export const MAX_HEADER_BYTES = 16 * 1024

export interface ReadLinkOptions {
  readonly link: Link
  readonly limits: RateLimits
  /** Longer frames are not parsed (they count as invalid); binary ones in bytes. */
  readonly maxFrameChars: number
  /** Hands on an accepted gossip, direct or repair frame (may wait: back-pressure). */
  readonly deliver: (frame: Inbound["frame"]) => Effect.Effect<unknown>
  /** Hands on a media frame (`schema/MediaFrames.ts`, counted as direct traffic). */
  readonly deliverMedia?: (frame: MediaFrame) => Effect.Effect<unknown>
  /** The peer ran out of strikes; returns the reason the link ends with. */
  readonly overLimit: (why: string) => Effect.Effect<string>
  /** The peer sent an eviction notice with this reason. */
  readonly evicted: (reason: string) => Effect.Effect<unknown>
  /** Counts what is dropped (shared by every link of a node). */
  readonly counters: { invalidFrames: number; rateLimitedFrames: number }
}

/** Our media frames are written with `t` first; anything else starting so is not one. */
const MEDIA_PREFIX = '{"t":"media"'

export const readLink = ({ counters, deliver, deliverMedia, evicted, limits, link, maxFrameChars, overLimit }: ReadLinkOptions): Effect.Effect<string> =>
  Effect.gen(function*() {
    const limiter = new LinkLimiter(limits)
    while (true) {
      const message = yield* Queue.take(link.messages)
      if (typeof message === "string" && message.startsWith(MEDIA_PREFIX)) {
        const media = message.length > maxFrameChars ? undefined : decodeMediaFrame(parseBounded(message))
        const verdict = limiter.admit(media === undefined ? "invalid" : "direct", yield* Clock.currentTimeMillis)
        if (media === undefined) counters.invalidFrames++
        if (verdict === "disconnect") return yield* overLimit(`rate-limit: ${media === undefined ? "invalid frames" : "media"}`)
        if (verdict === "accept" && media !== undefined && deliverMedia !== undefined) yield* deliverMedia(media)
        continue
      }
      const frame = typeof message === "string"
        ? message.length > maxFrameChars ? undefined : decodePeerFrame(message)
        : message.byteLength > maxFrameChars ? undefined : decodeBinary(message, MAX_HEADER_BYTES)
      const now = yield* Clock.currentTimeMillis
      if (frame === undefined) {
        counters.invalidFrames++
        if (limiter.admit("invalid", now) === "disconnect") return yield* overLimit("rate-limit: invalid frames")
        yield* Effect.logDebug(`dropped an invalid frame from ${link.remote}`)
        continue
      }
      switch (frame.t) {
        case "gossip":
        case "direct":
        case "ihave":
        case "iwant":
        case "landmarks": {
          const c = classOf(frame)
          const verdict = limiter.admit(c, now)
          if (verdict === "disconnect") return yield* overLimit(`rate-limit: ${c}`)
          if (verdict === "accept") yield* deliver(frame)
          else counters.rateLimitedFrames++
          break
        }
        case "evict": {
          const reason = frame.reason.slice(0, 200)
          yield* evicted(reason)
          return `evicted: ${reason}`
        }
        default:
          break
      }
    }
  }).pipe(
    Effect.catchTag("Done", () => Effect.succeed("closed")),
    Effect.catchCause((cause) =>
      Cause.hasInterrupts(cause)
        ? Effect.failCause(cause)
        : Effect.as(Effect.logError(`reading the link from ${link.remote} failed`, cause), "internal error")
    )
  )
