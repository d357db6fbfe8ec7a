/**
 * Exponential backoff with jitter, as pure functions of the attempt number and a random
 * source, so a test that passes a fixed `random` gets fixed delays.
 *
 * The delay before retry `attempt` (0 for the first retry) is
 * `d = min(maxMs, baseMs * factor ** attempt)`, drawn uniformly from `(d * (1 - jitter), d]`.
 * Jitter only shortens the delay: `maxMs` stays a hard ceiling, and peers that lost the
 * same server at the same moment stay spread out even once they all reach the cap.
 *
 * @since 2.0.0
 */

export interface BackoffOptions {
  /** Delay before the first retry (attempt 0), before jitter, in ms. Default 1,000. */
  readonly baseMs?: number
  /** Ceiling on any delay, in ms. Default 30,000. */
  readonly maxMs?: number
  /** Growth per attempt (at least 1). Default 2. */
  readonly factor?: number
  /** Fraction of the delay that is random, from 0 (none) to 1. Default 0.2. */
  readonly jitter?: number
}

export const defaults: Required<BackoffOptions> = {
  baseMs: 1_000,
  maxMs: 30_000,
  factor: 2,
  jitter: 0.2
}

/**
 * Milliseconds to wait before retry number `attempt` (a non-negative integer, 0 first).
 * `random` returns a number in [0, 1), like `Math.random` or Effect's `Random.next`;
 * 0 gives the full delay, values towards 1 the shortest. Values outside [0, 1] are clamped.
 */
export const backoffDelay = (
  attempt: number,
  options: BackoffOptions,
  random: () => number
): number => {
  const { baseMs, factor, jitter, maxMs } = resolve(options)
  if (!Number.isInteger(attempt) || attempt < 0) {
    throw new RangeError(`attempt must be a non-negative integer, got ${attempt}`)
  }
  // factor ** attempt may overflow to Infinity; min() brings it back to maxMs.
  const d = Math.min(maxMs, baseMs * factor ** attempt)
  const r = Math.min(1, Math.max(0, random()))
  return d * (1 - jitter * r)
}

/** The time (in the same ms clock as `now`) at which retry `attempt` should start. */
export const nextAttemptAt = (
  attempt: number,
  now: number,
  options: BackoffOptions,
  random: () => number
): number => now + backoffDelay(attempt, options, random)

const resolve = (options: BackoffOptions): Required<BackoffOptions> => {
  const resolved = {
    baseMs: options.baseMs ?? defaults.baseMs,
    maxMs: options.maxMs ?? defaults.maxMs,
    factor: options.factor ?? defaults.factor,
    jitter: options.jitter ?? defaults.jitter
  }
  if (!(resolved.baseMs >= 0)) throw new RangeError(`baseMs must be >= 0, got ${resolved.baseMs}`)
  if (!(resolved.maxMs >= 0)) throw new RangeError(`maxMs must be >= 0, got ${resolved.maxMs}`)
  if (!(resolved.factor >= 1)) throw new RangeError(`factor must be >= 1, got ${resolved.factor}`)
  if (!(resolved.jitter >= 0 && resolved.jitter <= 1)) {
    throw new RangeError(`jitter must be between 0 and 1, got ${resolved.jitter}`)
  }
  return resolved
}
