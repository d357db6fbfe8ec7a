/**
 * The media frames of our peer protocol (`t: "media"`), on a link's own data channel (or a
 * call's): perfect-negotiation signals and what the tracks on the negotiated m-lines are.
 *
 * - `neg`: a session description (`desc`).
 * - `announce`: the sender's m-lines (by `mid`, stable over renegotiations) that carry one of
 *   its sources (`camera` or `screen`), sent once the offer that made them is answered.
 * - `state`: the sender's audio/video of a source are on (`true`) or muted.
 * - `stop`: the sender stopped a source.
 *
 * Every field is bounded: an SDP to 64 KiB, a source to two tracks.
 *
 * @since 2.0.0
 */
import { Schema } from "effect"

/** Longest SDP accepted (a few m-lines are a few KiB). */
export const MAX_SDP_CHARS = 64 * 1024

export const MediaSource = Schema.Literals(["camera", "screen"])
export type MediaSource = typeof MediaSource.Type

export const TrackKind = Schema.Literals(["audio", "video"])
export type TrackKind = typeof TrackKind.Type

const Mid = Schema.String.check(Schema.isBetweenLength(1, 32))

export const Description = Schema.Struct({
  type: Schema.Literals(["offer", "answer"]),
  sdp: Schema.String.check(Schema.isMaxLength(MAX_SDP_CHARS))
})
export type Description = typeof Description.Type

/**
 * A perfect-negotiation signal. Renegotiation reuses the link's bundled ICE transport, so
 * only descriptions travel here (candidates of a new connection, a call's, go with its setup).
 */
export const Neg = Schema.Struct({
  t: Schema.tag("media"),
  op: Schema.tag("neg"),
  desc: Description
})

/** The m-lines of one source of the sender, with its mute state. */
export const Announce = Schema.Struct({
  t: Schema.tag("media"),
  op: Schema.tag("announce"),
  source: MediaSource,
  tracks: Schema.Array(Schema.Struct({ mid: Mid, kind: TrackKind })).check(Schema.isMaxLength(2)),
  audio: Schema.Boolean,
  video: Schema.Boolean
})

/** Mute state of a source (no renegotiation). */
export const State = Schema.Struct({
  t: Schema.tag("media"),
  op: Schema.tag("state"),
  source: MediaSource,
  audio: Schema.Boolean,
  video: Schema.Boolean
})

/** The sender stopped a source. */
export const Stop = Schema.Struct({
  t: Schema.tag("media"),
  op: Schema.tag("stop"),
  source: MediaSource
})

export const MediaFrame = Schema.Union([Neg, Announce, State, Stop]).pipe(Schema.toTaggedUnion("op"))
export type MediaFrame = typeof MediaFrame.Type

const decode = Schema.decodeUnknownOption(MediaFrame)

/** A parsed JSON value as a media frame, or `undefined`. */
export const decodeMediaFrame = (json: unknown): MediaFrame | undefined => {
  const o = decode(json)
  return o._tag === "Some" ? o.value : undefined
}
