/**
 * RTP totals of one connection from its `getStats()` report (browsers and werift name the
 * same fields; werift has no `framesDecoded`, so it stays 0 there).
 *
 * @since 2.0.0
 */
import type { MediaPeerConnectionLike, RtpTotals } from "../../services/Media.ts"

export type { RtpTotals }

const num = (u: unknown): number => (typeof u === "number" && Number.isFinite(u) ? u : 0)

/** Sums the report's outbound and inbound RTP entries; the round trip of the selected pair. */
export const totalsOf = (reports: Iterable<Record<string, unknown>>): RtpTotals => {
  const t = { bytesSent: 0, bytesReceived: 0, packetsSent: 0, packetsReceived: 0, packetsLost: 0, framesDecoded: 0, framesEncoded: 0 }
  let roundTripTime: number | undefined
  for (const r of reports) {
    if (r["type"] === "outbound-rtp") {
      t.bytesSent += num(r["bytesSent"])
      t.packetsSent += num(r["packetsSent"])
      t.framesEncoded += num(r["framesEncoded"])
    } else if (r["type"] === "inbound-rtp") {
      t.bytesReceived += num(r["bytesReceived"])
      t.packetsReceived += num(r["packetsReceived"])
      t.packetsLost += num(r["packetsLost"])
      t.framesDecoded += num(r["framesDecoded"])
    } else if (r["type"] === "candidate-pair" && (r["nominated"] === true || r["selected"] === true) && typeof r["currentRoundTripTime"] === "number") {
      roundTripTime = r["currentRoundTripTime"]
    }
  }
  return { ...t, roundTripTime }
}

/** The totals of `pc` now. */
export const collectStats = async (pc: MediaPeerConnectionLike): Promise<RtpTotals> => {
  const report = await pc.getStats()
  const all: Array<Record<string, unknown>> = []
  report.forEach((r) => all.push(r))
  return totalsOf(all)
}
