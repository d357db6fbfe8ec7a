/**
 * The DHT's RPC plumbing over routed direct messages: sending requests and waiting for their
 * answers (`rpc`), the pending table with its from-check, and the bounded inbox.
 *
 * - An answer (`found`, `stored`, `watched`) counts only when it comes from the peer its
 *   request went to: every relay on the routed path sees the request id, and could otherwise
 *   answer first with forged nodes or a forged `stored ok`.
 * - The inbox hands requests to `maxConcurrentRpcs` workers through a queue of
 *   `inboxCapacity`; requests beyond it are dropped (their senders time out and retry).
 *   Answers are settled in the inbox loop itself. Both loops are supervised.
 *
 * @since 2.0.0
 */
import { Clock, Deferred, Effect, Exit, PubSub, Queue, Schema, Semaphore } from "effect"
import { deeperThan, MAX_CONTENT_DEPTH } from "../../internal/jsonLimits.ts"
import { makeNonce } from "../../internal/identityProof.ts"
import { contained, supervised } from "../../internal/supervise.ts"
import { DhtRpc } from "../../schema/DhtMessages.ts"
import type { PeerId } from "../../schema/PeerId.ts"
import type { DhtContext } from "./context.ts"

const decodeRpc = Schema.decodeUnknownExit(DhtRpc)

export type Answer = Extract<DhtRpc, { readonly op: "found" | "stored" | "watched" }>
export type Request = Exclude<DhtRpc, Answer>

export const isAnswer = (m: DhtRpc): m is Answer => m.op === "found" || m.op === "stored" || m.op === "watched"

/** An RPC awaiting its answer: the peer asked, and where the answer goes. */
export interface Pending {
  readonly to: PeerId
  readonly waiter: Deferred.Deferred<Answer>
}

/**
 * The pending RPC an answer from `from` settles: only the one whose request went to `from`
 * (an answer from anyone else with the same request id is ignored).
 */
export const pendingFor = (pending: ReadonlyMap<string, Pending>, from: PeerId, answer: Answer): Pending | undefined => {
  const p = pending.get(answer.rid)
  return p !== undefined && p.to === from ? p : undefined
}

/** Decodes a DHT message's content: undefined for anything malformed or nested too deep. */
export const decodeContent = (content: unknown): DhtRpc | undefined => {
  if (deeperThan(content, MAX_CONTENT_DEPTH + 4)) return undefined
  const decoded = decodeRpc(content)
  return Exit.isSuccess(decoded) ? decoded.value : undefined
}

export type Handler = (from: PeerId, message: Request) => Effect.Effect<DhtRpc | undefined>

export const makeNetwork = (ctx: DhtContext) => {
  const { options, router, self, stats } = ctx
  const pending = new Map<string, Pending>()
  /** Set once the handlers exist (they send RPCs themselves). */
  let local: Handler = () => Effect.undefined

  /** Notifications are acknowledged and retransmitted by the Router; requests and answers not. */
  const send = (to: PeerId, message: DhtRpc) => router.send(to, message, "dht", { ack: message.op === "notify" })
  const reply = (to: PeerId, message: DhtRpc) => send(to, message).pipe(Effect.ignore)

  /** Settles the pending RPC `answer` belongs to, when it came from the peer asked. */
  const settle = (from: PeerId, answer: Answer) => {
    const p = pendingFor(pending, from, answer)
    return p === undefined ? Effect.void : Deferred.succeed(p.waiter, answer).pipe(Effect.asVoid)
  }

  /**
   * Smoothed answer time of this peer's RPCs (an exponentially weighted mean, as TCP's
   * SRTT): a lookup lets a query hold its slot for twice that (at most half the RPC
   * timeout), so a departed peer delays the next query by a fraction of the timeout.
   */
  let smoothedRtt: number | undefined
  const stallTime = () =>
    Math.min(options.rpcTimeout / 2, Math.max(100, smoothedRtt === undefined ? options.rpcTimeout / 4 : 2 * smoothedRtt))

  /**
   * Sends a request and waits for its answer from `to`; `undefined` when none came. Requests
   * and answers travel unacknowledged (the answer is the acknowledgement): an unanswered
   * request is sent again, same id, after `rpcTimeout`, up to `attempts` times in all.
   */
  const rpc = Effect.fnUntraced(function*(to: PeerId, message: Request, attempts = 1) {
    if (to === self) {
      const answer = yield* local(self, message)
      return answer !== undefined && isAnswer(answer) ? answer : undefined
    }
    if (pending.size >= options.maxPendingRpcs) {
      stats.droppedRpcs++
      return undefined
    }
    const rid = "rid" in message ? message.rid : makeNonce()
    const waiter = yield* Deferred.make<Answer>()
    pending.set(rid, { to, waiter })
    const started = yield* Clock.currentTimeMillis
    let answer: Answer | undefined
    for (let attempt = 0; attempt < attempts && answer === undefined; attempt++) {
      stats.rpcsSent++
      const sent = yield* Effect.exit(send(to, message))
      if (Exit.isFailure(sent)) break
      answer = yield* Deferred.await(waiter).pipe(
        Effect.timeoutOrElse({ duration: options.rpcTimeout, orElse: () => Effect.succeed(undefined) })
      )
      if (answer === undefined) stats.rpcTimeouts++
    }
    pending.delete(rid)
    const ended = yield* Clock.currentTimeMillis
    if (answer === undefined) {
      ctx.unanswered(to, ended)
    } else {
      ctx.heardFrom(to, ended)
      const rtt = ended - started
      smoothedRtt = smoothedRtt === undefined ? rtt : 0.875 * smoothedRtt + 0.125 * rtt
    }
    return answer
  })

  /** Starts the inbox (in the caller's Scope): a supervised reader and `maxConcurrentRpcs` supervised workers. */
  const serve = Effect.fnUntraced(function*(handler: Handler) {
    local = handler
    const inbox = yield* router.subscribe
    const jobs = yield* Queue.dropping<{ readonly from: PeerId; readonly request: Request }>(options.inboxCapacity)
    const read = Effect.gen(function*() {
      while (true) {
        const m = yield* PubSub.take(inbox)
        if (m.kind !== "dht") continue
        const message = decodeContent(m.content)
        if (message === undefined) continue
        // a signed message from its origin: that peer exists (answers are checked against the peer asked)
        if (m.verified || ctx.mesh.allowUnverifiedPeers) ctx.heardFrom(m.origin, yield* Clock.currentTimeMillis)
        if (isAnswer(message)) {
          yield* settle(m.origin, message)
        } else if (!(yield* Queue.offer(jobs, { from: m.origin, request: message }))) {
          stats.droppedRpcs++
        }
      }
    })
    // one fiber per request being handled, at most `maxConcurrentRpcs` at once (an idle node
    // holds no worker fibers: 10,000 simulated nodes would otherwise hold 160,000)
    const permits = yield* Semaphore.make(Math.max(1, options.maxConcurrentRpcs))
    const scope = yield* Effect.scope
    const handle = (from: PeerId, request: Request) =>
      contained(
        "Dht.worker",
        Effect.gen(function*() {
          const answer = yield* handler(from, request)
          if (answer !== undefined) yield* reply(from, answer)
        })
      ).pipe(Effect.ensuring(permits.release(1)))
    const dispatch = Effect.gen(function*() {
      while (true) {
        yield* permits.take(1)
        const { from, request } = yield* Queue.take(jobs).pipe(Effect.onInterrupt(() => permits.release(1)))
        yield* Effect.forkIn(handle(from, request), scope)
      }
    })
    yield* Effect.forkScoped(supervised("Dht.inbox", read))
    yield* Effect.forkScoped(supervised("Dht.dispatch", dispatch))
  })

  return { send, reply, rpc, settle, serve, stallTime, pendingCount: () => pending.size }
}

export type Network = ReturnType<typeof makeNetwork>
