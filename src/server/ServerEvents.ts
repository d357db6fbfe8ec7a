/**
 * What the server tells the outside world: lifecycle hooks (the facade turns them into
 * `on(event, fn)` events) and plain counters for `/stats` and `/metrics`.
 *
 * @since 2.0.0
 */
import { Context, Layer } from "effect"

export interface ServerHooksShape {
  readonly peerConnected?: (event: { readonly peerId: string; readonly totalConnections: number }) => void
  readonly peerDisconnected?: (event: {
    readonly peerId: string
    readonly reason: string
    /** The WebSocket close code (1000 normal, 1001 going away, 1006 lost, 1008 policy, 1013 try again). */
    readonly code: number
    readonly totalConnections: number
  }) => void
  readonly peerAnnounced?: (event: { readonly peerId: string; readonly networkName: string; readonly verified: boolean }) => void
  readonly peerGoodbye?: (event: { readonly peerId: string; readonly reason: string }) => void
  readonly error?: (event: { readonly peerId?: string; readonly error: Error }) => void
}

/** Lifecycle callbacks; none by default. */
export const ServerHooks = Context.Reference<ServerHooksShape>("peerpigeon/server/ServerHooks", {
  defaultValue: () => ({})
})

/** Monotonic counters since start. */
export interface StatsCounters {
  startedAt: number
  connectionsAccepted: number
  connectionsRejected: number
  messagesReceived: number
  messagesRelayed: number
  discoveriesSent: number
  disconnectsSent: number
  errorsSent: number
  rateLimited: number
  /** Connections dropped by the keepalive after `peerTimeout` of silence. */
  timeouts: number
  /** Connections closed for not announcing within `announceTimeout`. */
  announceTimeouts: number
  /** Unverified holders of a peer id closed because a verified announce took the id over. */
  takeovers: number
  identityVerified: number
  identityRejected: number
  /** Relays answered with `relay-failed` (target's server unreachable, or the store). */
  relayFailures: number
  /** Connections closed with 1013 because the shared store was unreachable. */
  unavailableClosed: number
}

export class ServerStats extends Context.Service<ServerStats, StatsCounters>()("peerpigeon/server/ServerStats") {
  static readonly layer = Layer.sync(ServerStats, (): StatsCounters => ({
    startedAt: Date.now(),
    connectionsAccepted: 0,
    connectionsRejected: 0,
    messagesReceived: 0,
    messagesRelayed: 0,
    discoveriesSent: 0,
    disconnectsSent: 0,
    errorsSent: 0,
    rateLimited: 0,
    timeouts: 0,
    announceTimeouts: 0,
    takeovers: 0,
    identityVerified: 0,
    identityRejected: 0,
    relayFailures: 0,
    unavailableClosed: 0
  }))
}
