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
): Effect.Effect<A | void, never, R> => {
  const min = options.minDelayMs ?? 10
  const max = options.maxDelayMs ?? 5000
  // written without a generator: a node runs a dozen of these for its whole life, and a
  // suspended generator and its frame cost more memory than one pending continuation
  const run = (delay: number): Effect.Effect<A | void, never, R> =>
    Effect.flatMap(Clock.currentTimeMillis, (started) =>
      Effect.catchCause(loop, (cause) => {
        if (Cause.hasInterrupts(cause)) return Effect.interrupt
        restarts.set(name, restartCount(name) + 1)
        return Effect.logError(`${name} stopped unexpectedly; restarting`, cause).pipe(
          Effect.andThen(Clock.currentTimeMillis),
          Effect.flatMap((now) => {
            const pause = now - started > 60_000 ? min : delay
            return Effect.andThen(Effect.sleep(pause), Effect.suspend(() => run(Math.min(max, pause * 2))))
          })
        )
      }))
  return run(min)
}

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
