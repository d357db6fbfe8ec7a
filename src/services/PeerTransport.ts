/**
 * The contract of a peer-to-peer link provider: WebRTC data channels in real use
 * (`layers/WebRtcTransport.ts`), an in-process network in tests and simulations
 * (`layers/MemoryNetwork.ts`). The mesh core only ever sees this interface.
 *
 * A link is ordered and reliable (one ordered data channel per pair). The transport owns
 * batching and pacing, so `send` may be called in bursts.
 *
 * @since 2.0.0
 */
import { type Cause, Context, type Effect, type Queue, Schema, type Scope } from "effect"
import type { PeerId } from "../schema/PeerId.ts"
import type { JsonObject } from "../schema/Signaling.ts"
import type { CallConnectionLike, MediaPeerConnectionLike } from "./Media.ts"

/** The three signaling kinds relayed by the server for one pair of peers. */
export type SignalKind = "offer" | "answer" | "ice-candidate"

export interface Signal {
  readonly kind: SignalKind
  /** SDP or candidate; `null` marks the end of candidates. */
  readonly data: JsonObject | null
}

/** The signaling path of one pair, as seen by the transport while it sets a link up. */
export interface SignalChannel {
  readonly send: (signal: Signal) => Effect.Effect<void>
  /** Signals from the remote peer, in order. */
  readonly incoming: Queue.Dequeue<Signal>
}

export class LinkError extends Schema.TaggedError<LinkError>()("LinkError", {
  peerId: Schema.String,
  reason: Schema.Literals(["closed", "timeout", "setup-failed", "refused"]),
  message: Schema.String
}) {}

/** One message on a link: text (JSON frames) or bytes (frames with a binary attachment). */
export type LinkMessage = string | Uint8Array

/** An open link to one remote peer. */
export interface Link {
  readonly remote: PeerId
  /**
   * Queues one message for the remote, text or binary (delivered as it was sent: a
   * `Uint8Array` arrives as one); fails once the link is closed.
   */
  readonly send: (message: LinkMessage) => Effect.Effect<void, LinkError>
  /** Messages from the remote, in order; ends when the link closes. */
  readonly messages: Queue.Dequeue<LinkMessage, Cause.Done>
  /** Resolves with a reason once the link is closed, from either side. */
  readonly closed: Effect.Effect<string>
  /** Closes the link (idempotent). */
  readonly close: (reason: string) => Effect.Effect<void>
  /** Messages queued but not yet on the wire (for back-pressure and stats). */
  readonly pending: Effect.Effect<number>
  /** The link's connection, for audio/video (WebRTC links only; a memory link has none). */
  readonly media?: MediaPeerConnectionLike | undefined
}

export class PeerTransport extends Context.Service<PeerTransport, {
  /** What this transport is, for status (`"webrtc"`, `"memory"`). */
  readonly kind: string
  /**
   * Opens a link to `remote`. The initiator makes the offer; the responder answers the offer
   * that is (or will be) in `signals.incoming`. The link lives until it is closed or the
   * Scope closes.
   */
  open(
    remote: PeerId,
    options: { readonly initiator: boolean; readonly signals: SignalChannel; readonly timeoutMs: number }
  ): Effect.Effect<Link, LinkError, Scope.Scope>
  /** A bare connection for a call (`Media.call`); absent where links are not WebRTC. May throw. */
  readonly callConnection?: (() => CallConnectionLike) | undefined
}>()("peerpigeon/PeerTransport") {}
