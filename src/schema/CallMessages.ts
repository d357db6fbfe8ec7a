/**
 * Call setup between peers that are not linked: the content of signed direct messages of
 * kind `"call"`, routed over the mesh (`Router`). A call has its own peer connection; its
 * media frames (`MediaFrames.ts`) and ICE candidates travel the same way.
 *
 * - `invite` / `ringing` (the callee got it) / `accept` / `reject` (`reason`) / `hangup` (`reason`);
 * - `media`: a media frame of the call (perfect negotiation, announce, state, stop);
 * - `cand`: an ICE candidate of the call's connection (`null` ends them).
 *
 * @since 2.0.0
 */
import { Schema } from "effect"
import { MediaFrame } from "./MediaFrames.ts"

const CallId = Schema.String.check(Schema.isBetweenLength(1, 64))
const Reason = Schema.String.check(Schema.isMaxLength(200))

export const CallControl = Schema.Struct({
  callId: CallId,
  op: Schema.Literals(["invite", "ringing", "accept", "reject", "hangup"]),
  reason: Schema.optionalKey(Reason)
})

export const CallMedia = Schema.Struct({
  callId: CallId,
  op: Schema.Literal("media"),
  frame: MediaFrame
})

export const CallCandidate = Schema.Struct({
  callId: CallId,
  op: Schema.Literal("cand"),
  cand: Schema.NullOr(Schema.Struct({
    candidate: Schema.String.check(Schema.isMaxLength(1024)),
    sdpMid: Schema.NullOr(Schema.String.check(Schema.isMaxLength(32))),
    sdpMLineIndex: Schema.NullOr(Schema.Int),
    usernameFragment: Schema.NullOr(Schema.String.check(Schema.isMaxLength(256)))
  }))
})

export const CallMessage = Schema.Union([CallControl, CallMedia, CallCandidate])
export type CallMessage = typeof CallMessage.Type

/** The direct-message kind of call messages. */
export const CALL_KIND = "call"

const decode = Schema.decodeUnknownOption(CallMessage)

/** Routed content as a call message, or `undefined`. */
export const decodeCallMessage = (json: unknown): CallMessage | undefined => {
  const o = decode(json)
  return o._tag === "Some" ? o.value : undefined
}
