/**
 * An in-process network for tests and large simulations: a signaling hub (the same bounded
 * XOR discovery as the real server, through the server's in-memory `Registry`) and a
 * `PeerTransport` whose links are queues with latency, random loss and partitions.
 *
 * Create one `MemoryNetwork` per test; each node takes `network.layer` for its transport
 * and signaling.
 *
 * @since 2.0.0
 */
import { Clock, Deferred, Effect, Exit, Layer, PubSub, Queue, Scope } from "effect"
import type { PeerId } from "../schema/PeerId.ts"
import { makeMemoryRegistry } from "../internal/registry.ts"
import { Identity } from "../services/Identity.ts"
import { MeshConfig } from "../services/MeshConfig.ts"
import { type Link, LinkError, type LinkMessage, PeerTransport } from "../services/PeerTransport.ts"
import { Signaling, SignalingError, type SignalingEvent } from "../services/Signaling.ts"

export interface MemoryNetworkOptions {
  /** One-way delay of every link message, in ms. Default 0. */
  readonly latencyMs?: number
  /** Probability that a link message is dropped, 0-1. Default 0. */
  readonly loss?: number
  /** How many XOR-closest peers the hub tells a newcomer about. Default 8. */
  readonly discoveryK?: number
  /** Random extra peers a newcomer is told about. Default 2. */
  readonly discoveryRandom?: number
  /** Random source for loss (default Math.random). */
  readonly random?: () => number
  /**
   * Messages a link's receiver may hold unread. When its inbox is full, delivery waits (the
   * sender's `pending` grows), so a peer that floods a receiver which does not keep up cannot
   * grow the receiver's memory without limit. Default 4096.
   */
  readonly inboxCapacity?: number
  /**
   * Count the messages sent by kind (`stats.byKind`: the frame's `t`, and its `kind` when it
   * has one, e.g. `gossip:presence`, `direct:route`, `ihave`; `binary` for bytes). For tests
   * and benchmarks of control traffic. Default false.
   */
  readonly countKinds?: boolean
}

/** The kind a link message is counted under (see `countKinds`). */
export const kindOf = (message: LinkMessage): string => {
  if (typeof message !== "string") return "binary"
  const head = message.slice(0, 200)
  const t = /"t":"([a-z-]+)"/.exec(head)?.[1] ?? "other"
  const kind = /"kind":"([a-z0-9-]+)"/.exec(head)?.[1]
  return kind === undefined ? t : `${t}:${kind}`
}

interface Endpoint {
  readonly inbox: Queue.Queue<LinkMessage, import("effect").Cause.Done>
  readonly closed: Deferred.Deferred<string>
}

interface Pending {
  readonly id: string
  readonly from: PeerId
  readonly to: PeerId
  readonly initiator: Endpoint
  readonly accepted: Deferred.Deferred<Endpoint, string>
}

/** Counters of what crossed the network. */
export interface MemoryNetworkStats {
  sent: number
  delivered: number
  dropped: number
  linksOpened: number
  /** Messages sent per kind, when `countKinds` is on. */
  readonly byKind: Map<string, number>
}

export class MemoryNetwork {
  readonly options: Required<Omit<MemoryNetworkOptions, "random">> & { readonly random: () => number }
  readonly stats: MemoryNetworkStats = { sent: 0, delivered: 0, dropped: 0, linksOpened: 0, byKind: new Map() }
  readonly #registry = makeMemoryRegistry()
  readonly #pending = new Map<string, Pending>()
  /** Partition group per peer; peers in different groups cannot link. */
  #groups = new Map<PeerId, number>()
  readonly #links = new Set<{ a: PeerId; b: PeerId; close: (reason: string) => Effect.Effect<void> }>()
  #nextId = 0

  constructor(options: MemoryNetworkOptions = {}) {
    this.options = {
      latencyMs: options.latencyMs ?? 0,
      loss: options.loss ?? 0,
      discoveryK: options.discoveryK ?? 8,
      discoveryRandom: options.discoveryRandom ?? 2,
      random: options.random ?? Math.random,
      inboxCapacity: Math.max(1, options.inboxCapacity ?? 4096),
      countKinds: options.countKinds ?? false
    }
  }

  /** Splits the network: each group reaches only itself; links across groups close now. */
  partition(groups: ReadonlyArray<ReadonlyArray<PeerId>>): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.#groups = new Map(groups.flatMap((g, i) => g.map((id) => [id, i] as const)))
      const cut = [...this.#links].filter((l) => !this.reachable(l.a, l.b))
      return Effect.forEach(cut, (l) => l.close("partition"), { discard: true })
    })
  }

  /** Ends every partition. */
  heal(): void {
    this.#groups = new Map()
  }

  reachable(a: PeerId, b: PeerId): boolean {
    return (this.#groups.get(a) ?? -1) === (this.#groups.get(b) ?? -1)
  }

  /** Transport and signaling for one node of this network. */
  get layer(): Layer.Layer<PeerTransport | Signaling, never, Identity | MeshConfig> {
    return Layer.mergeAll(this.#transportLayer, this.#signalingLayer)
  }

  get #endpoint(): Effect.Effect<Endpoint> {
    const capacity = this.options.inboxCapacity
    return Effect.gen(function*() {
      return {
        inbox: yield* Queue.bounded<LinkMessage, import("effect").Cause.Done>(capacity),
        closed: yield* Deferred.make<string>()
      }
    })
  }

  /** Wires two endpoints into a link seen from `local`. */
  #link(local: PeerId, remote: PeerId, mine: Endpoint, theirs: Endpoint): Effect.Effect<Link, never, Scope.Scope> {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the generator functions below (Effect.gen) cannot capture `this` lexically
    const network = this
    return Effect.gen(function*() {
      const outbox = yield* Queue.unbounded<{ readonly at: number; readonly text: LinkMessage }>()
      const close = (reason: string) =>
        Effect.gen(function*() {
          yield* Deferred.succeed(mine.closed, reason)
          yield* Deferred.succeed(theirs.closed, reason)
          yield* Queue.end(mine.inbox)
          yield* Queue.end(theirs.inbox)
        })
      const handle = { a: local, b: remote, close }
      network.#links.add(handle)
      // ordered delivery with latency: each message waits until its own due time, and until
      // the receiver's inbox has room (back-pressure: the messages wait here, in `pending`)
      let held = 0 // the message the delivery fiber holds (waiting for its time or for room)
      yield* Effect.gen(function*() {
        while (true) {
          const { at, text } = yield* Queue.take(outbox)
          held = 1
          const now = yield* Clock.currentTimeMillis
          if (at > now) yield* Effect.sleep(at - now)
          if (!(yield* Deferred.isDone(theirs.closed))) {
            network.stats.delivered++
            yield* Queue.offer(theirs.inbox, text)
          }
          held = 0
        }
      }).pipe(Effect.forkScoped)
      yield* Effect.addFinalizer(() =>
        Effect.andThen(
          Effect.sync(() => network.#links.delete(handle)),
          close("closed")
        )
      )
      return {
        remote,
        send: (message: LinkMessage) =>
          Effect.gen(function*() {
            if (yield* Deferred.isDone(mine.closed)) {
              return yield* new LinkError({ peerId: remote, reason: "closed", message: "link closed" })
            }
            network.stats.sent++
            if (network.options.countKinds) {
              const kind = kindOf(message)
              network.stats.byKind.set(kind, (network.stats.byKind.get(kind) ?? 0) + 1)
            }
            if (network.options.loss > 0 && network.options.random() < network.options.loss) {
              network.stats.dropped++
              return
            }
            const now = yield* Clock.currentTimeMillis
            // bytes are copied, as a real channel would: the sender may reuse its buffer
            const text = typeof message === "string" ? message : message.slice()
            yield* Queue.offer(outbox, { at: now + network.options.latencyMs, text })
          }),
        messages: mine.inbox,
        closed: Deferred.await(mine.closed),
        close,
        pending: Effect.sync(() => Queue.sizeUnsafe(outbox) + held)
      } satisfies Link
    })
  }

  get #transportLayer(): Layer.Layer<PeerTransport, never, Identity> {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the generator functions below (Effect.gen) cannot capture `this` lexically
    const network = this
    return Layer.effect(
      PeerTransport,
      Effect.gen(function*() {
        const identity = yield* Identity
        const self = identity.peerId
        const fail = (remote: PeerId, reason: "timeout" | "setup-failed", message: string) =>
          new LinkError({ peerId: remote, reason, message })
        return PeerTransport.of({
          kind: "memory",
          open: (remote, { initiator, signals, timeoutMs }) =>
            Effect.gen(function*() {
              const mine = yield* network.#endpoint
              if (initiator) {
                const id = `m${network.#nextId++}`
                const pending: Pending = { id, from: self, to: remote, initiator: mine, accepted: yield* Deferred.make<Endpoint, string>() }
                network.#pending.set(id, pending)
                yield* Effect.addFinalizer(() => Effect.sync(() => network.#pending.delete(id)))
                yield* signals.send({ kind: "offer", data: { memory: id } })
                const theirs = yield* Deferred.await(pending.accepted).pipe(
                  Effect.mapError((why) => fail(remote, "setup-failed", why))
                )
                network.#pending.delete(id)
                network.stats.linksOpened++
                return yield* network.#link(self, remote, mine, theirs)
              }
              while (true) {
                const signal = yield* Queue.take(signals.incoming)
                if (signal.kind !== "offer" || signal.data === null) continue
                const offerId = signal.data["memory"]
                const pending = typeof offerId === "string" ? network.#pending.get(offerId) : undefined
                if (pending === undefined || pending.to !== self || pending.from !== remote) {
                  return yield* fail(remote, "setup-failed", "no such offer")
                }
                if (!network.reachable(self, remote)) {
                  yield* Deferred.fail(pending.accepted, "unreachable")
                  return yield* fail(remote, "setup-failed", "unreachable")
                }
                yield* Deferred.succeed(pending.accepted, mine)
                yield* signals.send({ kind: "answer", data: { memory: pending.id } })
                return yield* network.#link(self, remote, mine, pending.initiator)
              }
            }).pipe(
              Effect.timeoutOrElse({ duration: timeoutMs, orElse: () => Effect.fail(fail(remote, "timeout", "link setup timed out")) })
            )
        })
      })
    )
  }

  get #signalingLayer(): Layer.Layer<Signaling, never, Identity | MeshConfig> {
    const registry = this.#registry
    const options = this.options
    return Layer.effect(
      Signaling,
      Effect.gen(function*() {
        const identity = yield* Identity
        const config = yield* MeshConfig
        const self = identity.peerId
        const events = yield* Effect.acquireRelease(PubSub.unbounded<SignalingEvent>(), PubSub.shutdown)
        const layerScope = yield* Effect.scope
        let session: Scope.Closeable | undefined
        const publish = (event: SignalingEvent) => PubSub.publishUnsafe(events, event)
        const deliver = (to: PeerId, event: SignalingEvent) => registry.deliver(to, JSON.stringify(event))

        const disconnect = Effect.gen(function*() {
          const s = session
          if (s === undefined) return
          session = undefined
          yield* Scope.close(s, Exit.void)
          publish({ _tag: "Disconnected", reason: "disconnect", willReconnect: false })
        })
        yield* Effect.addFinalizer(() => disconnect)

        return Signaling.of({
          connect: () =>
            Effect.gen(function*() {
              if (session !== undefined) return
              const scope = yield* Scope.fork(layerScope)
              yield* registry.connect(self, {
                send: (frame) => publish(JSON.parse(frame) as SignalingEvent),
                close: () => undefined
              }, Number.MAX_SAFE_INTEGER).pipe(
                Scope.provide(scope),
                Effect.mapError((e) => new SignalingError({ reason: "refused", message: e.message }))
              )
              // leaving tells the peers that knew us
              yield* Scope.addFinalizer(scope, Effect.gen(function*() {
                const { introductions, told } = yield* registry.leave(self)
                yield* Effect.forEach(told, (to) => deliver(to, { _tag: "PeerLeft", peerId: self, reason: "disconnected" }), { discard: true })
                yield* Effect.forEach(introductions, ({ about, to }) =>
                  deliver(to, { _tag: "PeerDiscovered", peerId: about.peerId, verified: about.verified, data: about.data }), { discard: true })
              }))
              session = scope
              const now = yield* Clock.currentTimeMillis
              // like the real server: the announce carries the public key of a verified peer
              const data = identity.verified ? { publicKey: identity.publicKey } : {}
              const chosen = yield* registry.announce(
                { peerId: self, networkName: config.networkName, verified: identity.verified, data, announcedAt: now },
                options.discoveryK,
                options.discoveryRandom
              )
              publish({ _tag: "Connected" })
              for (const other of chosen) {
                publish({ _tag: "PeerDiscovered", peerId: other.peerId, verified: other.verified, data: other.data })
                yield* deliver(other.peerId, { _tag: "PeerDiscovered", peerId: self, verified: identity.verified, data })
              }
            }),
          disconnect,
          send: (to, signal) =>
            Effect.gen(function*() {
              if (session === undefined) return yield* new SignalingError({ reason: "not-connected", message: "not connected" })
              const target = yield* registry.lookup(to)
              if (target === undefined || target.networkName !== config.networkName) {
                // as the real server answers
                return publish({ _tag: "ServerError", message: `Unknown peer ${to} in network ${config.networkName}`, code: "unknown-peer", peerId: to })
              }
              yield* deliver(to, { _tag: "Signal", from: self, signal })
            }),
          isConnected: Effect.sync(() => session !== undefined),
          subscribe: PubSub.subscribe(events)
        })
      })
    )
  }
}
