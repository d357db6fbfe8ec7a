/**
 * Keeping an open WebRTC link through a network change: ICE restarts.
 *
 * Once the link's data channel is open, its ICE state is watched. When ICE turns "failed", or
 * stays "disconnected" for `disconnectedGraceMs`, the initiator restarts ICE on the same
 * `RTCPeerConnection` (an offer with new ICE credentials through the pair's `SignalChannel`,
 * see `negotiation.ts`), up to `iceRestarts` times, each given `iceRestartTimeoutMs` to
 * reconnect. The data channel, its SCTP association and the `Link` stay as they are, so no new
 * handshake happens and messages sent meanwhile arrive once the path is back. Only the
 * initiator restarts (the responder answers), so the two sides never offer at once. When the
 * attempts run out the link closes with `"ice restart failed (ICE <state>, <n> attempts): <why>"`;
 * a responder whose initiator does not restart in time closes it with `"connection <state>,
 * not restarted within <ms> ms"`.
 *
 * With `iceRestarts: 0` a degraded link is given up as before: `"connection failed"` at once,
 * `"connection lost"` after the grace. The keepalive of `channel.ts` still closes a link that
 * has heard nothing for `deadAfterMs`, restart or not.
 *
 * @since 2.0.0
 */
import { Effect, Exit, Option } from "effect"
import type { RTCPeerConnectionLike } from "../RtcPeerConnection.ts"
import { endLinkOnDefect } from "./events.ts"

export interface IceRestartOptions {
  readonly initiator: boolean
  /** How long ICE may stay "disconnected" before it counts as degraded. */
  readonly disconnectedGraceMs: number
  /** Restarts tried for one degradation before the link is given up; 0 turns restarts off. */
  readonly iceRestarts: number
  /** How long one restart may take: offer, answer and the new ICE checks. */
  readonly iceRestartTimeoutMs: number
}

/** Why one restart did not work; `final`: the peer refused it, so another attempt cannot help. */
export interface RestartFailure {
  readonly message: string
  readonly final: boolean
}

/** What the supervisor needs from negotiation. */
export interface Restarter {
  /** Sends restart offer `n` and succeeds once its answer is applied. */
  readonly offer: (n: number) => Effect.Effect<void, RestartFailure>
  /** The link ends with `reason` (event time). */
  readonly end: (reason: string) => void
  /** A restart (or the wait for the initiator's) starts (`true`) or is over (`false`). */
  readonly restarting?: (on: boolean) => void
}

const isUp = (state: string) => state === "connected" || state === "completed"

/** The ICE state of `pc` once `accept` holds for it (at once if it already does). */
export const iceStateWhere = (pc: RTCPeerConnectionLike, accept: (state: string) => boolean): Effect.Effect<string> =>
  Effect.callback<string>((resume) => {
    if (accept(pc.iceConnectionState)) return resume(Effect.succeed(pc.iceConnectionState))
    const listener = () => {
      const state = pc.iceConnectionState
      if (!accept(state)) return
      pc.removeEventListener("iceconnectionstatechange", listener)
      resume(Effect.succeed(state))
    }
    pc.addEventListener("iceconnectionstatechange", listener)
    return Effect.sync(() => pc.removeEventListener("iceconnectionstatechange", listener))
  })

/** Waits until ICE is degraded: `"failed"`, or `"disconnected"` for the whole grace (`"closed"`: the connection went). */
const degraded = (pc: RTCPeerConnectionLike, graceMs: number): Effect.Effect<"failed" | "disconnected" | "closed"> =>
  Effect.gen(function*() {
    while (true) {
      const state = yield* iceStateWhere(pc, (s) => s === "failed" || s === "disconnected" || s === "closed")
      if (state !== "disconnected") return state === "failed" ? "failed" : "closed"
      // browsers recover brief glitches by themselves within the grace
      const next = yield* iceStateWhere(pc, (s) => s !== "disconnected").pipe(Effect.timeoutOption(graceMs))
      if (Option.isNone(next)) return "disconnected"
    }
  })

/**
 * The new ICE checks after a restart's answer: up once "connected" (or "completed" after
 * checking; werift also says "completed" when it has merely gathered). "failed" counts only
 * after "checking": a browser still shows the old "failed" until the checks begin.
 */
const reconnected = (pc: RTCPeerConnectionLike): Effect.Effect<void, RestartFailure> =>
  Effect.gen(function*() {
    const first = yield* iceStateWhere(pc, (s) => s === "connected" || s === "checking")
    if (first === "connected") return
    const next = yield* iceStateWhere(pc, (s) => isUp(s) || s === "failed")
    if (next === "failed") return yield* Effect.fail({ message: "ICE failed again", final: false })
  })

/**
 * Watches the ICE state of an open link for as long as it lives (a fiber of the link's Scope)
 * and restarts ICE, or gives the link up, as the module documentation says.
 */
export const superviseIce = (
  pc: RTCPeerConnectionLike,
  restarter: Restarter,
  { disconnectedGraceMs, iceRestartTimeoutMs, iceRestarts, initiator }: IceRestartOptions
): Effect.Effect<void> => {
  let sequence = 0 // restart offers sent on this link (their `iceRestart` number)

  /** The initiator's attempts; false when they all failed and the link was ended. */
  const restart = (why: string) =>
    Effect.gen(function*() {
      let last: RestartFailure = { message: "no attempt", final: true }
      let attempts = 0
      for (let attempt = 1; attempt <= iceRestarts; attempt++) {
        const n = ++sequence
        attempts = attempt
        yield* Effect.logDebug(`ICE ${why}: restart ${attempt} of ${iceRestarts}`)
        const exit = yield* Effect.exit(
          restarter.offer(n).pipe(
            Effect.andThen(reconnected(pc)),
            Effect.timeoutOrElse({
              duration: iceRestartTimeoutMs,
              orElse: () => Effect.fail({ message: `not reconnected within ${iceRestartTimeoutMs} ms`, final: false })
            })
          )
        )
        if (Exit.isSuccess(exit)) {
          yield* Effect.logInfo(`ICE ${why}; restart ${n} reconnected the link`)
          return true
        }
        last = Exit.findErrorOption(exit).pipe(Option.getOrElse(() => ({ message: "interrupted", final: true })))
        if (last.final) break
      }
      restarter.end(`ice restart failed (ICE ${why}, ${attempts} attempt${attempts === 1 ? "" : "s"}): ${last.message}`)
      return false
    })

  /** The responder waits for the initiator's restart to bring ICE back; false when it did not. */
  const awaitRestart = (why: string) => {
    const deadline = disconnectedGraceMs + iceRestarts * iceRestartTimeoutMs
    return iceStateWhere(pc, isUp).pipe(
      Effect.timeoutOption(deadline),
      Effect.map((up) => {
        if (Option.isSome(up)) return true
        restarter.end(`connection ${why}, not restarted within ${deadline} ms`)
        return false
      })
    )
  }

  return Effect.gen(function*() {
    while (true) {
      const why = yield* degraded(pc, disconnectedGraceMs)
      // resumed inside the connection's state-change dispatch: leave it before touching the connection
      yield* Effect.yieldNow
      if (why === "closed") return // the connection's own close ends the link
      if (iceRestarts <= 0) return restarter.end(why === "failed" ? "connection failed" : "connection lost")
      restarter.restarting?.(true)
      const kept = yield* (initiator ? restart(why) : awaitRestart(why)).pipe(
        Effect.ensuring(Effect.sync(() => restarter.restarting?.(false)))
      )
      if (!kept) return
    }
  }).pipe(endLinkOnDefect("ICE supervisor", restarter.end))
}
