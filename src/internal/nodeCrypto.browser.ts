/**
 * What browser bundles get for `nodeCrypto.ts` (package.json's `browser` field): no Node
 * backend, so `cryptoBackend` is WebCrypto's and no `node:crypto` code is shipped.
 *
 * @since 2.0.0
 */
import type { CryptoBackend } from "./cryptoBackend.ts"
import type { NodeModules } from "./nodeCrypto.ts"

export const detectNode = (): NodeModules | undefined => undefined

export const nodeCryptoBackend = (): CryptoBackend | undefined => undefined
