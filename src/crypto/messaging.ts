/**
 * End-to-end encrypted messaging over the mesh, for `Mesh` (layers/Mesh.ts):
 *
 * - direct: the content sealed for the target (`envelope.ts`, its key from the key directory)
 *   travels as a routed direct message of kind `"e2e"` whose content is the envelope only;
 *   relays see the envelope's header (ids, keys, time) and the ciphertext, never the content.
 *   The envelope is a routed one (no signature of its own): the origin's signature of the
 *   frame covers it, and the target opens it only from a frame whose origin verified.
 * - groups: `createGroup`/`addToGroup`/`removeFromGroup` hand the group's new key to each
 *   member in an encrypted direct message of kind `"e2e-group-key"`; `sendEncryptedBroadcast`
 *   floods a group message (`group.ts`) by gossip, kind `"e2e-group"`, which only members
 *   holding the current epoch's key can open.
 *
 * - keys: after a rotation (`generateKeyPair`) the new announcement goes to every neighbour
 *   (direct kind `"e2e-key"`, best effort), and a peer that gets an envelope sealed to a key it
 *   no longer has answers its sender with its current one (at most once per
 *   `KEY_REFRESH_INTERVAL_MS` per sender), so senders move to the new key; a peer asked for its
 *   key (`"e2e-key-request"`) answers the same way, under the same limit.
 *
 * Received messages become `MessageReceived` with `encrypted: true` (and `groupId` for a
 * group). The sender named in an envelope or group message must be the origin that signed
 * the frame carrying it; anything else is dropped. A broadcast of a group this peer is not in
 * is ignored silently (every peer sees every group's broadcasts).
 *
 * Size: an envelope adds about 800 bytes and base64url's third to the content, so encrypted
 * content is limited to `encryptedContentLimit(maxMessageSize, maxPlaintextBytes)`: 64 KiB with
 * the defaults (`maxPlaintextBytes`), and never so much that the envelope exceeds `maxMessageSize`.
 *
 * @since 2.0.0
 */
import { Clock, Effect, PubSub, type Schema } from "effect"
import { BoundedMap } from "../internal/boundedMap.ts"
import type { PeerId } from "../schema/PeerId.ts"
import { type Delivered, type Gossip, type InvalidMessage, MessageTooLarge } from "../services/Gossip.ts"
import type { MeshEvent } from "../services/MeshEvents.ts"
import type { Router } from "../services/Router.ts"
import type { CryptoError } from "./CryptoError.ts"
import type { CryptoManager, GroupChange } from "./CryptoManager.ts"
import type { KeyDirectory } from "./KeyDirectory.ts"
import type { KeyAnnouncement } from "./keys.ts"

/** Direct message kinds and the gossip kind of the encrypted traffic. */
export const E2E_KIND = "e2e"
export const E2E_GROUP_KEY_KIND = "e2e-group-key"
export const E2E_GROUP_KIND = "e2e-group"
export const E2E_KEY_KIND = "e2e-key"
/** A peer asking for this one's key (`KeyDirectory.resolvePeerKey`, when the directory has none); answered with `E2E_KEY_KIND`. */
export const E2E_KEY_REQUEST_KIND = "e2e-key-request"

/** Least time between two key refreshes sent to one peer whose envelope used an unknown key. */
export const KEY_REFRESH_INTERVAL_MS = 10_000
/** Peers whose last key refresh time is remembered. */
const KEY_REFRESH_PEERS = 1024

/** Bytes an envelope (or group message) adds to its ciphertext: header fields, keys, signature, JSON (measured: 781). */
export const ENVELOPE_OVERHEAD = 1024

/** Largest content (UTF-8 JSON bytes) an encrypted message may carry in a mesh with these limits. */
export const encryptedContentLimit = (maxMessageSize: number, maxPlaintextBytes: number): number =>
  Math.max(0, Math.min(maxPlaintextBytes, Math.floor(((maxMessageSize - ENVELOPE_OVERHEAD) * 3) / 4) - 16))

/** A group after a change, as the mesh reports it: the members handed the key, and those whose key could not be found. */
export interface GroupResult {
  readonly groupId: string
  readonly epoch: number
  readonly members: ReadonlyArray<string>
  /** Members sent the new key (an encrypted direct message each). */
  readonly handedTo: ReadonlyArray<string>
  /** Members without a known encryption key: they cannot read the group until added again. */
  readonly missing: ReadonlyArray<string>
}

export type SendError = MessageTooLarge | InvalidMessage | CryptoError

export interface EncryptedMessagingDeps {
  readonly crypto: CryptoManager["Service"]
  readonly directory: KeyDirectory["Service"]
  readonly router: Router["Service"]
  readonly gossip: Gossip["Service"]
  /** The peers linked to this one now (they get a rotated key at once). */
  readonly neighbours: Effect.Effect<ReadonlyArray<PeerId>>
  readonly events: PubSub.PubSub<MeshEvent>
  readonly maxMessageSize: number
  readonly maxPlaintextBytes: number
}

const encoder = new TextEncoder()
const sizeOf = (content: Schema.Json) => {
  try {
    return encoder.encode(JSON.stringify(content) ?? "").length
  } catch {
    return Number.POSITIVE_INFINITY
  }
}

export const makeEncryptedMessaging = (deps: EncryptedMessagingDeps) => {
  const { crypto, directory, events, gossip, router } = deps
  const limit = encryptedContentLimit(deps.maxMessageSize, deps.maxPlaintextBytes)
  const refreshed = new BoundedMap<string, number>(KEY_REFRESH_PEERS)

  const sendKey = (to: PeerId, announcement: KeyAnnouncement) =>
    Effect.ignore(router.send(to, announcement as unknown as Schema.Json, E2E_KEY_KIND, { ack: false }))

  /** Sends a new announcement of this peer's key to its neighbours. */
  const announce = (announcement: KeyAnnouncement) =>
    Effect.flatMap(deps.neighbours, (peers) => Effect.forEach(peers, (p) => sendKey(p, announcement), { discard: true }))

  /** Tells `to`, which sealed an envelope to a key this peer no longer has, the current one (rate-limited per peer). */
  const refreshKeyOf = (to: PeerId) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const last = refreshed.get(to)
      if (last !== undefined && now - last < KEY_REFRESH_INTERVAL_MS) return
      refreshed.set(to, now)
      yield* sendKey(to, yield* crypto.getAnnouncement)
    }).pipe(Effect.ignore)

  const checkSize = (content: Schema.Json) =>
    Effect.suspend(() => {
      const size = sizeOf(content)
      return size > limit ? Effect.fail(new MessageTooLarge({ size, limit })) : Effect.void
    })

  /** Seals `content` for `to` (its key resolved through the directory) and routes the envelope. */
  const sendEncryptedMessage = Effect.fnUntraced(function*(
    to: PeerId,
    content: Schema.Json,
    options?: { readonly id?: string }
  ): Effect.fn.Return<string, SendError> {
    yield* checkSize(content)
    // the directory only when the key is not held already (a lookup per message costs a span)
    if ((yield* crypto.getPeerKey(to)) === undefined) yield* directory.resolvePeerKey(to)
    // no signature of its own: the router signs the frame, whose signature covers the envelope
    const envelope = yield* crypto.encryptRouted(content, to)
    return yield* router.send(to, envelope as unknown as Schema.Json, E2E_KIND, options)
  })

  /** Resolves the members' keys (as far as the directory has them), applies `change`, hands the key out. */
  const changeGroup = (peerIds: Iterable<string>, change: Effect.Effect<GroupChange, CryptoError>) =>
    Effect.gen(function*() {
      yield* Effect.forEach([...peerIds], (id) => Effect.ignore(directory.resolvePeerKey(id)), { concurrency: 8, discard: true })
      const result = yield* change
      const handedTo: Array<string> = []
      for (const h of result.handoffs) {
        const sent = yield* Effect.exit(router.send(h.peerId as PeerId, h.envelope as unknown as Schema.Json, E2E_GROUP_KEY_KIND))
        if (sent._tag === "Success") handedTo.push(h.peerId)
      }
      return { groupId: result.groupId, epoch: result.epoch, members: result.members, handedTo, missing: result.missing } satisfies GroupResult
    })

  const sendEncryptedBroadcast = Effect.fnUntraced(function*(
    content: Schema.Json,
    groupId: string
  ): Effect.fn.Return<string, SendError> {
    yield* checkSize(content)
    const message = yield* crypto.encryptGroup(content, groupId)
    return yield* gossip.publish(message as unknown as Schema.Json, E2E_GROUP_KIND, { id: message.id })
  })

  const fromOf = (content: Schema.Json): unknown =>
    typeof content === "object" && content !== null && !Array.isArray(content) ? (content as { readonly from?: unknown }).from : undefined

  /**
   * Handles a delivered frame of one of the encrypted kinds; false for any other kind. A
   * refusal is reported by the CryptoManager (a `CryptoError` event) and dropped.
   */
  const receive = (m: Delivered, direct: boolean): Effect.Effect<boolean> => {
    if (m.kind === E2E_KIND && direct) {
      // a verified origin signed the frame (and so the envelope in it); an unverified one's
      // envelope must carry its own signature (and its id derive from its key: it cannot)
      return (m.verified ? crypto.decryptRouted(m.content, m.origin) : crypto.decrypt(m.content, m.origin)).pipe(
        Effect.flatMap((opened) =>
          PubSub.publish(events, {
            _tag: "MessageReceived",
            from: m.origin,
            content: opened.content,
            direct: true,
            hops: m.hops,
            ttl: m.ttl,
            encrypted: true,
            messageId: m.id,
            timestamp: opened.ts,
            verified: m.verified
          })
        ),
        Effect.catch((e) => (e.reason === "unknown-key" ? refreshKeyOf(m.origin) : Effect.void)),
        Effect.as(true)
      )
    }
    if (m.kind === E2E_KEY_REQUEST_KIND && direct) return Effect.as(refreshKeyOf(m.origin), true)
    if (m.kind === E2E_KEY_KIND && direct) {
      const peerId = (m.content as { readonly peerId?: unknown } | null)?.peerId
      if (peerId !== m.origin) return Effect.succeed(true)
      return Effect.as(Effect.ignore(crypto.addPeerKey(m.content)), true)
    }
    if (m.kind === E2E_GROUP_KEY_KIND && direct) {
      if (fromOf(m.content) !== m.origin) return Effect.succeed(true)
      return Effect.as(Effect.ignore(crypto.acceptGroupKey(m.content)), true)
    }
    if (m.kind === E2E_GROUP_KIND && !direct) {
      if (fromOf(m.content) !== m.origin) return Effect.succeed(true)
      const groupId = (m.content as { readonly groupId?: unknown }).groupId
      return Effect.gen(function*() {
        // not a member: not ours to open (nor to report)
        if (typeof groupId !== "string" || (yield* crypto.getGroup(groupId)) === undefined) return true
        const opened = yield* Effect.option(crypto.decryptGroup(m.content))
        if (opened._tag === "None") return true
        yield* PubSub.publish(events, {
          _tag: "MessageReceived",
          from: m.origin,
          content: opened.value.content,
          direct: false,
          hops: m.hops,
          ttl: m.ttl,
          encrypted: true,
          groupId: opened.value.groupId,
          messageId: m.id,
          timestamp: opened.value.ts,
          verified: m.verified
        })
        return true
      })
    }
    return Effect.succeed(false)
  }

  return {
    limit,
    announce,
    sendEncryptedMessage,
    sendEncryptedBroadcast,
    createGroup: (groupId: string, peerIds: Iterable<string>) => {
      const ids = [...peerIds]
      return changeGroup(ids, crypto.createGroup(groupId, ids))
    },
    addToGroup: (groupId: string, peerIds: Iterable<string>) => {
      const ids = [...peerIds]
      return changeGroup(ids, crypto.addToGroup(groupId, ids))
    },
    removeFromGroup: (groupId: string, peerIds: Iterable<string>) => changeGroup([], crypto.removeFromGroup(groupId, peerIds)),
    receive
  }
}

export type EncryptedMessaging = ReturnType<typeof makeEncryptedMessaging>
