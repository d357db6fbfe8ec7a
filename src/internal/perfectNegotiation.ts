/**
 * The decisions of perfect negotiation (W3C WebRTC, "perfect negotiation example") for one
 * link, as pure functions. A link's signals and local changes are handled in order on one
 * fiber (`layers/media/linkMedia.ts`), so "making an offer" and "an offer arrives" never
 * interleave: the signaling state alone says whether an offer collides.
 *
 * Roles come from the link's id order: the greater id (the link's initiator, PROTOCOL.md) is
 * impolite and ignores a colliding offer; the smaller is polite, rolls its own offer back and
 * answers, then offers again for what it still wants.
 *
 * @since 2.0.0
 */
import { isInitiator } from "../schema/PeerId.ts"

/** The polite side of a link: the smaller id. */
export const isPolite = (self: string, remote: string): boolean => !isInitiator(self, remote)

export type OfferDecision =
  /** No collision: set it and answer. */
  | "answer"
  /** Collision, polite: roll our offer back, set theirs, answer, offer again later. */
  | "rollback-and-answer"
  /** Collision, impolite: drop it (the polite side answers ours instead). */
  | "ignore"

/** What to do with a remote offer in `signalingState`. */
export const onRemoteOffer = (polite: boolean, signalingState: string): OfferDecision =>
  signalingState === "stable" ? "answer" : polite ? "rollback-and-answer" : "ignore"

/** A remote answer is taken only while our offer is out; otherwise it is stale. */
export const onRemoteAnswer = (signalingState: string): "apply" | "ignore" =>
  signalingState === "have-local-offer" ? "apply" : "ignore"

/** An offer may go out when something needs negotiating and no offer/answer is under way. */
export const mayOffer = (wanted: boolean, signalingState: string): boolean => wanted && signalingState === "stable"

export type Direction = "sendrecv" | "recvonly"

/**
 * The direction of a transceiver this side made: sending while its source is published
 * (muted or not), receiving always. An implementation may pair a remote m-line with a
 * transceiver of ours (werift does, browsers do not), and then both send on one m-line: a
 * stop must not stop the other direction, so it is `recvonly`, never `inactive`.
 */
export const senderDirection = (published: boolean): Direction => (published ? "sendrecv" : "recvonly")

/**
 * The track a sender puts on the wire: the published track unless muted; `null` sends no
 * packets at all (a muted `enabled = false` track would still send black frames).
 */
export const wireTrack = <T>(track: T | undefined, enabled: boolean): T | null => (track !== undefined && enabled ? track : null)
