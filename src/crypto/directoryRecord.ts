/**
 * What a key-directory record (`pp/keys/<peerId>`, see `KeyDirectory.ts`) must hold, checked
 * by DHT holders before they store it and by readers before they count a copy: the publisher's
 * own signed `KeyAnnouncement`, made with the identity key that signed the record. (Who may
 * write the key at all is `keyDirectoryAllows` in internal/dhtRecords.ts.) A deletion by the
 * owner (value `null`) passes.
 *
 * @since 2.0.0
 */
import { Effect } from "effect"
import { KEY_DIRECTORY_PREFIX } from "../internal/dhtRecords.ts"
import { verifyAnnouncement } from "./keys.ts"

/** The directory key of a peer's encryption key announcement. */
export const keyDirectoryKey = (peerId: string): string => `${KEY_DIRECTORY_PREFIX}${peerId}`

/** True for a record outside the directory, or one holding its publisher's valid announcement. */
export const validDirectoryValue = (r: {
  readonly key: string
  readonly publisher: string
  readonly publisherKey: string
  readonly value: unknown
  readonly deleted: boolean
}): Effect.Effect<boolean> => {
  if (!r.key.startsWith(KEY_DIRECTORY_PREFIX)) return Effect.succeed(true)
  if (r.deleted) return Effect.succeed(r.value === null)
  return verifyAnnouncement(r.value).pipe(
    Effect.map((a) => a.peerId === r.publisher && a.identityKey === r.publisherKey),
    Effect.orElseSucceed(() => false)
  )
}
