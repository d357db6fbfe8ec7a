/**
 * The identity handshake that opens every link: each side sends `hello` (protocol version, id,
 * public key, a nonce, network), then signs the other's nonce (`proof`). The peer's id must
 * derive from its key; a custom id is taken only where the mesh allows unverified peers, never
 * for an id the server saw proven, and only with the key already known for it. A derived key
 * is pinned in `PeerKeys` (it replaces any earlier pin). Each `hello` may carry the sender's
 * signed encryption key (crypto/linkKeys.ts), taken only from a peer whose id derives from the
 * key it just proved, and only when the announcement names that key.
 *
 * @since 2.0.0
 */
import { Effect, Queue } from "effect"
import { makeNonce } from "../../internal/identityProof.ts"
import type { LinkKeyExchange } from "../../crypto/linkKeys.ts"
import { decodePeerFrame, type Hello, linkChallenge, PROTOCOL_VERSION } from "../../schema/PeerFrames.ts"
import type { PeerId } from "../../schema/PeerId.ts"
import { type Identity, peerIdMatchesKey, verifySignature } from "../../services/Identity.ts"
import type { MeshOptions } from "../../services/MeshConfig.ts"
import type { PeerKeys } from "../../services/PeerKeys.ts"
import { type Link, LinkError } from "../../services/PeerTransport.ts"

export interface HandshakeDeps {
  readonly identity: Identity["Service"]
  readonly config: MeshOptions
  readonly keys: PeerKeys["Service"]
  /** Whether signaling said this peer proved its id. */
  readonly signalingVerified: (peerId: PeerId) => boolean
  /** Encryption keys sent and taken in `hello`; none when undefined. */
  readonly encryption?: LinkKeyExchange | undefined
}

const fail = (peerId: PeerId, message: string) => new LinkError({ peerId, reason: "setup-failed", message })

/** The next frame of type `t` on the link (others are skipped; the setup timeout bounds this). */
const takeFrame = <T extends "hello" | "proof">(link: Link, t: T) =>
  Effect.gen(function*() {
    while (true) {
      const text = yield* Queue.take(link.messages)
      const frame = typeof text === "string" ? decodePeerFrame(text) : undefined
      if (frame?.t === t) return frame as Extract<NonNullable<typeof frame>, { t: T }>
    }
  }).pipe(Effect.mapError(() => fail(link.remote, `link closed during the handshake (waiting for ${t})`)))

/** Proves both identities on a fresh link to `peerId`; returns whether the peer's id derives from its key. */
export const handshake = Effect.fnUntraced(function*({ config, encryption, identity, keys, signalingVerified }: HandshakeDeps, peerId: PeerId, link: Link) {
  const self = identity.peerId
  const nonce = makeNonce()
  const enc = encryption === undefined ? undefined : yield* encryption.own
  const hello: typeof Hello.Type = {
    t: "hello",
    v: PROTOCOL_VERSION,
    peerId: self,
    publicKey: identity.publicKey,
    nonce,
    networkName: config.networkName,
    ...(enc === undefined ? {} : { enc })
  }
  yield* link.send(JSON.stringify(hello))
  const theirs = yield* takeFrame(link, "hello")
  if (theirs.v !== PROTOCOL_VERSION) return yield* fail(peerId, `handshake: protocol version ${theirs.v}, not ${PROTOCOL_VERSION}`)
  if (theirs.peerId !== peerId) return yield* fail(peerId, `handshake: peer claims ${theirs.peerId}`)
  if (theirs.networkName !== config.networkName) return yield* fail(peerId, `handshake: peer is in network ${theirs.networkName}`)
  const signature = yield* identity.sign(linkChallenge(theirs.nonce, self, peerId))
  yield* link.send(JSON.stringify({ t: "proof", signature }))
  const proof = yield* takeFrame(link, "proof")
  const valid = yield* verifySignature(theirs.publicKey, proof.signature, linkChallenge(nonce, peerId, self))
  if (!valid) return yield* fail(peerId, "handshake: invalid signature")
  if (yield* peerIdMatchesKey(peerId, theirs.publicKey)) {
    keys.pin(peerId, theirs.publicKey, true)
    if (encryption !== undefined && theirs.enc !== undefined) yield* encryption.learn(peerId, theirs.publicKey, theirs.enc)
    return true
  }
  if (!config.allowUnverifiedPeers) return yield* fail(peerId, "handshake: peer id does not derive from its key")
  if (signalingVerified(peerId) || !keys.pin(peerId, theirs.publicKey)) {
    return yield* fail(peerId, "handshake: peer id does not derive from its key, and another key is known for it")
  }
  return false
})
