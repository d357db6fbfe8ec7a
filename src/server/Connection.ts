/**
 * One signaling connection's state, from the accepted upgrade to its close, and the few
 * things every part of the protocol does with it: send, reply with an `error`, report a
 * defect. The protocol steps live next to it: admission and release (Admission.ts), the
 * frame pipeline (Inbound.ts), announce and identity (Announce.ts), relaying (Relay.ts),
 * leaving a network (Membership.ts).
 *
 * Memory is what limits how many idle peers one server holds, so a connection is one small
 * object: frames arrive through module-level `ws` listeners (SignalingSocket.ts; no closures,
 * fiber or generator per connection), and only the steps that touch the `Registry` run as
 * Effects, each as a short fiber with the server's context.
 *
 * @since 2.0.0
 */
import { Cause, type Fiber, Scope } from "effect"
import type { PeerSink } from "../internal/registry.ts"
import { makeNonce } from "../internal/identityProof.ts"
import { TokenBucket } from "../internal/tokenBucket.ts"
import type { PeerId } from "../schema/PeerId.ts"
import type { Hub } from "./Hub.ts"
import { errorFrame, type ServerErrorCode } from "./ServerFrames.ts"
import type { SignalingWebSocket } from "./SignalingSocket.ts"

/** A live socket as the keepalive sweeper and shutdown see it. */
export interface LiveConnection {
  readonly peerId: PeerId
  readonly ws: SignalingWebSocket
  lastSeen: number
  /** Why the server is closing it, when the server is the one closing. */
  closing: string | undefined
}

export const CLOSE_POLICY = 1008
export const CLOSE_INTERNAL = 1011
/** Try again later: the shared signaling store is unreachable. */
export const CLOSE_TRY_AGAIN = 1013
export const OPEN = 1

/** All a connection holds; also the registry's way to reach it. */
export class Connection implements LiveConnection, PeerSink {
  readonly hub: Hub
  readonly peerId: PeerId
  readonly ws: SignalingWebSocket
  /** The remote address it counts against for `maxConnectionsPerIp`. */
  readonly address: string
  lastSeen: number
  closing: string | undefined = undefined
  /** The network it announced in. */
  network: string | undefined = undefined
  readonly nonce: string
  readonly bucket: TokenBucket
  /** Refused frames drain it; a sender that keeps flooding empties it and is closed. */
  readonly abuse: TokenBucket
  /** Announces only; made at the first announce. */
  announces: TokenBucket | undefined = undefined
  refused = 0
  /** Holds the registry membership; closed when the connection ends. */
  readonly scope: Scope.Closeable
  /** Greeted: admission is done and frames are handled. */
  admitted = false
  /**
   * Holds the registry's entry for its peer id. False for a contender (admitted while an
   * unverified connection held the id: it can only win it with a proven announce) and for
   * a holder whose id a proven announce took over.
   */
  registered = false
  /** `peerConnected` was reported, so `peerDisconnected` will be. */
  reported = false
  /** When it last started waiting to announce (greeting or goodbye); see `Hub.pending`. */
  waitingSince: number
  done = false
  /** The WebSocket close code, once closed (for `peerDisconnected`). */
  closeCode: number | undefined = undefined
  /** The step still running, while one waits; later frames queue behind it. */
  inflight: Fiber.Fiber<void> | undefined = undefined
  queue: Array<string> | undefined = undefined

  constructor(hub: Hub, peerId: PeerId, ws: SignalingWebSocket, address: string, now: number) {
    this.hub = hub
    this.peerId = peerId
    this.ws = ws
    this.address = address
    this.lastSeen = now
    this.waitingSince = now
    this.nonce = makeNonce()
    this.bucket = new TokenBucket(hub.config.rateLimit, now)
    this.abuse = new TokenBucket({ perSecond: hub.config.rateLimit.perSecond, burst: hub.config.rateLimitCloseAfter }, now)
    this.scope = Scope.makeUnsafe()
  }

  send(text: string): void {
    if (this.ws.readyState === OPEN) this.ws.send(text)
  }

  /** The registry dropped this connection's registration (see `PeerSink.close`): it stops using it, and closes. */
  close(code: number, reason: string): void {
    this.registered = false
    this.network = undefined
    this.closing ??= "displaced"
    this.ws.close(code, reason)
  }

  /** The shared store is unreachable: closes with 1013 so the client comes back later (elsewhere). */
  unavailable(): void {
    this.closing ??= "unavailable"
    this.queue = undefined
    this.ws.close(CLOSE_TRY_AGAIN, "Signaling store unavailable; try again later")
  }

  /** Closes the socket with 1008 for a protocol or policy reason; `why` is what hooks see. */
  refuse(reason: string, why: string): void {
    this.closing ??= why
    this.queue = undefined
    this.ws.close(CLOSE_POLICY, reason)
  }
}

export const replyError = (c: Connection, code: ServerErrorCode, error: string, ts: number): void => {
  c.hub.stats.errorsSent++
  c.send(errorFrame(code, error, ts))
}

/** A defect in a step (a throwing hook, a broken backend): reported, and the socket closed. */
export const report = (c: Connection, cause: Cause.Cause<unknown>): void => {
  if (Cause.hasInterruptsOnly(cause)) return
  reportError(c, Cause.squash(cause))
}

export const reportError = (c: Connection, error: unknown): void => {
  try {
    c.hub.hooks.error?.({ peerId: c.peerId, error: error instanceof Error ? error : new Error(String(error)) })
  } catch {
    // a throwing error hook has nowhere left to go
  }
  if (c.ws.readyState <= OPEN) {
    c.closing ??= "internal-error"
    c.ws.close(CLOSE_INTERNAL, "Internal error")
  }
}

/** Starts (again) the wait for an announce: `announceTimeout` from now, unless it announces. */
export const awaitAnnounce = (c: Connection, now: number): void => {
  const pending = c.hub.pending
  pending.delete(c) // re-added last: the set stays in deadline order
  c.waitingSince = now
  pending.add(c)
}
