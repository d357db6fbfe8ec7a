/**
 * The batch frame of a data channel link: several messages in one frame, each prefixed with
 * its length, without escaping anything.
 *
 *   "#" + length(m1) + ":" + m1 + length(m2) + ":" + m2 + ...
 *
 * Lengths are decimal counts of UTF-16 code units (`string.length`). Unlike a JSON array of
 * strings, this costs the sender no `JSON.stringify` of each message and the receiver no
 * `JSON.parse` of the frame, and the messages (JSON themselves, full of quotes) travel
 * without a backslash before every quote: about 3% fewer bytes for the mesh's frames.
 *
 * A message must be well-formed UTF-16 (no lone surrogate: the channel's UTF-8 encoding
 * would replace it, changing the message); `canEncode` tells. The transport sends any other
 * message in a JSON batch instead.
 *
 * @since 2.0.0
 */

/** The first character of a batch frame. */
export const BATCH_HEAD = 0x23 // "#"

const COLON = 0x3a
const ZERO = 0x30
const NINE = 0x39
/** Digits of the longest length accepted (a frame is far shorter). */
const MAX_DIGITS = 9

/** Characters `m` adds to a batch frame. */
export const encodedLength = (m: string): number => m.length + String(m.length).length + 1

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/** True when `m` can travel in a batch frame unchanged (it has no lone surrogate). */
export const canEncode = (m: string): boolean =>
  typeof m.isWellFormed === "function" ? m.isWellFormed() : !LONE_SURROGATE.test(m)

/** The batch frame of `messages` (at least one, all `canEncode`). */
export const encodeBatch = (messages: ReadonlyArray<string>): string => {
  let frame = "#"
  for (const m of messages) frame += `${m.length}:${m}`
  return frame
}

/** The messages of a batch frame, in order; `undefined` when `frame` is not a valid one. */
export const decodeBatch = (frame: string): Array<string> | undefined => {
  if (frame.charCodeAt(0) !== BATCH_HEAD) return undefined
  const messages: Array<string> = []
  let i = 1
  while (i < frame.length) {
    let length = 0
    let j = i
    for (; j < frame.length; j++) {
      const c = frame.charCodeAt(j)
      if (c === COLON) break
      if (c < ZERO || c > NINE || j - i >= MAX_DIGITS) return undefined
      length = length * 10 + (c - ZERO)
    }
    if (j === i || j === frame.length) return undefined
    const end = j + 1 + length
    if (end > frame.length) return undefined
    messages.push(frame.slice(j + 1, end))
    i = end
  }
  return messages.length > 0 ? messages : undefined
}
