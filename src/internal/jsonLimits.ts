/**
 * Limits on JSON from the network. V8's `JSON.parse` is iterative and takes any depth, but
 * `JSON.stringify`, Schema's `Json` check and most code that walks a value recurse, and throw
 * "Maximum call stack size exceeded" somewhere past 10,000 levels: a 40 KB frame of nested
 * arrays would end whatever fiber touched it. So every value parsed from a link, a socket or
 * a DHT answer has its depth checked here, iteratively, before anything else reads it.
 *
 * @since 2.0.0
 */

/**
 * Deepest nesting of message content (objects and arrays inside the content), as PeerPigeon
 * messages, DHT values and signaling payloads carry it. Default 64.
 */
export const MAX_CONTENT_DEPTH = 64

/** Deepest nesting of a whole frame: its envelope (a few levels) around content. */
export const MAX_FRAME_DEPTH = MAX_CONTENT_DEPTH + 8

/**
 * True when `value` (a parsed JSON tree: acyclic) nests objects/arrays deeper than `maxDepth`.
 * A scalar has depth 0, `[]` and `{}` depth 1. Iterative: any input is safe.
 */
export const deeperThan = (value: unknown, maxDepth: number): boolean => {
  if (typeof value !== "object" || value === null) return false
  const values: Array<unknown> = [value]
  const depths: Array<number> = [1]
  while (values.length > 0) {
    const v = values.pop() as object
    const depth = depths.pop()!
    if (depth > maxDepth) return true
    const children: ReadonlyArray<unknown> = Array.isArray(v) ? v : Object.values(v)
    for (let i = 0; i < children.length; i++) {
      const child = children[i]
      if (typeof child === "object" && child !== null) {
        values.push(child)
        depths.push(depth + 1)
      }
    }
  }
  return false
}

/** `JSON.parse`, or `undefined` for invalid JSON or a value nested deeper than `maxDepth`. */
export const parseBounded = (text: string, maxDepth: number = MAX_FRAME_DEPTH): unknown => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return undefined
  }
  return deeperThan(json, maxDepth) ? undefined : json
}
