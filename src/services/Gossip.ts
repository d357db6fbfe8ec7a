/**
 * Broadcast to every peer of the network: signed by its origin, flooded over the links with
 * a TTL, de-duplicated with a bounded seen-cache, delivered once per peer.
 *
 * @since 2.0.0
 */
import { Context, type Effect, type PubSub, Schema, type Scope } from "effect"
import type { PeerId } from "../schema/PeerId.ts"

export class MessageTooLarge extends Schema.TaggedError<MessageTooLarge>()("MessageTooLarge", {
  size: Schema.Number,
  limit: Schema.Number
}) {
  override get message() {
    return `message of ${this.size} bytes exceeds the limit of ${this.limit}`
  }
}

export class InvalidMessage extends Schema.TaggedError<InvalidMessage>()("InvalidMessage", {
  message: Schema.String
}) {}

/** A broadcast delivered to this peer. */
export interface Delivered {
  readonly id: string
  readonly kind: string
  readonly origin: PeerId
  readonly content: Schema.Json
  readonly hops: number
  /** Hops it could still travel when it arrived here (not signed: relays count it down). */
  readonly ttl: number
  readonly timestamp: number
  readonly verified: boolean
  /** The neighbour it arrived from (first arrival); undefined for direct messages. */
  readonly via?: PeerId
  /** The bytes sent with it (`payload` of `send`/`publish`), checked against its signature. */
  readonly payload?: Uint8Array
}

export interface GossipStats {
  readonly published: number
  readonly delivered: number
  readonly duplicates: number
  readonly forwarded: number
  readonly dropped: number
  /** Frames re-sent on a neighbour's `iwant`. */
  readonly repaired: number
  /** Characters of frames held for repair (`recent`, bounded by `RECENT_CHARS_LIMIT`). */
  readonly recentChars: number
}

export class Gossip extends Context.Service<Gossip, {
  /**
   * Broadcasts `content` (JSON) under `kind` (default "message"); returns its id
   * (`options.id` when given: 1 to 64 characters, unique). `options.payload`: bytes sent
   * with it, raw on the wire and signed, counted against `maxMessageSize` with the content.
   */
  publish(
    content: Schema.Json,
    kind?: string,
    options?: { readonly id?: string; readonly payload?: Uint8Array }
  ): Effect.Effect<string, MessageTooLarge | InvalidMessage>
  /** Broadcasts delivered to this peer (not its own), for the caller's Scope. */
  readonly subscribe: Effect.Effect<PubSub.Subscription<Delivered>, never, Scope.Scope>
  readonly stats: Effect.Effect<GossipStats>
}>()("peerpigeon/Gossip") {}
