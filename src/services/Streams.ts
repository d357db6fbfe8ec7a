/**
 * Byte streams between two peers of the network (files, large binary data), over routed
 * direct messages: chunked (16 KiB), flow-controlled end to end (a slow reader slows the
 * writer; each side holds at most a window of chunks), abortable from either side, with
 * progress and a checksum verified at the end. The protocol is `internal/streamProtocol.ts`.
 *
 * @since 2.0.0
 */
import { Context, type Effect, type Option, type PubSub, Schema, type Scope } from "effect"
import type { PeerId } from "../schema/PeerId.ts"

export class StreamError extends Schema.TaggedError<StreamError>()("StreamError", {
  streamId: Schema.String,
  reason: Schema.Literals(["aborted", "refused", "unreachable", "timeout", "checksum", "invalid", "closed"]),
  message: Schema.String
}) {}

/** What both ends know of a stream. */
export interface StreamInfo {
  readonly id: string
  /** The other end. */
  readonly peerId: PeerId
  readonly name: string
  /** Bytes announced by the sender, if it knew. */
  readonly size: number | undefined
  /** A MIME type or any label the sender gave. */
  readonly type: string | undefined
}

/** The writing end. */
export interface OutgoingStream extends StreamInfo {
  /** Sends `bytes` (cut into chunks); waits while the receiver has no room (back-pressure). */
  write(bytes: Uint8Array): Effect.Effect<void, StreamError>
  /** Ends the stream; resolves once the receiver checked every byte against the checksum. */
  readonly close: Effect.Effect<void, StreamError>
  /** Stops the stream at both ends (idempotent). */
  abort(reason: string): Effect.Effect<void>
}

/** The reading end. */
export interface IncomingStream extends StreamInfo {
  /** The next chunk, in order; `None` at the end (the checksum checked out). Fails if the stream was aborted or corrupted. */
  readonly read: Effect.Effect<Option.Option<Uint8Array>, StreamError>
  /** Stops the stream at both ends (idempotent). */
  abort(reason: string): Effect.Effect<void>
}

export type StreamDirection = "in" | "out"

export type StreamEvent =
  /** `bytes` of `total` (if announced) received; for an outgoing stream, as the receiver reported it. */
  | {
    readonly _tag: "Progress"
    readonly id: string
    readonly peerId: PeerId
    readonly direction: StreamDirection
    readonly bytes: number
    readonly total: number | undefined
  }
  | { readonly _tag: "Completed"; readonly id: string; readonly peerId: PeerId; readonly direction: StreamDirection; readonly bytes: number }
  | {
    readonly _tag: "Aborted"
    readonly id: string
    readonly peerId: PeerId
    readonly direction: StreamDirection
    readonly reason: string
    /** Which end stopped it. */
    readonly by: "local" | "remote"
  }

export interface StreamsStats {
  readonly opened: number
  readonly accepted: number
  readonly completed: number
  readonly aborted: number
  /** Incoming streams refused (over `maxIncoming` or `maxIncomingPerPeer`, or nobody reading). */
  readonly refused: number
  /** Stream messages that were not valid or broke the protocol. */
  readonly invalid: number
  readonly active: number
}

export interface StreamsOptions {
  /** Chunks a receiver lets be in flight. Default 16 (256 KiB). */
  readonly window: number
  /** A stream that makes no progress this long is aborted (`timeout`). Default 30000 ms. */
  readonly idleTimeout: number
  /** Incoming streams open at once, in all. Default 64. */
  readonly maxIncoming: number
  /** Incoming streams open at once from one peer. Default 8. */
  readonly maxIncomingPerPeer: number
  /** Incoming streams waiting for a reader to take them (`incoming`). Default 16. */
  readonly backlog: number
}

export const streamsDefaults: StreamsOptions = {
  window: 16,
  idleTimeout: 30_000,
  maxIncoming: 64,
  maxIncomingPerPeer: 8,
  backlog: 16
}

export class Streams extends Context.Service<Streams, {
  /** Opens a stream to any peer of the network; resolves once the receiver accepted it. */
  open(
    to: PeerId,
    info: { readonly name: string; readonly size?: number; readonly type?: string }
  ): Effect.Effect<OutgoingStream, StreamError>
  /**
   * The next stream another peer opened to this one (waits for one). Taking it accepts it:
   * its sender's `open` resolves and the data starts to flow. Streams not taken wait, at
   * most `backlog` of them (more are refused), each until `idleTimeout`.
   */
  readonly accept: Effect.Effect<IncomingStream>
  /** Progress, completion and aborts of every stream, for the caller's Scope. */
  readonly events: Effect.Effect<PubSub.Subscription<StreamEvent>, never, Scope.Scope>
  /** Aborts every open stream at both ends with `reason` (as a peer leaving does). */
  closeAll(reason: string): Effect.Effect<void>
  readonly stats: Effect.Effect<StreamsStats>
}>()("peerpigeon/Streams") {}
