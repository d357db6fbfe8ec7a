/**
 * The key directory: where peers find each other's encryption keys. Every peer publishes its
 * signed `KeyAnnouncement` in the DHT under `pp/keys/<peerId>` (again after each
 * `generateKeyPair`), a key DHT holders let no one else write (`keyDirectoryAllows` in
 * internal/dhtRecords.ts) and store only with a valid announcement by that peer
 * (`directoryRecord.ts`). `resolvePeerKey` returns the key held for a peer (from a link
 * handshake, or an earlier resolve) or looks it up in the directory, verifies it and holds it.
 *
 * Publishing retries in the background (with backoff, and at once when a link comes up)
 * until one holder took the announcement; the DHT's republishing keeps it there afterwards.
 *
 * @since 2.0.0
 */
import { Context, Effect, Exit, Layer, PubSub, Queue, Random } from "effect"
import { backoffDelay } from "../internal/backoff.ts"
import { supervised } from "../internal/supervise.ts"
import { Dht } from "../services/Dht.ts"
import { Identity } from "../services/Identity.ts"
import { MeshConfig } from "../services/MeshConfig.ts"
import { MeshEvents } from "../services/MeshEvents.ts"
import { CryptoError } from "./CryptoError.ts"
import { CryptoManager } from "./CryptoManager.ts"
import { keyDirectoryKey } from "./directoryRecord.ts"
import { type KeyAnnouncement, verifyAnnouncement } from "./keys.ts"

export class KeyDirectory extends Context.Service<KeyDirectory, {
  /**
   * `peerId`'s verified announcement: the one held, or else the one in the DHT directory
   * (verified, then held). Fails with `unknown-key` when the directory has none (or did not
   * answer), `malformed` for a bad id or a record that is not that peer's announcement.
   */
  resolvePeerKey(peerId: string): Effect.Effect<KeyAnnouncement, CryptoError>
  /** True once this peer's current announcement is stored in the directory (on at least one holder). */
  readonly published: Effect.Effect<boolean>
}>()("peerpigeon/KeyDirectory") {
  static readonly layer: Layer.Layer<KeyDirectory, never, CryptoManager | Dht | Identity | MeshConfig | MeshEvents> = Layer.effect(
    KeyDirectory,
    Effect.suspend(() => make)
  )
}

const PEER_ID = /^[0-9a-f]{40}$/

const make = Effect.gen(function*() {
  const crypto = yield* CryptoManager
  const dht = yield* Dht
  const identity = yield* Identity
  const config = yield* MeshConfig
  const meshEvents = yield* MeshEvents
  const wake = yield* Queue.sliding<true>(1)
  /** The announcement still to publish. */
  let pending: KeyAnnouncement | undefined
  let attempts = 0
  /** The last announcement a holder took. */
  let stored: KeyAnnouncement | undefined

  if (config.enableCrypto && identity.verified) {
    const cryptoEvents = yield* crypto.subscribe
    const links = yield* PubSub.subscribe(meshEvents)
    yield* supervised("KeyDirectory.announced", Effect.gen(function*() {
      while (true) {
        const event = yield* PubSub.take(cryptoEvents)
        if (event._tag !== "KeyAnnounced") continue
        pending = event.announcement
        attempts = 0
        yield* Queue.offer(wake, true)
      }
    })).pipe(Effect.forkScoped)
    // a new link may be the first holder there is: try again at once
    yield* supervised("KeyDirectory.links", Effect.gen(function*() {
      while (true) {
        const event = yield* PubSub.take(links)
        if (event._tag === "PeerConnected" && pending !== undefined) yield* Queue.offer(wake, true)
      }
    })).pipe(Effect.forkScoped)
    yield* supervised("KeyDirectory.publish", Effect.gen(function*() {
      while (true) {
        yield* Queue.take(wake)
        const announcement = pending
        if (announcement === undefined) continue
        const exit = yield* Effect.exit(dht.put(keyDirectoryKey(identity.peerId), announcement))
        if (Exit.isSuccess(exit)) {
          stored = announcement
          if (pending === announcement) pending = undefined
          continue
        }
        const error = exit.cause.reasons[0]
        if (error?._tag === "Fail" && error.error._tag === "DhtDisabled") {
          pending = undefined
          continue
        }
        const r = yield* Random.next
        // the backoff, cut short by a new link or a new key
        yield* Effect.raceFirst(Effect.sleep(backoffDelay(attempts++, { baseMs: 1000, maxMs: 30_000 }, () => r)), Queue.take(wake))
        yield* Queue.offer(wake, true)
      }
    })).pipe(Effect.forkScoped)
  }

  const notFound = (peerId: string, why: string) =>
    new CryptoError({ reason: "unknown-key", message: `no encryption key known for ${peerId}: ${why}` })

  const resolvePeerKey = Effect.fn("KeyDirectory.resolvePeerKey")(function*(input: string) {
    const peerId = String(input).toLowerCase()
    if (!PEER_ID.test(peerId)) return yield* new CryptoError({ reason: "malformed", message: `${input} is not a peer id` })
    if (peerId === identity.peerId) return yield* crypto.getAnnouncement
    const held = yield* crypto.getPeerKey(peerId)
    if (held !== undefined) return held
    if (!config.enableCrypto) return yield* new CryptoError({ reason: "disabled", message: "end-to-end encryption is off (enableCrypto: false)" })
    const value = yield* dht.get(keyDirectoryKey(peerId)).pipe(
      Effect.mapError((e) => notFound(peerId, e._tag === "NotFound" ? "none in the key directory" : e.message))
    )
    const verified = yield* verifyAnnouncement(value)
    if (verified.peerId !== peerId) {
      return yield* new CryptoError({ reason: "malformed", message: `the directory entry of ${peerId} announces ${verified.peerId}` })
    }
    return yield* crypto.addPeerKey(verified)
  })

  return KeyDirectory.of({
    resolvePeerKey,
    published: Effect.sync(() => pending === undefined && stored !== undefined)
  })
})
