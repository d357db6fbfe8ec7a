/**
 * Supervision for the long-lived loops of the mesh and the server (inbound readers, signers,
 * retransmission, discovery, presence, repair, DHT maintenance ...): an unexpected failure
 * or defect is logged with its cause and the loop starts again after a short, growing pause,
 * so one bad frame or one bug never silently stops a service. Interruption (the owning Scope
 * closing) ends it as usual; a loop that returns normally is done.
 *
 * Restarts are counted per loop name (`restartCount`), for tests and diagnostics.
 *
 * @since 2.0.0
 */
import { Cause, Clock, Effect, Exit } from "effect"

/** Restarts per loop name, for every supervised loop of this process. */
const restarts = new Map<string, number>()

/** How many times the loop named `name` has been restarted in this process. */
export const restartCount = (name: string): number => restarts.get(name) ?? 0

export interface SuperviseOptions {
  /** First pause before a restart, in ms. Default 10. */
  readonly minDelayMs?: number
  /** Longest pause between restarts, in ms (the pause doubles while failures keep coming). Default 5000. */
  readonly maxDelayMs?: number
}

/**
 * Runs `loop`, restarting it whenever it fails or dies. The pause doubles after each failure
 * and resets once the loop has run for a minute without one.
 */
export const supervised = <A, E, R>(
  name: string,
  loop: Effect.Effect<A, E, R>,
  options: SuperviseOptions = {}
): Effect.Effect<A | void, never, R> =>
  Effect.gen(function*() {
    const min = options.minDelayMs ?? 10
    const max = options.maxDelayMs ?? 5000
    let delay = min
    while (true) {
      const started = yield* Clock.currentTimeMillis
      const exit = yield* Effect.exit(loop)
      if (Exit.isSuccess(exit)) return exit.value
      if (Cause.hasInterrupts(exit.cause)) return yield* Effect.interrupt
      restarts.set(name, restartCount(name) + 1)
      yield* Effect.logError(`${name} stopped unexpectedly; restarting`, exit.cause)
      if ((yield* Clock.currentTimeMillis) - started > 60_000) delay = min
      yield* Effect.sleep(delay)
      delay = Math.min(max, delay * 2)
    }
  })

/**
 * Runs one unit of work (one request, say) whose failure or defect must not end anything
 * else: it is logged with its cause and counted under `name` as a restart (the slot it held
 * is free again), and the result is `undefined`. Interruption passes through.
 */
export const contained = <A, E, R>(name: string, work: Effect.Effect<A, E, R>): Effect.Effect<A | undefined, never, R> =>
  Effect.exit(work).pipe(
    Effect.flatMap((exit) => {
      if (Exit.isSuccess(exit)) return Effect.succeed(exit.value)
      if (Cause.hasInterrupts(exit.cause)) return Effect.interrupt
      restarts.set(name, restartCount(name) + 1)
      return Effect.as(Effect.logError(`${name} failed`, exit.cause), undefined)
    })
  )
