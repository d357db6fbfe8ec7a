/**
 * Reading a verified record as one peer: its content key from its own slot (sealed to its
 * X25519 key), then the body (inline or chunks, decrypted when private). A peer without a
 * slot reads nothing, which is not an error: `retrieve` gives `null` for "no access".
 *
 * @since 2.0.0
 */
import { Effect } from "effect"
import { BoundedMap } from "../internal/boundedMap.ts"
import { type BodyProblem, readBody } from "./build.ts"
import { isTombstone, slotAad, type StorageRecord } from "./record.ts"

type Bytes = Uint8Array<ArrayBuffer>

/** A record as this peer reads it. */
export interface Opened {
  readonly record: StorageRecord
  /** The body's bytes (UTF-8 JSON, or a Yjs update) when this peer can read it. */
  readonly plain: Bytes | undefined
  /** The content key of the record's epoch, when this peer holds a slot. */
  readonly cek: Bytes | undefined
  /** Why `plain` is missing (a tombstone has none and no problem). */
  readonly problem: BodyProblem | undefined
}

export interface Opener<R> {
  /** Opens a box of this peer (`CryptoManager.unseal`); undefined when it does not open. */
  readonly unseal: (record: StorageRecord, box: StorageRecord["acl"]["readers"][number]["box"], aad: Bytes) => Effect.Effect<Bytes | undefined>
  /** A chunk by the record's writer and hash. */
  readonly chunk: (by: string, hash: string) => Effect.Effect<string | undefined, never, R>
}

/** Opens records for `self`, remembering content keys (a slot is unsealed once per key and epoch). */
export const makeOpener = <R>(self: string, io: Opener<R>, cacheSize = 1024) => {
  const keys = new BoundedMap<string, Bytes>(cacheSize)
  const contentKey = (record: StorageRecord): Effect.Effect<Bytes | undefined> => {
    const slot = record.acl.readers.find((s) => s.to === self)
    if (slot === undefined) return Effect.succeed(undefined)
    const id = `${record.key}\n${record.acl.owner}\n${record.acl.epoch}\n${slot.box.ct}`
    const held = keys.touch(id)
    if (held !== undefined) return Effect.succeed(held)
    return Effect.map(io.unseal(record, slot.box, slotAad(record.key, record.acl.owner, record.acl.epoch, self)), (cek) => {
      if (cek?.length === 32) {
        keys.set(id, cek)
        return cek
      }
      return undefined
    })
  }
  const open = (record: StorageRecord): Effect.Effect<Opened, never, R> =>
    Effect.gen(function*() {
      if (isTombstone(record.body)) return { record, plain: undefined, cek: undefined, problem: undefined }
      const cek = record.space === "private" ? yield* contentKey(record) : undefined
      const plain = yield* readBody(record, cek, (hash) => io.chunk(record.by, hash))
      return typeof plain === "string"
        ? { record, plain: undefined, cek, problem: plain }
        : { record, plain, cek, problem: undefined }
    })
  return { open, contentKey }
}
