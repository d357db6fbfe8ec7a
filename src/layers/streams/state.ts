/**
 * What the `Streams` layer (`layers/Streams.ts`) keeps per stream, at each end, and the small
 * pure helpers it shares: errors and the message-id scheme.
 *
 * @since 2.0.0
 */
import type { Cause, Deferred, Latch, Queue } from "effect"
import type { ReceiveWindow, StreamDigest, StreamMessage } from "../../internal/streamProtocol.ts"
import { StreamError, type StreamInfo } from "../../services/Streams.ts"

/** How long a leaving peer gives the aborts of its open streams to get out before its links close. */
export const LEAVING_GRACE_MS = 200

/** The sending end of a stream. */
export interface Out {
  readonly info: StreamInfo
  upto: number
  seq: number
  bytes: number
  lastHeard: number
  ending: boolean
  failed: StreamError | undefined
  readonly digest: StreamDigest
  readonly credit: Latch.Latch
  readonly accepted: Deferred.Deferred<void, StreamError>
  readonly done: Deferred.Deferred<void, StreamError>
}

/** The receiving end of a stream. */
export interface In {
  readonly key: string
  readonly info: StreamInfo
  state: "waiting" | "open" | "finished"
  lastHeard: number
  end: Extract<StreamMessage, { op: "end" }> | undefined
  readonly window: ReceiveWindow
  readonly digest: StreamDigest
  readonly chunks: Queue.Queue<Uint8Array, StreamError | Cause.Done>
}

export const streamError = (streamId: string, reason: StreamError["reason"], message: string) =>
  new StreamError({ streamId, reason, message })

/** The stream id and end (`>` from the sender, `<` from the receiver) of a stream message id. */
export const parseMessageId = (id: string): { readonly sid: string; readonly fromSender: boolean } | undefined => {
  const at = id.search(/[<>]/)
  return at < 0 ? undefined : { sid: id.slice(0, at), fromSender: id[at] === ">" }
}
