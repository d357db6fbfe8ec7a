/**
 * Direct messages to any peer of the network: over the link when the target is a
 * neighbour, otherwise hop by hop, greedily to the neighbour XOR-closest to the target while
 * that makes progress, and flooded (like gossip, delivered only by the target) when not.
 *
 * @since 2.0.0
 */
import { Context, type Effect, type PubSub, type Schema, type Scope } from "effect"
import type { PeerId } from "../schema/PeerId.ts"
import type { Delivered, InvalidMessage, MessageTooLarge } from "./Gossip.ts"

export interface RouterStats {
  readonly sent: number
  readonly delivered: number
  readonly forwarded: number
  readonly flooded: number
  readonly duplicates: number
  /** Frames dropped: forged, over their hop or attempt bound, or never acknowledged. */
  readonly dropped: number
  /** Of `dropped`: frames whose origin signature did not check out (never forwarded). */
  readonly forged: number
}

/** A message given up on: never acknowledged by its target after every retransmission. */
export interface Undelivered {
  readonly id: string
  readonly to: PeerId
  readonly kind: string
  /** Attempts made (the first send and its retransmissions). */
  readonly attempts: number
}

export interface SendOptions {
  /** Have the target acknowledge the message, and retransmit until it does. Default true. */
  readonly ack?: boolean
  /** The message's id (1 to 64 characters, unique); a fresh nonce by default. */
  readonly id?: string
  /**
   * Bytes sent with the content, raw on the wire (no base64) and covered by the signature;
   * delivered as `Delivered.payload`. Counts against `maxMessageSize` with the content.
   */
  readonly payload?: Uint8Array
}

export class Router extends Context.Service<Router, {
  /**
   * Sends `content` to `to`; returns the message id. By default the target acknowledges it
   * and the sender retransmits until it does; `{ ack: false }` sends it once, best effort,
   * for request/answer protocols that time out and retry by themselves (the DHT's RPCs).
   */
  send(
    to: PeerId,
    content: Schema.Json,
    kind?: string,
    options?: SendOptions
  ): Effect.Effect<string, MessageTooLarge | InvalidMessage>
  /** Direct messages delivered to this peer, for the caller's Scope. */
  readonly subscribe: Effect.Effect<PubSub.Subscription<Delivered>, never, Scope.Scope>
  /**
   * Messages sent with `ack` that their target never acknowledged, once the last
   * retransmission timed out (each one also counts in `stats.dropped`), for the caller's Scope.
   */
  readonly undelivered: Effect.Effect<PubSub.Subscription<Undelivered>, never, Scope.Scope>
  readonly stats: Effect.Effect<RouterStats>
  /** The live landmark XOR-closest to `target`: where a peer registers, and where messages to it head (see `internal/landmarks.ts`). */
  homeOf(target: PeerId): Effect.Effect<PeerId | undefined>
  /** Whether `id` is a landmark whose presence is overdue; undefined when it was never heard as one. */
  landmarkOverdue(id: PeerId): Effect.Effect<boolean | undefined>
}>()("peerpigeon/Router") {}
