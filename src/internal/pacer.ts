/**
 * Pacing of one data channel link, both ends, as plain state:
 *
 * - `SendWindow` (sender): at most `frames` data frames and about `chars` characters of them
 *   unacknowledged (`CreditWindow` plus a character window: werift stalls once much more
 *   than ~64 KB is outstanding, whatever the frame count; one frame may always go).
 * - `ReceiveLedger` (receiver): the frames that arrived and were not yet acknowledged, and
 *   the credit owed for those already processed. A receiver returns credit only once a
 *   frame's messages are handed on, so a slow reader pauses the sender; and a sender with
 *   more frames (or characters) unacknowledged than its window allows ignores the protocol.
 *
 * Acknowledgements come back in send order (the channel is ordered), so both ends keep the
 * sizes of the frames in flight in a FIFO.
 *
 * @since 2.0.0
 */
import { CreditWindow } from "./creditWindow.ts"

/** Sizes in arrival order: push at the back, pop from the front. */
class SizeFifo {
  #items: Array<number> = []
  #head = 0
  #total = 0

  get length(): number {
    return this.#items.length - this.#head
  }

  get total(): number {
    return this.#total
  }

  push(size: number): void {
    this.#items.push(size)
    this.#total += size
  }

  /** Pops up to `n` sizes; returns how many were popped. */
  pop(n: number): number {
    const popped = Math.min(n, this.length)
    for (let i = 0; i < popped; i++) this.#total -= this.#items[this.#head++]!
    if (this.#head > 1024 || this.#head === this.#items.length) {
      this.#items.splice(0, this.#head)
      this.#head = 0
    }
    return popped
  }
}

export interface SendWindowOptions {
  /** Data frames in flight at most. */
  readonly frames: number
  /** Characters of data frames in flight at most (one frame may always go, however long). */
  readonly chars: number
}

/** The sender's side: credits for frames and characters in flight. */
export class SendWindow {
  readonly chars: number
  readonly #window: CreditWindow
  readonly #inFlight = new SizeFifo()

  constructor(options: SendWindowOptions) {
    this.#window = new CreditWindow({ capacity: options.frames })
    this.chars = options.chars
  }

  get inFlight(): number {
    return this.#window.inFlight
  }

  get inFlightChars(): number {
    return this.#inFlight.total
  }

  /** Takes the credit for a frame of `chars`; false (nothing changes) when it must wait. */
  tryAcquire(chars: number): boolean {
    if (this.#inFlight.total > 0 && this.#inFlight.total + chars > this.chars) return false
    if (!this.#window.tryAcquire()) return false
    this.#inFlight.push(chars)
    return true
  }

  /** The receiver acknowledged `n` frames (a bad or excess count returns nothing more than is in flight). */
  release(n: number): number {
    const released = this.#window.release(Number.isSafeInteger(n) && n > 0 ? n : 0)
    this.#inFlight.pop(released)
    return released
  }
}

export interface ReceiveLedgerOptions {
  /** Data frames that may be unacknowledged before the sender counts as ignoring its window. */
  readonly frames: number
  /** Characters of data frames that may be unacknowledged. */
  readonly chars: number
}

/**
 * The receive window a link allows its peer, from its own options: twice its own windows
 * plus slack (the peer should use the same ones; a little more is tolerated), and the
 * characters of one largest frame.
 */
export const receiveLimits = (
  o: { readonly window: number; readonly windowChars: number },
  maxFrameChars: number
): ReceiveLedgerOptions => ({
  frames: 2 * o.window + 16,
  chars: 2 * o.windowChars + maxFrameChars
})

/** The receiver's side: frames unacknowledged, and credit owed for frames processed. */
export class ReceiveLedger {
  readonly limits: ReceiveLedgerOptions
  readonly #unacknowledged = new SizeFifo()
  #owed = 0

  constructor(limits: ReceiveLedgerOptions) {
    this.limits = limits
  }

  /** Data frames received and not yet acknowledged. */
  get unacknowledged(): number {
    return this.#unacknowledged.length
  }

  get unacknowledgedChars(): number {
    return this.#unacknowledged.total
  }

  /** Credit owed for processed frames, not yet sent. */
  get owed(): number {
    return this.#owed
  }

  /**
   * A data frame of `chars` arrived. False when the sender has now gone past the window it
   * was given: more frames or characters unacknowledged than `limits` allow.
   */
  arrive(chars: number): boolean {
    this.#unacknowledged.push(chars)
    return this.#unacknowledged.length <= this.limits.frames && this.#unacknowledged.total <= this.limits.chars
  }

  /** The oldest unprocessed frame was handed on: its credit is owed. */
  processed(): void {
    if (this.#owed < this.#unacknowledged.length) this.#owed++
  }

  /** The credit to send now (0 when none is owed); those frames count as acknowledged. */
  takeOwed(): number {
    const n = this.#owed
    this.#owed = 0
    this.#unacknowledged.pop(n)
    return n
  }
}
