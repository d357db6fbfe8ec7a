/**
 * Who is connected to the signaling server, in which network, and how to reach them.
 *
 * The protocol code only talks to this contract, so a shared backend (several servers
 * sharing presence through Redis) can replace the in-memory layer without touching it.
 *
 * @since 2.0.0
 */
import { Context, Effect, Layer, Schema, type Scope } from "effect"
import { XorIndex } from "../internal/xorIndex.ts"
import type { PeerId } from "../schema/PeerId.ts"
import type { JsonObject } from "../schema/Signaling.ts"

/** How the registry reaches one connection. */
export interface PeerSink {
  /** Sends one text frame; silently dropped when the socket is no longer open. */
  readonly send: (frame: string) => void
  readonly close: (code: number, reason: string) => void
}

/** A peer that has announced itself in a network. */
export interface PeerRecord {
  readonly peerId: PeerId
  readonly networkName: string
  readonly verified: boolean
  /** Announce extras passed on in `peer-discovered`. */
  readonly data: JsonObject
  readonly announcedAt: number
}

export interface ConnectionRecord {
  readonly peerId: PeerId
  readonly connectedAt: number
  readonly announced: PeerRecord | undefined
}

export class RegistryError extends Schema.TaggedError<RegistryError>()("RegistryError", {
  reason: Schema.Literals(["already-connected", "capacity"]),
  peerId: Schema.String
}) {
  override get message(): string {
    return this.reason === "capacity" ? "Maximum connections reached" : "Peer already connected"
  }
}

export interface Counts {
  readonly connections: number
  readonly peers: number
  readonly networks: Readonly<Record<string, number>>
}

export class Registry extends Context.Service<Registry, {
  /** Registers a connection for the lifetime of the caller's Scope. */
  connect(peerId: PeerId, sink: PeerSink, maxConnections: number): Effect.Effect<void, RegistryError, Scope.Scope>
  /**
   * Joins `record.networkName` (leaving any previous network first is the caller's job) and
   * picks whom the newcomer is told about: the `k` XOR-closest members plus `random` others.
   * Both sides of each pair are remembered as knowing each other.
   */
  announce(record: PeerRecord, k: number, random: number): Effect.Effect<ReadonlyArray<PeerRecord>>
  /**
   * Leaves the peer's network; returns the members that knew about it (to be told), and the
   * introductions that close the ring over the gap (its ring neighbours, told about each other).
   */
  leave(peerId: PeerId): Effect.Effect<LeaveResult>
  /** The announced record of a peer, if it is connected and announced. */
  lookup(peerId: PeerId): Effect.Effect<PeerRecord | undefined>
  /** Sends a frame to a connected peer; false when it is not connected. */
  deliver(peerId: PeerId, frame: string): Effect.Effect<boolean>
  readonly connections: Effect.Effect<ReadonlyArray<ConnectionRecord>>
  readonly counts: Effect.Effect<Counts>
}>()("peerpigeon/server/Registry") {
  /** The embedded default: everything in this process's memory. */
  static readonly layerMemory: Layer.Layer<Registry> = Layer.sync(Registry, () => makeMemoryRegistry())
}

/** What leaving a network asks the server to send. */
export interface LeaveResult {
  /** Members that knew the leaver: each gets `peer-disconnected`. */
  readonly told: ReadonlyArray<PeerId>
  /** `to` gets `peer-discovered` about `about`: the leaver's ring neighbours meet. */
  readonly introductions: ReadonlyArray<{ readonly to: PeerId; readonly about: PeerRecord }>
}

const nobody: LeaveResult = { told: [], introductions: [] }

interface Entry {
  readonly peerId: PeerId
  readonly sink: PeerSink
  readonly connectedAt: number
  announced: PeerRecord | undefined
  /** Peers this one was told about or who were told about it, in its current network. */
  knows: Set<PeerId>
}

/** An in-memory registry, also used by `MemoryNetwork` as its signaling hub. */
export const makeMemoryRegistry = () => {
  const entries = new Map<PeerId, Entry>()
  const networks = new Map<string, XorIndex<PeerId>>()

  /** Makes `a` and `b` know each other; the introductions to send (none when they already did). */
  const introduce = (a: PeerId, b: PeerId): LeaveResult["introductions"] => {
    const ea = entries.get(a)
    const eb = entries.get(b)
    if (a === b || ea?.announced === undefined || eb?.announced === undefined || ea.knows.has(b)) return []
    ea.knows.add(b)
    eb.knows.add(a)
    return [{ to: a, about: eb.announced }, { to: b, about: ea.announced }]
  }

  const leaveSync = (peerId: PeerId): LeaveResult => {
    const entry = entries.get(peerId)
    if (entry === undefined || entry.announced === undefined) return nobody
    const index = networks.get(entry.announced.networkName)
    let introductions: LeaveResult["introductions"] = []
    if (index !== undefined) {
      index.remove(peerId)
      if (index.size === 0) networks.delete(entry.announced.networkName)
      // the ring closes over the gap: the leaver's neighbours become each other's
      const { pred, succ } = index.ringNeighbours(peerId)
      if (pred !== undefined && succ !== undefined) introductions = introduce(pred, succ)
    }
    const told: Array<PeerId> = []
    for (const other of entry.knows) {
      const o = entries.get(other)
      if (o !== undefined && o.knows.delete(peerId)) told.push(other)
    }
    entry.knows = new Set()
    entry.announced = undefined
    return { told, introductions }
  }

  /** Up to `n` uniformly random members not in `exclude` (which it extends). */
  const pickRandom = (index: XorIndex<PeerId>, exclude: Set<PeerId>, n: number): Array<PeerId> => {
    const out: Array<PeerId> = []
    const free = index.size - exclude.size
    if (n <= 0 || free <= 0) return out
    if (free <= n * 8) {
      // few left to choose from: sample the complement exactly
      const rest = index.values().filter((id) => !exclude.has(id))
      while (out.length < n && rest.length > 0) {
        const [id] = rest.splice(Math.floor(Math.random() * rest.length), 1)
        exclude.add(id!)
        out.push(id!)
      }
      return out
    }
    // many free members: rejection sampling (expected tries per pick: size / free)
    while (out.length < n) {
      const id = index.at(Math.floor(Math.random() * index.size))!
      if (!exclude.has(id)) {
        exclude.add(id)
        out.push(id)
      }
    }
    return out
  }

  return Registry.of({
    connect: (peerId, sink, maxConnections) =>
      Effect.acquireRelease(
        Effect.suspend(() => {
          if (entries.has(peerId)) return Effect.fail(new RegistryError({ reason: "already-connected", peerId }))
          if (entries.size >= maxConnections) return Effect.fail(new RegistryError({ reason: "capacity", peerId }))
          entries.set(peerId, { peerId, sink, connectedAt: Date.now(), announced: undefined, knows: new Set() })
          return Effect.void
        }),
        () =>
          Effect.sync(() => {
            leaveSync(peerId)
            entries.delete(peerId)
          })
      ),
    announce: (record, k, random) =>
      Effect.sync(() => {
        const entry = entries.get(record.peerId)
        if (entry === undefined) return []
        let index = networks.get(record.networkName)
        if (index === undefined) {
          index = new XorIndex<PeerId>()
          networks.set(record.networkName, index)
        }
        index.add(record.peerId)
        const chosen = new Set(index.closest(record.peerId, k))
        // and its ring neighbours, whose links keep the mesh connected (see internal/ring.ts)
        const { pred, succ } = index.ringNeighbours(record.peerId)
        if (pred !== undefined) chosen.add(pred)
        if (succ !== undefined) chosen.add(succ)
        chosen.add(record.peerId) // excluded from the random picks
        for (const id of pickRandom(index, chosen, random)) chosen.add(id)
        chosen.delete(record.peerId)
        entry.announced = record
        const out: Array<PeerRecord> = []
        for (const id of chosen) {
          const other = entries.get(id)
          if (other?.announced === undefined) continue
          entry.knows.add(id)
          other.knows.add(record.peerId)
          out.push(other.announced)
        }
        return out
      }),
    leave: (peerId) => Effect.sync(() => leaveSync(peerId)),
    lookup: (peerId) => Effect.sync(() => entries.get(peerId)?.announced),
    deliver: (peerId, frame) =>
      Effect.sync(() => {
        const entry = entries.get(peerId)
        if (entry === undefined) return false
        entry.sink.send(frame)
        return true
      }),
    connections: Effect.sync(() =>
      [...entries.values()].map((e) => ({ peerId: e.peerId, connectedAt: e.connectedAt, announced: e.announced }))
    ),
    counts: Effect.sync(() => {
      let peers = 0
      const perNetwork: Record<string, number> = {}
      for (const [name, index] of networks) {
        perNetwork[name] = index.size
        peers += index.size
      }
      return { connections: entries.size, peers, networks: perNetwork }
    })
  })
}
