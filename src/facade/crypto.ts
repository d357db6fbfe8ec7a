/**
 * End-to-end encryption for `PeerPigeonMesh` users, with PeerPigeon 1.x's names:
 * `mesh.cryptoManager` (alias `mesh.crypto`) is a `MeshCrypto`, and the mesh's own
 * `encryptMessage`, `decryptMessage`, `sendEncryptedMessage`, `sendEncryptedBroadcast`,
 * `createGroup`, `addToGroup`, `removeFromGroup` are this object's (bound) methods.
 *
 * Everything runs on the mesh's runtime (started on first use, as `init()` does) over the
 * `CryptoManager`, `KeyDirectory` and `Mesh` services; a typed failure rejects with its
 * `CryptoError` (`reason` says which: `unknown-key`, `wrong-sender`, `replay`, `stale`, ...).
 *
 * @since 2.0.0
 */
import { Effect, Exit, type Schema } from "effect"
import { CryptoManager } from "../crypto/CryptoManager.ts"
import type { Envelope } from "../crypto/envelope.ts"
import { KeyDirectory } from "../crypto/KeyDirectory.ts"
import type { GroupResult } from "../crypto/messaging.ts"
import { isPeerIdString, type PeerId } from "../schema/PeerId.ts"
import { Identity } from "../services/Identity.ts"
import { Mesh } from "../services/Mesh.ts"
import { MeshConfig } from "../services/MeshConfig.ts"
import type { Runtime, Services } from "./runtime.ts"

export type { Envelope } from "../crypto/envelope.ts"
export type { GroupResult } from "../crypto/messaging.ts"

/** What `MeshCrypto` needs of its mesh. */
export interface CryptoHost {
  readonly runtime: Runtime | undefined
  runEffect<A, E>(effect: Effect.Effect<A, E, Services>): Promise<A>
}

const peer = (peerId: string): PeerId => {
  if (!isPeerIdString(peerId)) throw new TypeError(`invalid peer id: ${JSON.stringify(peerId)}`)
  return peerId.toLowerCase() as PeerId
}

const bytesOf = (data: string | Uint8Array) => (typeof data === "string" ? data : new Uint8Array(data))

export class MeshCrypto {
  readonly #host: CryptoHost

  constructor(host: CryptoHost) {
    this.#host = host
  }

  #run<A, E>(effect: Effect.Effect<A, E, Services>): Promise<A> {
    return this.#host.runEffect(effect)
  }

  /** Makes this peer's X25519 encryption key and its signed announcement (once; `mesh.init()` does it too). Then `cryptoReady`. */
  init(): Promise<{ readonly publicKey: string }> {
    return this.#run(CryptoManager.use((c) => Effect.map(c.init, (a) => ({ publicKey: a.encryptionKey }))))
  }

  /** `init()` unless the mesh has `enableCrypto: false` or a custom (unverified) peer id; never rejects. */
  initIfEnabled = (): Promise<void> =>
    this.#run(Effect.gen(function*() {
      const config = yield* MeshConfig
      if (!config.enableCrypto || !(yield* Identity).verified) return
      yield* Effect.ignore(CryptoManager.use((c) => c.init))
    }))

  /** This peer's X25519 public key (raw, base64url), or null before `init()` (or with crypto off). */
  getPublicKey(): string | null {
    const runtime = this.#host.runtime
    if (runtime === undefined) return null
    // only what is already made: a key made now would need WebCrypto's promises
    const exit = runtime.runSyncExit(CryptoManager.use((c) => c.getPublicKey))
    return Exit.isSuccess(exit) ? exit.value : null
  }

  /** Replaces the encryption key and announces the new one (link handshakes, the DHT key directory); resolves its public key. */
  generateKeyPair(): Promise<{ readonly publicKey: string }> {
    return this.#run(CryptoManager.use((c) => Effect.map(c.generateKeyPair, (a) => ({ publicKey: a.encryptionKey }))))
  }

  /** Seals `content` (JSON) for `peerId`, whose key is taken from links or the key directory; resolves the envelope (JSON). */
  encrypt(content: Schema.Json, peerId: string): Promise<Envelope> {
    const to = peer(peerId)
    return this.#run(Effect.gen(function*() {
      yield* KeyDirectory.use((d) => d.resolvePeerKey(to))
      return yield* CryptoManager.use((c) => c.encrypt(content, to))
    }))
  }

  /** Opens an envelope (object or JSON text) sent to this peer, from `senderPeerId` when given; resolves its content. */
  decrypt(envelope: unknown, senderPeerId?: string): Promise<Schema.Json> {
    return this.#run(CryptoManager.use((c) => Effect.map(c.decrypt(envelope, senderPeerId), (d) => d.content)))
  }

  /** Signs `data` (UTF-8 when a string) with this peer's Ed25519 identity; resolves the signature (base64url). */
  sign(data: string | Uint8Array): Promise<string> {
    return this.#run(CryptoManager.use((c) => c.sign(bytesOf(data))))
  }

  /** True when `signature` is `publicKey`'s (an Ed25519 identity key, base64url) over `data`. 1.x's argument order. */
  verify(signature: string, data: string | Uint8Array, publicKey: string): Promise<boolean> {
    return this.#run(CryptoManager.use((c) => c.verify(bytesOf(data), signature, publicKey)))
  }

  /** The X25519 key held for `peerId` (learnt over a link or from the key directory), or null. */
  getPeerKey(peerId: string): string | null {
    const runtime = this.#host.runtime
    if (runtime === undefined || !isPeerIdString(peerId)) return null
    const exit = runtime.runSyncExit(CryptoManager.use((c) => c.getPeerKey(peerId)))
    return Exit.isSuccess(exit) ? exit.value?.encryptionKey ?? null : null
  }

  /** The X25519 key of `peerId`: held, or looked up in the DHT key directory and verified. */
  resolvePeerKey(peerId: string): Promise<string> {
    const id = peer(peerId)
    return this.#run(KeyDirectory.use((d) => Effect.map(d.resolvePeerKey(id), (a) => a.encryptionKey)))
  }

  /** The group `groupId` as held here (its current epoch, owner and members), or null when this peer is not in it. */
  getGroup(groupId: string): { readonly groupId: string; readonly epoch: number; readonly owner: string; readonly members: ReadonlyArray<string> } | null {
    const runtime = this.#host.runtime
    if (runtime === undefined) return null
    const exit = runtime.runSyncExit(CryptoManager.use((c) => c.getGroup(groupId)))
    return Exit.isSuccess(exit) ? exit.value ?? null : null
  }

  // the mesh's methods (bound: `mesh.encryptMessage` is this object's)

  /** `mesh.encryptMessage(content, peerId)`: as `encrypt`. */
  readonly encryptMessage = (content: Schema.Json, peerId: string): Promise<Envelope> => this.encrypt(content, peerId)

  /** `mesh.decryptMessage(envelope, senderPeerId?)`: as `decrypt`. */
  readonly decryptMessage = (envelope: unknown, senderPeerId?: string): Promise<Schema.Json> => this.decrypt(envelope, senderPeerId)

  /**
   * `mesh.sendEncryptedMessage(peerId, content)`: routed to `peerId` end-to-end encrypted (relays
   * see only ciphertext); resolves the message id once sent. The target's `messageReceived` has
   * `encrypted: true`. Rejects when no key for the peer can be found (`unknown-key`).
   */
  readonly sendEncryptedMessage = (peerId: string, content: Schema.Json): Promise<string> => {
    const to = peer(peerId)
    return this.#run(Mesh.use((m) => m.sendEncryptedMessage(to, content)))
  }

  /** `mesh.sendEncryptedBroadcast(content, groupId)`: to the members of `groupId` only (a group is required). */
  readonly sendEncryptedBroadcast = (content: Schema.Json, groupId: string): Promise<string> => {
    if (typeof groupId !== "string") return Promise.reject(new TypeError("sendEncryptedBroadcast needs a groupId (createGroup first)"))
    return this.#run(Mesh.use((m) => m.sendEncryptedBroadcast(content, groupId)))
  }

  /** `mesh.createGroup(groupId, peerIds)`: a group owned by this peer; its key is handed to each member. */
  readonly createGroup = (groupId: string, peerIds: ReadonlyArray<string>): Promise<GroupResult> =>
    this.#run(Mesh.use((m) => m.createGroup(groupId, peerIds)))

  /** `mesh.addToGroup(groupId, peerIds)`: a new key for all members, the new ones included. */
  readonly addToGroup = (groupId: string, peerIds: ReadonlyArray<string>): Promise<GroupResult> =>
    this.#run(Mesh.use((m) => m.addToGroup(groupId, peerIds)))

  /** `mesh.removeFromGroup(groupId, peerIds)`: a new key for the others; the removed cannot read later messages. */
  readonly removeFromGroup = (groupId: string, peerIds: ReadonlyArray<string>): Promise<GroupResult> =>
    this.#run(Mesh.use((m) => m.removeFromGroup(groupId, peerIds)))
}
