/**
 * Byte helpers shared by the crypto backends (`primitives.ts` and `nodePrimitives.ts`, which
 * `primitives.ts` imports: a module of its own keeps them out of an import cycle).
 *
 * @since 2.0.0
 */

/** Bytes on their own ArrayBuffer (what WebCrypto takes). */
export type Bytes = Uint8Array<ArrayBuffer>

/** `parts` one after another, in a new array. */
export const concat = (...parts: ReadonlyArray<Uint8Array>): Bytes => {
  let size = 0
  for (const part of parts) size += part.length
  const out = new Uint8Array(size)
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.length
  }
  return out
}
