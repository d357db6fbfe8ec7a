/**
 * X25519 secrets kept between envelopes, so that a stream of direct messages between two
 * peers pays for a key agreement once instead of twice per message (a fresh ephemeral key, an
 * agreement to seal and another to open were most of an envelope's cost).
 *
 * - Sealing: one ephemeral key pair per recipient key, with its shared secret
 *   `X25519(e, R)`, reused for every envelope to that key for `ttlMs`, then replaced.
 * - Opening: the shared secret of one of this peer's keys with an ephemeral key seen before.
 *
 * A signed envelope still has its own AES-256-GCM key, `HKDF-SHA256(secret, salt = epk || R,
 * info = ... + from + to + id)` with a fresh random 16-byte `id`; a routed one uses the key of
 * its (ephemeral key, recipient key, sender, recipient), `HKDF-SHA256(secret, salt = epk || R,
 * info = ... + from + to)`, made once here (`aeadKey`), with a fresh random 12-byte nonce per
 * envelope: one ephemeral key seals at most `maxUses` envelopes, far below the 2^32 random
 * nonces one AES-GCM key may take. An entry's value is a function of its key alone (the secret of
 * two public keys, computed here), so what a remote peer sends can never make it hold a wrong
 * one; it can only evict entries (bounded, least recently used), which costs agreements again.
 *
 * Invalidation: `forgetRecipient` when a peer's key is replaced or removed; `clear` when this
 * peer rotates its own key (new ephemeral keys to everyone, and no secret of a key dropped is
 * left to its ttl). Opening looks a secret up only after the recipient found the key the
 * envelope names among those it still holds. The cost: an ephemeral private key lives up to `ttlMs` in memory instead of
 * for one message, so a leak of the sender's memory in that time opens what it sealed with it.
 *
 * @since 2.0.0
 */
import { Effect } from "effect"
import { BoundedMap } from "../internal/boundedMap.ts"
import type { CryptoError } from "./CryptoError.ts"
import { type AeadKey, type Bytes, type Ephemeral, primitives, type SharedSecret } from "./primitives.ts"

export interface PairKeysOptions {
  /** Most secrets held on each side (sealing, opening), least recently used dropped first. Default 1,024. */
  readonly maxEntries?: number
  /** How long one ephemeral key (and a secret of it) is used, in ms. Default 600,000 (10 minutes). */
  readonly ttlMs?: number
  /** Most envelopes one ephemeral key seals. Default 2^24. */
  readonly maxUses?: number
}

export const pairKeysDefaults: Required<PairKeysOptions> = { maxEntries: 1024, ttlMs: 600_000, maxUses: 2 ** 24 }

/** AES keys made of one secret (by HKDF info) kept at most: more means someone makes up labels. */
const KEYS_PER_SECRET = 8

/** A secret held, and the AES keys made of it. */
export class Held {
  readonly #keys = new Map<string, AeadKey>()
  readonly secret: SharedSecret
  /** When it was made (ms). */
  readonly at: number

  constructor(secret: SharedSecret, at: number) {
    this.secret = secret
    this.at = at
  }

  /** The AES-256-GCM key `HKDF-SHA256(secret, salt, info)`, made once per `label` (which names `salt` and `info`). */
  aeadKey(label: string, salt: Bytes, info: Bytes): Effect.Effect<AeadKey, CryptoError> {
    return Effect.suspend(() => {
      const held = this.#keys.get(label)
      if (held !== undefined) return Effect.succeed(held)
      return Effect.map(primitives.aeadKey(this.secret, salt, info), (key) => {
        if (this.#keys.size >= KEYS_PER_SECRET) this.#keys.clear()
        this.#keys.set(label, key)
        return key
      })
    })
  }
}

interface Sealing {
  readonly ephemeral: Ephemeral
  readonly held: Held
  uses: number
}

interface Opening {
  /** This peer's public key (base64url) the secret belongs to. */
  readonly own: string
  readonly held: Held
}

export class PairKeys {
  readonly ttlMs: number
  readonly maxUses: number
  /** Recipient public key (base64url) -> the ephemeral key sealing to it. */
  readonly #sealing: BoundedMap<string, Sealing>
  /** "<own public key>:<ephemeral public key>" -> their secret. */
  readonly #opening: BoundedMap<string, Opening>

  constructor(options: PairKeysOptions = {}) {
    const ttlMs = options.ttlMs ?? pairKeysDefaults.ttlMs
    this.ttlMs = ttlMs >= 0 ? ttlMs : pairKeysDefaults.ttlMs
    const maxUses = options.maxUses ?? pairKeysDefaults.maxUses
    this.maxUses = maxUses >= 1 ? maxUses : pairKeysDefaults.maxUses
    const maxEntries = options.maxEntries ?? pairKeysDefaults.maxEntries
    this.#sealing = new BoundedMap(maxEntries)
    this.#opening = new BoundedMap(maxEntries)
  }

  /** Entries held: sealing (one per recipient key), opening (one per own key and ephemeral key). */
  get size(): { readonly sealing: number; readonly opening: number } {
    return { sealing: this.#sealing.size, opening: this.#opening.size }
  }

  #fresh(at: number, now: number): boolean {
    // a clock that stepped back counts as expired: never extends an entry's life
    return now >= at && now - at < this.ttlMs
  }

  /**
   * The ephemeral public key and shared secret to seal one envelope to `recipientKey`
   * (base64url; raw `recipientRaw`) at `now`: the held ones while younger than `ttlMs` and
   * used fewer than `maxUses` times, else new ones.
   */
  sealing(recipientKey: string, recipientRaw: Bytes, now: number): Effect.Effect<{ readonly publicKey: Bytes; readonly held: Held }, CryptoError> {
    return Effect.suspend(() => {
      const entry = this.#sealing.touch(recipientKey)
      if (entry !== undefined && this.#fresh(entry.held.at, now) && entry.uses < this.maxUses) {
        entry.uses++
        return Effect.succeed({ publicKey: entry.ephemeral.publicKey, held: entry.held })
      }
      const sealing = this.#sealing
      return Effect.gen(function*() {
        const ephemeral = yield* primitives.ephemeral
        const held = new Held(yield* primitives.shared(ephemeral.privateKey, recipientRaw), now)
        sealing.set(recipientKey, { ephemeral, held, uses: 1 })
        return { publicKey: ephemeral.publicKey, held }
      })
    })
  }

  /**
   * The secret of this peer's key pair (`ownKey` base64url, private `ownPrivate`) with the
   * ephemeral key `epk` (base64url; raw `epkRaw`) at `now`; `decrypt-failed` when the
   * agreement is refused (nothing is held then).
   */
  opening(ownKey: string, ownPrivate: unknown, epk: string, epkRaw: Bytes, now: number): Effect.Effect<Held, CryptoError> {
    return Effect.suspend(() => {
      const id = `${ownKey}:${epk}`
      const entry = this.#opening.touch(id)
      if (entry !== undefined && this.#fresh(entry.held.at, now)) return Effect.succeed(entry.held)
      return Effect.map(primitives.shared(ownPrivate, epkRaw), (secret) => {
        const held = new Held(secret, now)
        this.#opening.set(id, { own: ownKey, held })
        return held
      })
    })
  }

  /** Drops the ephemeral key sealing to `recipientKey` (that peer's key was replaced or removed). */
  forgetRecipient(recipientKey: string): void {
    this.#sealing.delete(recipientKey)
  }

  clear(): void {
    this.#sealing.clear()
    this.#opening.clear()
  }
}
