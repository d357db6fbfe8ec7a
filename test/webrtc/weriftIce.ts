/**
 * Reaching into werift's ICE for the restart tests. werift only gives ICE up when consent
 * (RFC 7675) has been missing for 30 s; `expireConsent` does at once what it does then: the
 * candidate pair may no longer carry data and the ICE transport turns "failed".
 */
import type { RTCPeerConnectionLike } from "../../src/layers/RtcPeerConnection.ts"

interface WeriftIce {
  readonly iceGeneration: number
  readonly iceTransports: ReadonlyArray<{
    readonly connection: { consentFresh: boolean; stopConsentLifecycle(): void; setState(state: string): void }
  }>
}

const werift = (pc: RTCPeerConnectionLike) => pc as unknown as WeriftIce

/** The connection's ICE goes down as on expired consent: no more data on its pair, ICE "failed". */
export const expireConsent = (pc: RTCPeerConnectionLike): void => {
  for (const { connection } of werift(pc).iceTransports) {
    connection.stopConsentLifecycle()
    connection.consentFresh = false
    connection.setState("failed")
  }
}

/** How many ICE restarts the connection has gone through (werift's own count). */
export const iceGeneration = (pc: RTCPeerConnectionLike): number => werift(pc).iceGeneration
