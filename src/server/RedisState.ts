/**
 * What one server of a Redis deployment keeps in its own memory: its connections, whom each
 * knows (local or on other servers), its server id, the epoch of Redis's data it registered
 * under, and when its lease was last renewed. Also the inbox: frames other servers publish
 * to `pp:to:<id>` are handed to the local sockets here, applying who-knows-whom notes.
 *
 * Inbox payloads are lines: their number in the inbox (see `inbox` in RedisLua.ts), then
 * `f` and 4 lines per frame (target, note kind `m`/`i`/`g`/`-`,
 * the peer the note is about, the frame: JSON has no raw newline); or `d`, a peer id and a
 * reason (a proven announce elsewhere took the id over from this server's unverified holder);
 * or `p`, the lease renewal's probe.
 *
 * @since 2.0.0
 */
import { randomBytes } from "node:crypto"
import type { Delivery, LocalEntry, PeerRecord } from "../internal/registry.ts"
import type { PeerId } from "../schema/PeerId.ts"
import type { JsonObject } from "../schema/Signaling.ts"
import { disconnectedFrame } from "./ServerFrames.ts"

export type Local = LocalEntry

/** A fresh random id (a server id per start, an epoch candidate). */
export const randomToken = (): string => randomBytes(16).toString("hex")

export const noteCode = { meet: "m", intro: "i", gone: "g" } as const

/** One inbox item: target, note, about, frame. */
export const inboxItem = (d: Delivery): string =>
  `${d.to}\n${d.note === undefined ? "-" : noteCode[d.note.kind]}\n${d.note?.about ?? ""}\n${d.frame}`

/** Record JSON as stored in `pp:{net}:rec`. */
export const encodeRecord = (r: PeerRecord, server: string): string =>
  JSON.stringify({ s: server, v: r.verified, d: r.data, a: r.announcedAt })

export const decodeRecord = (peerId: string, networkName: string, json: string): PeerRecord => {
  const r = JSON.parse(json) as { v: boolean; d: JsonObject; a: number }
  return { peerId: peerId as PeerId, networkName, verified: r.v, data: r.d, announcedAt: r.a }
}

export class RedisState {
  readonly locals = new Map<PeerId, Local>()
  serverId = randomToken()
  /** The epoch this server's registrations were made under. */
  epoch: string | undefined = undefined
  lastRenewal = 0
  /** Cut off from Redis longer than the lease allows: every socket was closed, nothing is served. */
  fenced = false
  /** A graceful stop dropped the lease and this server's peers: releases after it have nothing left to undo. */
  stopped = false
  /** Inbox messages, for tests and /stats. */
  inboxMessages = 0
  /** The number of the last inbox message; undefined when unknown (Redis lost its data). A new server id starts at 0. */
  inboxSeq: number | undefined = 0
  /** Times inbox messages were found lost (a gap in their numbers). */
  inboxGaps = 0

  /** Takes an inbox message's number; returns how many messages before it never came. */
  inboxGap(n: number): number {
    const last = this.inboxSeq
    this.inboxSeq = n
    // a lower number: Redis started over (restarted empty), nothing to compare with
    if (last === undefined || n <= last + 1) return 0
    this.inboxGaps++
    return n - last - 1
  }

  /** Delivers to a local peer, applying the note; false when the note says to drop it (or no such peer). */
  deliverLocal(to: PeerId, kind: string, about: string, frame: string): boolean {
    const entry = this.locals.get(to)
    if (entry === undefined) return false
    const other = about as PeerId
    if (kind === "m") entry.knows.add(other)
    else if (kind === "i") {
      if (entry.knows.has(other)) return false
      entry.knows.add(other)
    } else if (kind === "g" && !entry.knows.delete(other)) return false
    entry.sink.send(frame)
    return true
  }

  /** Handles one inbox message; returns deliveries it asks for (the "told" of a displaced holder). */
  onInbox(message: string): ReadonlyArray<Delivery> {
    this.inboxMessages++
    const lines = message.split("\n")
    if (lines[1] === "f") {
      for (let i = 2; i + 3 < lines.length; i += 4) {
        this.deliverLocal(lines[i] as PeerId, lines[i + 1]!, lines[i + 2]!, lines[i + 3]!)
      }
      return []
    }
    if (lines[1] === "d") return this.displace(lines[2] as PeerId, lines[3] ?? "")
    return []
  }

  /** A proven announce on another server took this id over: the unverified holder is closed, its contacts told. */
  displace(peerId: PeerId, reason: string): ReadonlyArray<Delivery> {
    const entry = this.locals.get(peerId)
    if (entry === undefined || entry.proven) return []
    this.locals.delete(peerId)
    const network = entry.announced?.networkName
    const told = network === undefined ? [] : this.told(entry, "displaced", network)
    entry.sink.close(1008, reason)
    return told
  }

  /** `peer-disconnected` for everyone `entry` knew (each drops it unless it still knew `entry`). */
  told(entry: Local, reason: string, network: string): Array<Delivery> {
    const ts = Date.now()
    const out: Array<Delivery> = []
    for (const other of entry.knows) {
      out.push({ to: other, frame: disconnectedFrame(entry.peerId, reason, other, network, ts), note: { kind: "gone", about: entry.peerId } })
    }
    entry.knows = new Set()
    return out
  }

  /**
   * The peers of dead servers were removed from Redis: local peers that knew them are told.
   * Walks what each local peer knows (a few dozen ids), not the removed list per peer: a dead
   * server can leave thousands of ids, and this runs on every server at once.
   */
  forget(removed: ReadonlyArray<readonly [string, PeerId]>): number {
    if (removed.length === 0) return 0
    const gone = new Map<string, string>()
    for (const [network, id] of removed) gone.set(id, network)
    const ts = Date.now()
    let sent = 0
    for (const entry of this.locals.values()) {
      for (const id of entry.knows) {
        const network = gone.get(id)
        if (network === undefined) continue
        entry.knows.delete(id)
        entry.sink.send(disconnectedFrame(id, "server-lost", entry.peerId, network, ts))
        sent++
      }
    }
    return sent
  }

  /** Fencing: every local connection is closed with 1013 and forgotten (its release finds nothing to undo). */
  closeAll(reason: string): number {
    const all = [...this.locals.values()]
    this.locals.clear()
    for (const entry of all) entry.sink.close(1013, reason)
    return all.length
  }
}
