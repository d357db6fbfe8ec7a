/**
 * The signaling registry's contract and its in-memory implementation: who is connected, in
 * which network, and how to reach them. It lives here, not in `server/`, because
 * `MemoryNetwork` (which browser bundles may include) uses it as its signaling hub; the
 * server's `Registry` service (server/Registry.ts) is a `Context.Service` over this shape.
 *
 * @since 2.0.0
 */
import { Effect, Schema, type Scope } from "effect"
import type { PeerId } from "../schema/PeerId.ts"
import type { JsonObject } from "../schema/Signaling.ts"
import { XorIndex } from "./xorIndex.ts"

/** How the registry reaches one connection. */
export interface PeerSink {
  /** Sends one text frame; silently dropped when the socket is no longer open. */
  readonly send: (frame: string) => void
  /**
   * Closes the connection. The registry calls it only when it has already dropped this
   * connection's registration (a verified announce took the peer id over, see `claim`):
   * the connection must not use the registration any more.
   */
  readonly close: (code: number, reason: string) => void
}

/** A peer that has announced itself in a network. */
export interface PeerRecord {
  readonly peerId: PeerId
  readonly networkName: string
  /** True when the server checked the peer's identity proof. */
  readonly verified: boolean
  /** Announce extras passed on in `peer-discovered` (never `verified` or `isHub`: the server sets those). */
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

/**
 * A shared registry backend (Redis) could not be reached in time, or has fenced this server
 * off (its lease is stale). The server closes the socket with 1013 (try again later) or
 * answers the frame with an error; nothing is silently lost.
 */
export class RegistryUnavailable extends Schema.TaggedError<RegistryUnavailable>()("RegistryUnavailable", {
  operation: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    return `Signaling store unavailable (${this.operation}); try again later`
  }
}

/** What a relay came to: handed to the target, no such peer in the network, or not deliverable (an error reply). */
export type RelayOutcome = "delivered" | "unknown" | "failed"

/**
 * What a delivered frame says about who knows whom, for a backend that keeps the "knows"
 * sets of remote peers on their own server: `meet` (the target now knows `about`), `intro`
 * (the same, and the frame is dropped when it already did), `gone` (the target forgets
 * `about`; the frame is dropped when it did not know it). The in-memory registry keeps both
 * sides itself and ignores it.
 */
export interface Knowledge {
  readonly kind: "meet" | "intro" | "gone"
  readonly about: PeerId
}

export interface Delivery {
  readonly to: PeerId
  readonly frame: string
  readonly note?: Knowledge | undefined
}

/** Figures of the whole deployment (several servers over one shared backend). */
export interface ClusterCounts {
  readonly servers: number
  readonly connections: number
  readonly peers: number
  readonly networks: Readonly<Record<string, number>>
}

export interface Counts {
  readonly connections: number
  readonly peers: number
  readonly networks: Readonly<Record<string, number>>
}

/** What leaving a network asks the server to send. */
export interface LeaveResult {
  /** Members that knew the leaver: each gets `peer-disconnected`. */
  readonly told: ReadonlyArray<PeerId>
  /** `to` gets `peer-discovered` about `about`: the leaver's ring neighbours meet. */
  readonly introductions: ReadonlyArray<{ readonly to: PeerId; readonly about: PeerRecord }>
}

/** The unverified holder a `claim` dropped, and what its leaving asks the server to send. */
export interface Displaced extends LeaveResult {
  /** The network it had announced in, if any. */
  readonly networkName: string | undefined
}

/**
 * The registry's operations (the server's `Registry` service has this shape). `U` is how a
 * backend may be unreachable: never for the in-memory one.
 */
export interface RegistryShape<U = RegistryUnavailable> {
  /** Registers a connection for the lifetime of the caller's Scope. */
  connect(peerId: PeerId, sink: PeerSink, maxConnections: number): Effect.Effect<void, RegistryError | U, Scope.Scope>
  /**
   * Registers a connection that has proved it owns `peerId` (a valid identity proof), for
   * the lifetime of the caller's Scope. An unverified holder of the id (one that has not
   * announced, or announced without a proof) is dropped: it leaves its network, its sink is
   * closed with 1008 and `reason`, and the result says whom to tell. Fails with
   * `already-connected` when a verified peer holds the id.
   */
  claim(
    peerId: PeerId,
    sink: PeerSink,
    maxConnections: number,
    reason: string
  ): Effect.Effect<Displaced | undefined, RegistryError | U, Scope.Scope>
  /**
   * Joins `record.networkName` (leaving any previous network first is the caller's job) and
   * picks whom the newcomer is told about: the `k` XOR-closest members plus `random` others.
   * Both sides of each pair are remembered as knowing each other.
   */
  announce(record: PeerRecord, k: number, random: number): Effect.Effect<ReadonlyArray<PeerRecord>, U>
  /**
   * Leaves the peer's network; returns the members that knew about it (to be told), and the
   * introductions that close the ring over the gap (its ring neighbours, told about each other).
   */
  leave(peerId: PeerId): Effect.Effect<LeaveResult, U>
  /** The announced record of a peer, if it is connected and announced. */
  lookup(peerId: PeerId): Effect.Effect<PeerRecord | undefined, U>
  /** Sends a frame to a connected peer; false when it is not connected. */
  deliver(peerId: PeerId, frame: string): Effect.Effect<boolean, U>
  /** Sends frames to peers wherever they are connected (one round trip for a shared backend). */
  deliverAll(deliveries: ReadonlyArray<Delivery>): Effect.Effect<void, U>
  /** Sends a relayed frame to `target` if it is announced in `networkName` (one lookup and delivery). */
  relay(networkName: string, target: PeerId, frame: string): Effect.Effect<RelayOutcome, U>
  /** This server's connections (synchronous for every backend: they are local). */
  readonly connections: Effect.Effect<ReadonlyArray<ConnectionRecord>>
  /** This server's figures (synchronous for every backend). */
  readonly counts: Effect.Effect<Counts>
  /** The whole deployment's figures; `undefined` for a backend that is this process alone. */
  readonly cluster: Effect.Effect<ClusterCounts | undefined, U>
  /** False while a shared backend is unreachable (then `/health` answers 503). */
  readonly healthy: Effect.Effect<boolean>
}

const nobody: LeaveResult = { told: [], introductions: [] }

/** Close code a displaced holder gets (policy violation: it held an id it could not prove). */
const CLOSE_POLICY = 1008

/** A connection this process holds, as a registry keeps it (the in-memory one, and Redis' local side). */
export interface LocalEntry {
  readonly peerId: PeerId
  readonly sink: PeerSink
  readonly connectedAt: number
  announced: PeerRecord | undefined
  /** True once the holder has proved the id (a verified `claim`, or a verified announce). */
  proven: boolean
  /** Peers this one was told about or who were told about it, in its current network. */
  knows: Set<PeerId>
}
type Entry = LocalEntry

interface Claimed {
  readonly entry: Entry
  /** The unverified holder it replaced, to be closed. */
  readonly holder: Entry | undefined
  readonly displaced: Displaced | undefined
}

/** An in-memory registry: the server's default, and `MemoryNetwork`'s signaling hub. */
export const makeMemoryRegistry = (): RegistryShape<never> => {
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

  const leaveEntry = (entry: Entry): LeaveResult => {
    if (entry.announced === undefined) return nobody
    const peerId = entry.peerId
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

  /** Releases a registration; only this very entry (a `claim` may have replaced it). */
  const release = (entry: Entry): Effect.Effect<void> =>
    Effect.sync(() => {
      if (entries.get(entry.peerId) !== entry) return
      leaveEntry(entry)
      entries.delete(entry.peerId)
    })

  const register = (peerId: PeerId, sink: PeerSink, proven: boolean): Entry => {
    const entry: Entry = { peerId, sink, connectedAt: Date.now(), announced: undefined, proven, knows: new Set() }
    entries.set(peerId, entry)
    return entry
  }

  return {
    connect: (peerId, sink, maxConnections) =>
      Effect.asVoid(Effect.acquireRelease(
        Effect.suspend(() => {
          if (entries.has(peerId)) return Effect.fail(new RegistryError({ reason: "already-connected", peerId }))
          if (entries.size >= maxConnections) return Effect.fail(new RegistryError({ reason: "capacity", peerId }))
          return Effect.succeed(register(peerId, sink, false))
        }),
        release
      )),
    claim: (peerId, sink, maxConnections, reason) =>
      Effect.acquireRelease(
        Effect.suspend((): Effect.Effect<Claimed, RegistryError> => {
          const holder = entries.get(peerId)
          if (holder === undefined) {
            if (entries.size >= maxConnections) return Effect.fail(new RegistryError({ reason: "capacity", peerId }))
            return Effect.succeed({ entry: register(peerId, sink, true), holder, displaced: undefined })
          }
          if (holder.proven || holder.announced?.verified === true) {
            return Effect.fail(new RegistryError({ reason: "already-connected", peerId }))
          }
          const networkName = holder.announced?.networkName
          const displaced: Displaced = { ...leaveEntry(holder), networkName }
          entries.delete(peerId)
          return Effect.succeed({ entry: register(peerId, sink, true), holder, displaced })
        }),
        ({ entry }) => release(entry)
      ).pipe(Effect.map(({ displaced, holder }) => {
        // closed once the id is no longer its own, so its own release finds nothing to undo
        holder?.sink.close(CLOSE_POLICY, reason)
        return displaced
      })),
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
        if (record.verified) entry.proven = true
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
    leave: (peerId) =>
      Effect.sync(() => {
        const entry = entries.get(peerId)
        return entry === undefined ? nobody : leaveEntry(entry)
      }),
    lookup: (peerId) => Effect.sync(() => entries.get(peerId)?.announced),
    deliver: (peerId, frame) =>
      Effect.sync(() => {
        const entry = entries.get(peerId)
        if (entry === undefined) return false
        entry.sink.send(frame)
        return true
      }),
    deliverAll: (deliveries) =>
      Effect.sync(() => {
        for (const { frame, to } of deliveries) entries.get(to)?.sink.send(frame)
      }),
    relay: (networkName, target, frame) =>
      Effect.sync(() => {
        const entry = entries.get(target)
        if (entry?.announced?.networkName !== networkName) return "unknown"
        entry.sink.send(frame)
        return "delivered"
      }),
    cluster: Effect.succeed(undefined),
    healthy: Effect.succeed(true),
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
  }
}
