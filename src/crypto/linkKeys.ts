/**
 * Encryption keys exchanged in the link handshake (`layers/connections/handshake.ts`): each side
 * puts its signed `KeyAnnouncement` in its `hello`, and takes the other's once the handshake
 * proved the identity key the announcement names. A peer with a custom (unverified) id, or a
 * mesh with `enableCrypto: false`, sends none and takes none.
 *
 * @since 2.0.0
 */
import { Effect, Option } from "effect"
import type { PeerId } from "../schema/PeerId.ts"
import { Identity } from "../services/Identity.ts"
import { MeshConfig } from "../services/MeshConfig.ts"
import { CryptoManager } from "./CryptoManager.ts"
import type { KeyAnnouncement } from "./keys.ts"

export interface LinkKeyExchange {
  /** This peer's announcement, to send in `hello` (initialises the crypto if needed); none if that fails. */
  readonly own: Effect.Effect<KeyAnnouncement | undefined>
  /**
   * Takes `peerId`'s announcement from its `hello`, once the handshake proved `identityKey`:
   * ignored unless it is for that peer and that key; verified (signature, id) before it is held.
   */
  learn(peerId: PeerId, identityKey: string, announcement: KeyAnnouncement): Effect.Effect<void>
}

/** The exchange for this mesh, or `undefined` when it sends and takes no keys. */
export const linkKeyExchange: Effect.Effect<LinkKeyExchange | undefined, never, Identity | MeshConfig> = Effect.gen(function*() {
  const config = yield* MeshConfig
  const identity = yield* Identity
  const crypto = yield* Effect.serviceOption(CryptoManager)
  if (!config.enableCrypto || !identity.verified || Option.isNone(crypto)) return undefined
  const manager = crypto.value
  return {
    own: manager.getAnnouncement.pipe(Effect.orElseSucceed(() => undefined)),
    learn: (peerId, identityKey, announcement) =>
      announcement.peerId !== peerId || announcement.identityKey !== identityKey
        ? Effect.logDebug(`link key announcement of ${peerId} names another peer or key: ignored`)
        : manager.addPeerKey(announcement).pipe(
          Effect.asVoid,
          Effect.catch((e) => Effect.logDebug(`link key announcement of ${peerId} refused: ${e.reason}`))
        )
  }
})
