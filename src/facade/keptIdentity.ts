/**
 * A browser tab's identity kept in IndexedDB, so that a reloaded tab is the same peer and
 * finds the storage state it kept (`storage.persistence` "indexeddb", the browsers' default).
 *
 * Identities live in slots (database `peerpigeon-identity`, key `slot-<n>`): the Ed25519 key
 * pair as WebCrypto `CryptoKey`s, the private key not extractable (IndexedDB stores it, no
 * script can read its bytes). A tab holds its slot with a Web Lock (`peerpigeon-identity-<n>`)
 * while it is open, so tabs open at the same time are different peers, and a reload takes the
 * lowest free slot: its own again. Without IndexedDB or Web Locks, or when every slot is taken:
 * a fresh identity, kept nowhere.
 *
 * @since 2.0.0
 */
import { Effect } from "effect"
import { fromKeyPair, generateKeyPair, type Identity, type IdentityError, type KeyPair } from "../services/Identity.ts"
import { done, globalIndexedDb, openDatabase, STORE } from "../storage/indexedDbStore.ts"

/** The database of kept identities. */
export const IDENTITY_DATABASE = "peerpigeon-identity"
/** Slots tried, lowest first. */
export const MAX_SLOTS = 64

interface LockManager {
  request(name: string, options: { readonly ifAvailable: boolean }, callback: (lock: unknown) => Promise<unknown> | undefined): Promise<unknown>
}

const locksOf = (): LockManager | undefined => (globalThis as { readonly navigator?: { readonly locks?: LockManager } }).navigator?.locks

/** Takes the lock `name` for the page's lifetime when it is free; false when another tab holds it. */
const claim = (locks: LockManager, name: string): Promise<boolean> =>
  new Promise((resolve) => {
    locks.request(name, { ifAvailable: true }, (lock) => {
      if (lock === null) {
        resolve(false)
        return undefined
      }
      resolve(true)
      // held until the page goes away
      return new Promise(() => {})
    }).catch(() => resolve(false))
  })

const isKeyPair = (v: unknown): v is KeyPair =>
  typeof v === "object" && v !== null && "publicKey" in v && "privateKey" in v

/** The key pair of the lowest free slot (made and kept when the slot is empty), or undefined. */
const keptKeyPair = async (): Promise<KeyPair | undefined> => {
  const idb = globalIndexedDb()
  const locks = locksOf()
  if (idb === undefined || locks === undefined) return undefined
  for (let slot = 0; slot < MAX_SLOTS; slot++) {
    if (!(await claim(locks, `peerpigeon-identity-${slot}`))) continue
    const db = await openDatabase(idb, IDENTITY_DATABASE)
    try {
      const held = await done(db.transaction(STORE, "readonly").objectStore(STORE).get(`slot-${slot}`))
      if (isKeyPair(held)) return held
      const pair = await Effect.runPromise(generateKeyPair(false))
      await done(db.transaction(STORE, "readwrite").objectStore(STORE).put(pair, `slot-${slot}`))
      return pair
    } finally {
      db.close()
    }
  }
  return undefined
}

/** This tab's kept identity, or a fresh one where none can be kept. */
export const keptIdentity: Effect.Effect<Identity["Service"], IdentityError> = Effect.gen(function*() {
  const pair = yield* Effect.promise(() => keptKeyPair().catch(() => undefined))
  return yield* fromKeyPair(pair ?? (yield* generateKeyPair()))
})
