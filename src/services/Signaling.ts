/**
 * The contract of the signaling path: how a peer announces itself, learns about other
 * peers, and exchanges offers, answers and candidates. `layers/WsSignaling.ts` speaks
 * PROTOCOL.md to a real server; `layers/MemoryNetwork.ts` provides an in-process hub.
 *
 * @since 2.0.0
 */
import { Context, type Effect, type PubSub, Schema, type Scope } from "effect"
import type { PeerId } from "../schema/PeerId.ts"
import type { JsonObject } from "../schema/Signaling.ts"
import type { Signal } from "./PeerTransport.ts"

export type SignalingEvent =
  | { readonly _tag: "Connected" }
  | { readonly _tag: "Disconnected"; readonly reason: string; readonly willReconnect: boolean }
  | { readonly _tag: "PeerDiscovered"; readonly peerId: PeerId; readonly verified: boolean; readonly data: JsonObject }
  | { readonly _tag: "PeerLeft"; readonly peerId: PeerId; readonly reason: string }
  | { readonly _tag: "Signal"; readonly from: PeerId; readonly signal: Signal }
  | {
    readonly _tag: "ServerError"
    readonly message: string
    readonly code: string | undefined
    /** The peer the error is about, when the server names one (e.g. `unknown-peer`). */
    readonly peerId?: PeerId | undefined
  }

export class SignalingError extends Schema.TaggedError<SignalingError>()("SignalingError", {
  reason: Schema.Literals(["connect-failed", "timeout", "not-connected", "refused", "invalid-url"]),
  message: Schema.String
}) {}

export class Signaling extends Context.Service<Signaling, {
  /**
   * Connects to `url` and announces this peer (with its identity proof). Succeeds once the
   * first announce is sent; from then on the layer reconnects by itself after an outage and
   * re-announces, until `disconnect`.
   */
  connect(url: string): Effect.Effect<void, SignalingError>
  /** Says goodbye and closes; no reconnection afterwards. Existing peer links are untouched. */
  readonly disconnect: Effect.Effect<void>
  /** Relays one signal to `to` through the server. */
  send(to: PeerId, signal: Signal): Effect.Effect<void, SignalingError>
  readonly isConnected: Effect.Effect<boolean>
  /** Events from now on, for the lifetime of the caller's Scope. */
  readonly subscribe: Effect.Effect<PubSub.Subscription<SignalingEvent>, never, Scope.Scope>
}>()("peerpigeon/Signaling") {}
