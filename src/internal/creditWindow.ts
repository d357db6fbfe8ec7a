/**
 * Pacing for one data channel link. werift's SCTP collapses when sends are not paced
 * (bursts overflow the receiver's UDP buffer and it falls back to retransmit timers), and a
 * window of 128+ frames in flight is as bad as none; about 32-64 is the sweet spot. So a
 * link sends at most `capacity` frames before the peer acknowledges some (`CreditWindow`),
 * and packs queued messages several to a frame (`batchFrames`).
 *
 * @since 2.0.0
 */

export interface CreditWindowOptions {
  /** Frames that may be in flight (sent, not yet acknowledged) at once. Default 32. */
  readonly capacity?: number
}

export const defaults: Required<CreditWindowOptions> = {
  capacity: 32
}

export class CreditWindow {
  readonly capacity: number
  #inFlight = 0

  constructor(options: CreditWindowOptions = {}) {
    const capacity = options.capacity ?? defaults.capacity
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`capacity must be a positive integer, got ${capacity}`)
    }
    this.capacity = capacity
  }

  /** Frames sent and not yet acknowledged. */
  get inFlight(): number {
    return this.#inFlight
  }

  /** Frames that may be sent now. */
  get available(): number {
    return this.capacity - this.#inFlight
  }

  /** Takes the credit for one frame; false (and nothing changes) when the window is full. */
  tryAcquire(): boolean {
    if (this.#inFlight >= this.capacity) return false
    this.#inFlight++
    return true
  }

  /**
   * The peer acknowledged `n` frames. Acknowledgements beyond what is in flight (a duplicate
   * ack, or one that crossed a `reset`) are ignored rather than creating extra credit.
   * Returns the number of credits actually returned.
   */
  release(n: number = 1): number {
    if (!Number.isInteger(n) || n < 0) {
      throw new RangeError(`release takes a non-negative integer, got ${n}`)
    }
    const released = Math.min(n, this.#inFlight)
    this.#inFlight -= released
    return released
  }

  /** Forgets everything in flight, e.g. when the link is re-established. */
  reset(): void {
    this.#inFlight = 0
  }
}

/**
 * UTF-8 length of `s` in bytes, without allocating: what a string costs on a data channel.
 * A lone surrogate counts 3 bytes, as the U+FFFD that encoding replaces it with.
 */
export const utf8Length = (s: string): number => {
  let bytes = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) bytes += 1
    else if (c < 0x800) bytes += 2
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4
        i++
      } else {
        bytes += 3
      }
    } else bytes += 3
  }
  return bytes
}

/**
 * Packs `queue` into batches, one batch per frame, keeping the queue's order.
 *
 * - A batch holds at most `maxPerBatch` messages, and the sizes of its messages add up to
 *   at most `maxFrameBytes`.
 * - A message larger than `maxFrameBytes` on its own still has to go out: it gets a batch
 *   of its own (the batch being filled is closed first, so order is kept).
 * - Packing is greedy: a batch is closed as soon as the next message does not fit.
 * - `measure` gives a message's size; it defaults to its UTF-8 length. The frame's own
 *   envelope is not counted: pass a smaller `maxFrameBytes`, or a `measure` that includes
 *   the per-message encoding overhead (e.g. `(s) => utf8Length(JSON.stringify(s)) + 1`).
 *
 * `queue` is not modified; an empty queue gives no batches.
 */
export const batchFrames = (
  queue: ReadonlyArray<string>,
  maxFrameBytes: number,
  maxPerBatch: number,
  measure: (message: string) => number = utf8Length
): Array<Array<string>> => {
  if (!(maxFrameBytes > 0)) throw new RangeError(`maxFrameBytes must be positive, got ${maxFrameBytes}`)
  if (!Number.isInteger(maxPerBatch) || maxPerBatch < 1) {
    throw new RangeError(`maxPerBatch must be a positive integer, got ${maxPerBatch}`)
  }
  const batches: Array<Array<string>> = []
  let current: Array<string> = []
  let currentBytes = 0
  for (const message of queue) {
    const size = measure(message)
    if (current.length > 0 && (current.length >= maxPerBatch || currentBytes + size > maxFrameBytes)) {
      batches.push(current)
      current = []
      currentBytes = 0
    }
    current.push(message)
    currentBytes += size
  }
  if (current.length > 0) batches.push(current)
  return batches
}
