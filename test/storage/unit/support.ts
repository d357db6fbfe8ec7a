/** Helpers for the pure storage tests: identities with crypto managers, and records made by them. */
import { Effect } from "effect"
import { CryptoConfig, make as makeCrypto } from "../../../src/crypto/CryptoManager.ts"
import { Identity, make as makeIdentity } from "../../../src/services/Identity.ts"
import { makeBody, newContentKey, type Reader, sealSlots, signAcl, signRecord } from "../../../src/storage/build.ts"
import { bodyAad, type Space, type StorageRecord } from "../../../src/storage/record.ts"

/** A peer: its identity and its crypto manager (in the caller's Scope). */
export const peer = Effect.gen(function*() {
  const identity = yield* Effect.orDie(makeIdentity())
  const crypto = yield* makeCrypto.pipe(Effect.provideService(Identity, identity), Effect.provideService(CryptoConfig, {}))
  const announcement = yield* Effect.orDie(crypto.getAnnouncement)
  const reader: Reader = { peerId: identity.peerId, encryptionKey: announcement.encryptionKey }
  return { identity, crypto, reader, id: identity.peerId as string }
})
export type Peer = Effect.Success<typeof peer>

export interface MakeOptions {
  readonly space?: Space
  readonly version?: number
  readonly epoch?: number
  readonly rev?: number
  readonly readers?: ReadonlyArray<Peer>
  readonly writers?: ReadonlyArray<Peer>
  readonly by?: Peer
  readonly crdt?: boolean
  readonly cek?: Uint8Array<ArrayBuffer>
}

/** A record of `owner` holding `value`, signed as the options say. */
export const makeRecord = (owner: Peer, key: string, value: unknown, o: MakeOptions = {}) =>
  Effect.gen(function*() {
    const space = o.space ?? "public"
    const version = o.version ?? 1
    const epoch = o.epoch ?? 0
    const cek = space === "private" ? o.cek ?? newContentKey() : undefined
    const readers = space === "private" ? [owner, ...(o.readers ?? [])].map((p) => p.reader) : []
    const slots = cek === undefined ? [] : yield* Effect.orDie(sealSlots(key, owner.id, epoch, readers, cek))
    const acl = yield* signAcl(owner.identity, key, space, o.crdt ?? false, {
      epoch,
      rev: o.rev ?? 0,
      readers: slots,
      writers: (o.writers ?? []).map((w) => w.id)
    })
    const plaintext = new TextEncoder().encode(JSON.stringify(value))
    const { body, chunks } = yield* Effect.orDie(makeBody(plaintext, o.crdt ?? false, cek, bodyAad(key, owner.id, version, epoch)))
    const record: StorageRecord = yield* signRecord((o.by ?? owner).identity, { key, space, crdt: o.crdt ?? false, acl, version, ts: 1000, body })
    return { record, chunks, cek }
  })
