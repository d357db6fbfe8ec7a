/**
 * What browser bundles get for `nodePrimitives.ts` (package.json's `browser` field): no Node
 * backend, so `primitives` are WebCrypto's and no `node:crypto` code is shipped.
 *
 * @since 2.0.0
 */
import type { NodeBackend } from "./nodePrimitives.ts"

export const nodePrimitives = (): NodeBackend | undefined => undefined
