/**
 * IPC between bench/compare.ts (the orchestrator) and its peer children
 * (bench/compare-peer.ts, one mesh peer per process, ours or PeerPigeon 1.1.3's), and the
 * payload both systems carry, so that one parser reads what either delivered.
 *
 * Requests go through `Rpc` / `serveRequests` of bench/server-ipc.ts (id + reply, timeout per call).
 */

/** Which implementation a child runs. */
export type System = "ours" | "theirs"

export type PeerRequest =
  /** new mesh: init, then connect to `url`; replies `Started` */
  | {
    readonly id: number
    readonly cmd: "start"
    readonly url: string
    readonly networkName: string
    readonly maxPeers: number
    readonly minPeers: number
  }
  /** replies `PeerState` */
  | { readonly id: number; readonly cmd: "state" }
  /** one broadcast carrying `payload("b", seq)`; replies true, or throws what the library threw */
  | { readonly id: number; readonly cmd: "broadcast"; readonly seq: number }
  /** one direct message to `to` carrying `payload("d", seq)` */
  | { readonly id: number; readonly cmd: "direct"; readonly to: string; readonly seq: number }
  /**
   * replies the `Delivery` records of the current mesh from index `since` on; nothing is
   * forgotten, so a reply lost to a timeout is read again by the next `take`
   */
  | { readonly id: number; readonly cmd: "take"; readonly since: number }
  /** replies `MemoryReading` (after a full GC where the child has --expose-gc) */
  | { readonly id: number; readonly cmd: "memory" }
  /** disconnects the mesh (bounded), keeps the process for the next `start` */
  | { readonly id: number; readonly cmd: "stop" }

export interface Started {
  readonly peerId: string
  /** RSS of this process just before the mesh was created, bytes */
  readonly rssBefore: number
  /** init() + connect() in ms */
  readonly startMs: number
}

export interface PeerState {
  readonly peerId: string
  /** ids of the peers this one has an open link to */
  readonly connected: ReadonlyArray<string>
}

/** One application message received by a child. */
export interface Delivery {
  readonly kind: "b" | "d"
  readonly seq: number
  /** sender as the library reported it */
  readonly from: string
  /** wall-clock ms (performance.timeOrigin + now) when it was sent and when it arrived */
  readonly sentAt: number
  readonly at: number
}

export interface MemoryReading {
  readonly rss: number
  readonly heapUsed: number
}

/** Wall-clock milliseconds with sub-ms resolution (comparable across processes of one machine). */
export const nowMs = (): number => performance.timeOrigin + performance.now()

const PREFIX = "ppbench"

/**
 * The content of every bench message: a string, because 1.1.3 drops a broadcast whose
 * content is not a non-empty string (GossipManager: "Ignoring gossip chat message with
 * invalid content").
 */
export const payload = (kind: "b" | "d", seq: number, sentAt: number = nowMs()): string => `${PREFIX}|${kind}|${seq}|${sentAt}`

/** Parses `payload`'s output; undefined for anything else (other traffic, a mangled copy). */
export const parsePayload = (content: unknown): { readonly kind: "b" | "d"; readonly seq: number; readonly sentAt: number } | undefined => {
  if (typeof content !== "string" || content.length > 100) return undefined
  const [prefix, kind, seq, sentAt] = content.split("|")
  if (prefix !== PREFIX || (kind !== "b" && kind !== "d")) return undefined
  const s = Number(seq)
  const t = Number(sentAt)
  if (!Number.isInteger(s) || s < 0 || !Number.isFinite(t)) return undefined
  return { kind, seq: s, sentAt: t }
}
