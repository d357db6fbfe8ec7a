/**
 * The text frames the signaling server sends (PROTOCOL.md), built by hand: this runs once
 * per frame on the server's hot path, and the shapes are fixed by the 1.x protocol.
 *
 * @since 2.0.0
 */
import type { PeerRecord } from "../internal/registry.ts"
import type { PeerId } from "../schema/PeerId.ts"
import type { ErrorCode, RelayType } from "../schema/Signaling.ts"

const frame = (message: object): string => JSON.stringify(message)

export const connectedFrame = (peerId: PeerId, nonce: string, ts: number): string =>
  frame({ type: "connected", data: { peerId, nonce }, fromPeerId: "system", timestamp: ts })

export const pongFrame = (ts: number): string => frame({ type: "pong", data: { timestamp: ts }, fromPeerId: "system", timestamp: ts })

/** The client's codes, and the server-only `relay-failed` (clients read `code` as a string). */
export type ServerErrorCode = ErrorCode | "relay-failed"

export const errorFrame = (code: ServerErrorCode, error: string, ts: number): string =>
  frame({ type: "error", error, code, fromPeerId: "system", timestamp: ts })

/**
 * `peer-discovered` about `about`, for `to`. `isHub` is always false and `verified` is
 * present (true) only when the server checked the peer's proof: whatever the announce extras
 * said about either is overwritten here, whichever registry backend produced the record.
 */
export const discoveredFrame = (about: PeerRecord, to: PeerId, ts: number): string =>
  frame({
    type: "peer-discovered",
    // `verified: undefined` is left out by JSON.stringify
    data: { ...about.data, peerId: about.peerId, isHub: false, verified: about.verified ? true : undefined },
    fromPeerId: "system",
    targetPeerId: to,
    networkName: about.networkName,
    timestamp: ts
  })

export const disconnectedFrame = (peerId: PeerId, reason: string, to: PeerId, networkName: string, ts: number): string =>
  frame({
    type: "peer-disconnected",
    data: { peerId, reason, timestamp: ts },
    fromPeerId: "system",
    timestamp: ts,
    targetPeerId: to,
    networkName
  })

/** An offer, answer or candidate as relayed: stamped with the sender's connection id and network. */
export const relayedFrame = (
  type: RelayType,
  data: unknown,
  from: PeerId,
  to: PeerId,
  networkName: string,
  ts: number
): string => frame({ type, data, fromPeerId: from, targetPeerId: to, networkName, timestamp: ts })
