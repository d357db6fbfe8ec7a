/**
 * End-to-end encryption for one peer (`mesh.cryptoManager` in the facade): its X25519
 * encryption key and signed announcement (`keys.ts`), the verified keys of other peers,
 * sealed direct messages (`envelope.ts`) and group keys (`group.ts`), and events.
 *
 * Built on the `Identity` service: the identity signs the announcement, every signed envelope
 * and every group message (a routed envelope is signed by the frame that carries it, see
 * `envelope.ts`); the encryption key is separate from it (see `keys.ts`). A peer with a
 * custom (unverified) id cannot use it: others could not tell its envelopes from forgeries.
 *
 * Bounded: peer keys (LRU, `peerKeysLimit`), groups (LRU, `groupsLimit`), members per group,
 * the replay cache, the encryption keys kept after rotations (`previousKeys`, each for
 * `previousKeyGraceMs`, so envelopes sealed to a key just replaced still open), and the key
 * agreements kept between envelopes (`pairKeys.ts`: `pairKeysLimit` each side, for
 * `pairKeyTtlMs`; dropped at a rotation, and for a peer whose key changed).
 *
 * @since 2.0.0
 */
import { Clock, Context, Effect, Layer, PubSub, type Schema, type Scope, Semaphore } from "effect"
import { BoundedMap } from "../internal/boundedMap.ts"
import { Identity, verifySignature } from "../services/Identity.ts"
import { CryptoError } from "./CryptoError.ts"
import {
  type Decrypted,
  decrypt,
  decryptRouted,
  type Envelope,
  encrypt,
  encryptRouted,
  envelopeDefaults,
  type EnvelopeOptions,
  type RoutedEnvelope
} from "./envelope.ts"
import { acceptHandoff, decryptGroup, encryptGroup, type GroupDecrypted, type GroupKey, type GroupMessage, handOut, makeGroupKey, rotate } from "./group.ts"
import { announce, type EncryptionKeyPair, generateEncryptionKeyPair, type KeyAnnouncement, verifyAnnouncement } from "./keys.ts"
import { PairKeys, pairKeysDefaults } from "./pairKeys.ts"
import { utf8 } from "./primitives.ts"
import { ReplayGuard } from "./replay.ts"
import { open as openBox, type SealedBox } from "./sealedBox.ts"

export interface CryptoOptions extends EnvelopeOptions {
  /** Most peers whose encryption keys are remembered (least recently used forgotten first). Default 16,384. */
  readonly peerKeysLimit?: number
  /** Most groups held (least recently used forgotten first). Default 1,024. */
  readonly groupsLimit?: number
  /**
   * Most groups owned by one other peer that this peer holds keys of: a peer handing out keys
   * of ever new groups cannot push the others' groups out. Default 16.
   */
  readonly groupsPerOwner?: number
  /** Most members per group, the owner included. Default 256. */
  readonly maxGroupMembers?: number
  /** Most (sender, id) pairs the replay cache holds. Default 16,384. */
  readonly replayCacheSize?: number
  /** Replaced encryption keys kept to open envelopes still in flight. Default 2. */
  readonly previousKeys?: number
  /** How long a replaced encryption key still opens envelopes, in ms. Default 7 days. */
  readonly previousKeyGraceMs?: number
  /**
   * Key agreements kept between envelopes (`pairKeys.ts`), on each side (sealing: one per
   * recipient key; opening: one per ephemeral key seen). Default 1,024.
   */
  readonly pairKeysLimit?: number
  /** How long one ephemeral key seals to one recipient key (and its secret is kept), in ms. Default 600,000 (10 minutes). */
  readonly pairKeyTtlMs?: number
}

export const cryptoDefaults: Required<CryptoOptions> = {
  ...envelopeDefaults,
  peerKeysLimit: 16_384,
  groupsLimit: 1024,
  groupsPerOwner: 16,
  maxGroupMembers: 256,
  replayCacheSize: 16_384,
  previousKeys: 2,
  previousKeyGraceMs: 7 * 24 * 3600_000,
  pairKeysLimit: pairKeysDefaults.maxEntries,
  pairKeyTtlMs: pairKeysDefaults.ttlMs
}

export const CryptoConfig = Context.Reference<CryptoOptions>("peerpigeon/CryptoConfig", { defaultValue: () => cryptoDefaults })

export type CryptoEvent =
  | { readonly _tag: "CryptoReady"; readonly publicKey: string }
  /** This peer's encryption key has a new announcement (made by `init`, or by a rotation): to publish. */
  | { readonly _tag: "KeyAnnounced"; readonly announcement: KeyAnnouncement }
  | { readonly _tag: "PeerKeyAdded"; readonly peerId: string }
  | { readonly _tag: "CryptoError"; readonly error: CryptoError }

/** A group after a change: the hand-offs to send (one encrypted direct message per member) and members whose key is not known. */
export interface GroupChange {
  readonly groupId: string
  readonly epoch: number
  readonly members: ReadonlyArray<string>
  readonly handoffs: ReadonlyArray<{ readonly peerId: string; readonly envelope: Envelope }>
  readonly missing: ReadonlyArray<string>
}

export interface GroupInfo {
  readonly groupId: string
  readonly epoch: number
  readonly owner: string
  readonly members: ReadonlyArray<string>
}

export class CryptoManager extends Context.Service<CryptoManager, {
  /** Makes the encryption key and its announcement once; later calls return the same announcement. */
  readonly init: Effect.Effect<KeyAnnouncement, CryptoError>
  /** The current X25519 public key, base64url (initialises first). */
  readonly getPublicKey: Effect.Effect<string, CryptoError>
  /** The current signed announcement, to send in handshakes and publish (initialises first). */
  readonly getAnnouncement: Effect.Effect<KeyAnnouncement, CryptoError>
  /** The current announcement if the key exists already (never initialises). */
  readonly current: Effect.Effect<KeyAnnouncement | undefined>
  /** Replaces the encryption key (the old one still opens envelopes for a grace period); the new announcement. */
  readonly generateKeyPair: Effect.Effect<KeyAnnouncement, CryptoError>
  /** Seals `content` for `peerId` (its key held), signed: an envelope to carry any way. */
  encrypt(content: Schema.Json, peerId: string): Effect.Effect<Envelope, CryptoError>
  /** Opens a signed envelope (object or JSON text) sent to this peer, by `expectedSender` when given. */
  decrypt(envelope: unknown, expectedSender?: string): Effect.Effect<Decrypted, CryptoError>
  /**
   * Seals `content` for `peerId` without a signature of its own: only for the content of a
   * direct message this peer signs as its origin (see `envelope.encryptRouted`).
   */
  encryptRouted(content: Schema.Json, peerId: string): Effect.Effect<RoutedEnvelope, CryptoError>
  /**
   * Opens the envelope of a received direct message whose origin signature verified, `origin`
   * being that verified origin (never an id the message merely claims).
   */
  decryptRouted(envelope: unknown, origin: string): Effect.Effect<Decrypted, CryptoError>
  /** Ed25519 signature (base64url) by this peer's identity over `data` (UTF-8 when a string). */
  sign(data: string | Uint8Array): Effect.Effect<string>
  /** True when `signature` is `publicKey`'s (raw Ed25519, base64url) over `data`; never fails. */
  verify(data: string | Uint8Array, signature: string, publicKey: string): Effect.Effect<boolean>
  getPeerKey(peerId: string): Effect.Effect<KeyAnnouncement | undefined>
  /** Verifies and remembers a peer's announcement; the one now held (the newest verified). */
  addPeerKey(announcement: unknown): Effect.Effect<KeyAnnouncement, CryptoError>
  removePeerKey(peerId: string): Effect.Effect<boolean>
  /** Creates (or re-keys, if this peer owns it) a group with `peerIds` and this peer. */
  createGroup(groupId: string, peerIds: Iterable<string>): Effect.Effect<GroupChange, CryptoError>
  addToGroup(groupId: string, peerIds: Iterable<string>): Effect.Effect<GroupChange, CryptoError>
  /** Re-keys the group (epoch + 1) without `peerIds`; they cannot open what is sent afterwards. */
  removeFromGroup(groupId: string, peerIds: Iterable<string>): Effect.Effect<GroupChange, CryptoError>
  /** Opens a group key hand-off envelope and holds its key. */
  acceptGroupKey(envelope: unknown): Effect.Effect<GroupInfo, CryptoError>
  getGroup(groupId: string): Effect.Effect<GroupInfo | undefined>
  leaveGroup(groupId: string): Effect.Effect<boolean>
  encryptGroup(content: Schema.Json, groupId: string): Effect.Effect<GroupMessage, CryptoError>
  decryptGroup(message: unknown): Effect.Effect<GroupDecrypted, CryptoError>
  /** Opens a sealed box (`sealedBox.ts`) made for one of this peer's encryption keys (current, or replaced within the grace period). */
  unseal(box: SealedBox, aad: Uint8Array<ArrayBuffer>, info: string): Effect.Effect<Uint8Array<ArrayBuffer>, CryptoError>
  /** Events for the caller's Scope. */
  readonly subscribe: Effect.Effect<PubSub.Subscription<CryptoEvent>, never, Scope.Scope>
}>()("peerpigeon/CryptoManager") {
  static readonly layer: Layer.Layer<CryptoManager, never, Identity> = Layer.effect(CryptoManager, Effect.suspend(() => make))
  /** For `enableCrypto: false`: every operation fails with reason `disabled`; no keys are held. */
  static readonly layerDisabled: Layer.Layer<CryptoManager, never, Identity> = Layer.effect(CryptoManager, Effect.suspend(() => makeDisabled))
}

/** Crypto events kept for a subscriber that has not taken them yet (the oldest are dropped past it); preallocated, so small. */
const EVENT_BUFFER = 64

const makeDisabled = Effect.gen(function*() {
  const identity = yield* Identity
  const events = yield* Effect.acquireRelease(PubSub.sliding<CryptoEvent>(1), PubSub.shutdown)
  const off = Effect.fail(new CryptoError({ reason: "disabled", message: "end-to-end encryption is off (enableCrypto: false)" }))
  return CryptoManager.of({
    init: off,
    getPublicKey: off,
    getAnnouncement: off,
    current: Effect.succeed(undefined),
    generateKeyPair: off,
    encrypt: () => off,
    decrypt: () => off,
    encryptRouted: () => off,
    decryptRouted: () => off,
    sign: (data) => identity.sign(typeof data === "string" ? utf8(data) : new Uint8Array(data)),
    verify: (data, signature, publicKey) => verifySignature(publicKey, signature, typeof data === "string" ? utf8(data) : new Uint8Array(data)),
    getPeerKey: () => Effect.succeed(undefined),
    addPeerKey: () => off,
    removePeerKey: () => Effect.succeed(false),
    createGroup: () => off,
    addToGroup: () => off,
    removeFromGroup: () => off,
    acceptGroupKey: () => off,
    getGroup: () => Effect.succeed(undefined),
    leaveGroup: () => Effect.succeed(false),
    encryptGroup: () => off,
    decryptGroup: () => off,
    unseal: () => off,
    subscribe: PubSub.subscribe(events)
  })
})

const info = (g: GroupKey): GroupInfo => ({ groupId: g.groupId, epoch: g.epoch, owner: g.owner, members: g.members })

export const make = Effect.gen(function*() {
  const identity = yield* Identity
  const config: Required<CryptoOptions> = { ...cryptoDefaults, ...(yield* CryptoConfig) }
  const events = yield* Effect.acquireRelease(PubSub.sliding<CryptoEvent>(EVENT_BUFFER), PubSub.shutdown)
  const lock = yield* Semaphore.make(1)
  const serial = lock.withPermits(1)
  const peerKeys = new BoundedMap<string, KeyAnnouncement>(config.peerKeysLimit)
  const groups = new BoundedMap<string, GroupKey>(config.groupsLimit)
  const replay = new ReplayGuard({ maxEntries: config.replayCacheSize, windowMs: config.maxAgeMs })
  const pairKeys = new PairKeys({ maxEntries: config.pairKeysLimit, ttlMs: config.pairKeyTtlMs })
  const sealOptions = { ...config, pairKeys }
  let current: { readonly pair: EncryptionKeyPair; readonly announcement: KeyAnnouncement } | undefined
  let previous: ReadonlyArray<EncryptionKeyPair & { readonly retiredAt: number }> = []

  const publish = (event: CryptoEvent) => PubSub.publish(events, event)
  /** Reports a failure on the event stream, then fails with it. */
  const reported = <A>(effect: Effect.Effect<A, CryptoError>) =>
    Effect.tapError(effect, (error) => publish({ _tag: "CryptoError", error }))

  const newKey = Effect.gen(function*() {
    if (!identity.verified) {
      return yield* new CryptoError({ reason: "bad-sender-key", message: "a custom peer id is not bound to its identity key: others would refuse its envelopes" })
    }
    const now = yield* Clock.currentTimeMillis
    const pair = yield* generateEncryptionKeyPair(now)
    // a rotation within one millisecond still gets a newer announcement
    const ts = Math.max(now, (current?.announcement.ts ?? -1) + 1)
    const announcement = yield* announce(identity, pair.publicKey, ts)
    if (current !== undefined) {
      previous = [{ ...current.pair, retiredAt: now }, ...previous].slice(0, config.previousKeys)
    }
    current = { pair, announcement }
    // a rotation starts afresh: new ephemeral keys to every peer, and no secret of a key dropped
    pairKeys.clear()
    yield* publish({ _tag: "KeyAnnounced", announcement })
    return announcement
  })

  const init = reported(serial(Effect.suspend(() =>
    current !== undefined
      ? Effect.succeed(current.announcement)
      : Effect.tap(newKey, (a) => publish({ _tag: "CryptoReady", publicKey: a.encryptionKey }))
  )))
  const ready = Effect.suspend(() => (current !== undefined ? Effect.succeed(current) : Effect.map(init, () => current!)))
  /** This peer as a recipient at `now`: the current key, and replaced ones still within their grace period. */
  const recipient = (pair: EncryptionKeyPair, now: number) => ({
    peerId: identity.peerId,
    replay,
    pairKeys,
    keyFor: (kid: string) =>
      kid === pair.kid ? pair : previous.find((p) => p.kid === kid && now - p.retiredAt <= config.previousKeyGraceMs)
  })

  const addPeerKey = Effect.fn("CryptoManager.addPeerKey")(function*(input: unknown) {
    const now = yield* Clock.currentTimeMillis
    const a = yield* verifyAnnouncement(input, { now, maxSkewMs: config.maxSkewMs })
    const known = peerKeys.touch(a.peerId)
    if (known !== undefined && known.ts >= a.ts) return known
    peerKeys.set(a.peerId, a)
    if (known !== undefined && known.encryptionKey !== a.encryptionKey) pairKeys.forgetRecipient(known.encryptionKey)
    if (known?.encryptionKey !== a.encryptionKey) yield* publish({ _tag: "PeerKeyAdded", peerId: a.peerId })
    return a
  })

  /** Records a changed group and seals its key for each member. */
  const handOutChange = (group: GroupKey) =>
    Effect.gen(function*() {
      groups.set(group.groupId, group)
      const out = yield* handOut(group, identity, (peerId) => peerKeys.touch(peerId)?.encryptionKey, config)
      return { groupId: group.groupId, epoch: group.epoch, members: group.members, ...out }
    })

  const owned = (groupId: string) =>
    Effect.suspend(() => {
      const group = groups.touch(groupId)
      if (group === undefined) return Effect.fail(new CryptoError({ reason: "unknown-group", message: `no group ${groupId}` }))
      if (group.owner !== identity.peerId) {
        return Effect.fail(new CryptoError({ reason: "not-owner", message: `only ${group.owner} changes the members of ${groupId}` }))
      }
      return Effect.succeed(group)
    })

  /** Groups held whose owner is `peerId`. */
  const ownedBy = (peerId: string) => {
    let n = 0
    for (const g of groups.values()) if (g.owner === peerId) n++
    return n
  }

  /** The held key of `peerId` to seal to (initialising this peer's first), or `unknown-key`. */
  const keyOf = (peerId: string) =>
    Effect.andThen(ready, () => {
      const key = peerKeys.touch(String(peerId).toLowerCase())
      return key === undefined
        ? reported(Effect.fail(new CryptoError({ reason: "unknown-key", message: `no encryption key known for ${peerId}` })))
        : Effect.succeed(key)
    })

  const lower = (peerIds: Iterable<string>) => new Set([...peerIds].map((id) => String(id).toLowerCase()))

  return CryptoManager.of({
    init,
    getPublicKey: Effect.map(ready, (c) => c.pair.publicKey),
    getAnnouncement: Effect.map(ready, (c) => c.announcement),
    current: Effect.sync(() => current?.announcement),
    generateKeyPair: reported(Effect.andThen(init, serial(newKey))),
    encrypt: Effect.fn("CryptoManager.encrypt")(function*(content: Schema.Json, peerId: string) {
      const key = yield* keyOf(peerId)
      return yield* reported(encrypt(content, key.peerId, key.encryptionKey, identity, sealOptions))
    }),
    decrypt: Effect.fn("CryptoManager.decrypt")(function*(envelope: unknown, expectedSender?: string) {
      const { pair } = yield* ready
      return yield* reported(decrypt(envelope, recipient(pair, yield* Clock.currentTimeMillis), expectedSender, config))
    }),
    // untraced: once per direct message sent or received, and the caller's span covers it
    // (a traced function costs a span and a stack capture, about 4 µs each)
    encryptRouted: Effect.fnUntraced(function*(content: Schema.Json, peerId: string) {
      const key = yield* keyOf(peerId)
      return yield* reported(encryptRouted(content, key.peerId, key.encryptionKey, identity, sealOptions))
    }),
    decryptRouted: Effect.fnUntraced(function*(envelope: unknown, origin: string) {
      const { pair } = yield* ready
      return yield* reported(decryptRouted(envelope, recipient(pair, yield* Clock.currentTimeMillis), origin, config))
    }),
    sign: (data) => identity.sign(typeof data === "string" ? utf8(data) : new Uint8Array(data)),
    verify: (data, signature, publicKey) => verifySignature(publicKey, signature, typeof data === "string" ? utf8(data) : new Uint8Array(data)),
    getPeerKey: (peerId) => Effect.sync(() => peerKeys.touch(String(peerId).toLowerCase())),
    addPeerKey: (input) => reported(addPeerKey(input)),
    removePeerKey: (peerId) =>
      Effect.sync(() => {
        const id = String(peerId).toLowerCase()
        const known = peerKeys.get(id)
        if (known !== undefined) pairKeys.forgetRecipient(known.encryptionKey)
        return peerKeys.delete(id)
      }),
    createGroup: (groupId, peerIds) =>
      // `ready` outside `serial`: initialising takes the same permit
      reported(Effect.andThen(ready, serial(Effect.gen(function*() {
        const existing = groups.touch(groupId)
        const group = existing === undefined
          ? yield* makeGroupKey(groupId, identity.peerId, lower(peerIds), 0, config.maxGroupMembers)
          : yield* rotate(existing, identity.peerId, lower(peerIds), config.maxGroupMembers)
        return yield* handOutChange(group)
      })))),
    addToGroup: (groupId, peerIds) =>
      reported(serial(Effect.gen(function*() {
        const group = yield* owned(groupId)
        return yield* handOutChange(yield* rotate(group, identity.peerId, [...group.members, ...lower(peerIds)], config.maxGroupMembers))
      }))),
    removeFromGroup: (groupId, peerIds) =>
      reported(serial(Effect.gen(function*() {
        const group = yield* owned(groupId)
        const removed = lower(peerIds)
        removed.delete(identity.peerId)
        return yield* handOutChange(yield* rotate(group, identity.peerId, group.members.filter((m) => !removed.has(m)), config.maxGroupMembers))
      }))),
    acceptGroupKey: Effect.fn("CryptoManager.acceptGroupKey")(function*(envelope: unknown) {
      const { pair } = yield* ready
      const opened = yield* reported(decrypt(envelope, recipient(pair, yield* Clock.currentTimeMillis), undefined, config))
      return yield* reported(serial(Effect.suspend(() => {
        const name = (opened.content as { readonly groupId?: unknown } | null)?.groupId
        const held = typeof name === "string" ? groups.touch(name) : undefined
        if (held === undefined && ownedBy(opened.from) >= config.groupsPerOwner) {
          return Effect.fail(new CryptoError({ reason: "limit", message: `already ${config.groupsPerOwner} groups of ${opened.from} held` }))
        }
        return Effect.map(acceptHandoff(opened, identity.peerId, held), (group) => {
          groups.set(group.groupId, group)
          return info(group)
        })
      })))
    }),
    getGroup: (groupId) => Effect.sync(() => {
      const group = groups.get(groupId)
      return group === undefined ? undefined : info(group)
    }),
    leaveGroup: (groupId) => Effect.sync(() => groups.delete(groupId)),
    encryptGroup: (content, groupId) =>
      reported(Effect.suspend(() => {
        const group = groups.touch(groupId)
        return group === undefined
          ? Effect.fail(new CryptoError({ reason: "unknown-group", message: `no group ${groupId}` }))
          : encryptGroup(content, group, identity, config)
      })),
    decryptGroup: (message) => reported(decryptGroup(message, (groupId) => groups.touch(groupId), replay, config)),
    unseal: Effect.fn("CryptoManager.unseal")(function*(box: SealedBox, aad: Uint8Array<ArrayBuffer>, infoText: string) {
      const { pair } = yield* ready
      const key = recipient(pair, yield* Clock.currentTimeMillis).keyFor(box.kid)
      if (key === undefined) return yield* new CryptoError({ reason: "unknown-key", message: `no encryption key ${box.kid} here` })
      return yield* openBox(key.privateKey, key.publicKey, box, aad, infoText)
    }),
    subscribe: PubSub.subscribe(events)
  })
})
