/**
 * Origin signatures shared by gossip and direct messages: building a signed frame, and
 * checking one on receipt. An origin counts as verified when its id derives from the key
 * that signed; other (custom) ids are accepted unverified, with their first key pinned, so a
 * neighbour can forward a message but cannot forge its origin once that origin is known.
 *
 * A message's `sig` is one of:
 * - a plain Ed25519 signature (base64url) over `signedBytes(message)`;
 * - a batch signature (`signBatch`), `"<root sig>.<index>.<count>.<sibling>..."`: several
 *   messages signed at once. Their hashes are the leaves of a Merkle tree
 *   (`internal/merkle.ts`, SHA-256 of `signedBytes`); the origin signs
 *   `"peerpigeon-batch:v1:<count>:<root>"` once, and each message carries the signature, its
 *   index, the leaf count and its sibling hashes (base64url) up to the root. A receiver checks
 *   each message on its own: it hashes the message, climbs to the root and checks the root's
 *   signature, the last step only once per batch (`rootChecks` remembers the outcome). One
 *   signature and one verification per batch instead of per message, for about 200 more bytes
 *   per message. Forging a message of a batch takes a second preimage of SHA-256.
 *
 * @since 2.0.0
 */
import { Clock, Effect, type Schema } from "effect"
import { utf8Length } from "../internal/creditWindow.ts"
import { cryptoBackend, type MaybePromise } from "../internal/cryptoBackend.ts"
import { leafHash, merkleTree, rootFromProof } from "../internal/merkle.ts"
import { isMessageId, signedBytes } from "../schema/PeerFrames.ts"
import type { PeerId } from "../schema/PeerId.ts"
import type { PeerKeys } from "../services/PeerKeys.ts"
import { type Delivered, InvalidMessage, MessageTooLarge } from "../services/Gossip.ts"
import type { Identity } from "../services/Identity.ts"

const encoder = new TextEncoder()

/** Checks that `content` is JSON within `limit` bytes; returns its size. */
export const checkContent = (content: Schema.Json, limit: number): Effect.Effect<number, MessageTooLarge | InvalidMessage> => {
  let text: string | undefined
  try {
    text = JSON.stringify(content)
  } catch (cause) {
    return Effect.fail(new InvalidMessage({ message: `content is not JSON-serialisable: ${String(cause)}` }))
  }
  if (text === undefined) return Effect.fail(new InvalidMessage({ message: "content is not JSON-serialisable" }))
  const size = utf8Length(text)
  return size > limit ? Effect.fail(new MessageTooLarge({ size, limit })) : Effect.succeed(size)
}

/** What a message's signature covers, with the fields every signed frame carries. */
export interface UnsignedMessage {
  readonly t: "gossip" | "direct"
  readonly kind: string
  readonly to?: PeerId
  readonly id: string
  readonly origin: PeerId
  readonly key: string
  readonly ts: number
  readonly ttl: number
  readonly hops: number
  readonly content: Schema.Json
  readonly bin?: string
}

/** The fields of a new message from this peer, all but its signature; `id` is a fresh nonce unless given. */
export const unsignedFields = Effect.fnUntraced(function*(
  identity: Identity["Service"],
  content: Schema.Json,
  ttl: number,
  givenId?: string
) {
  if (givenId !== undefined && !isMessageId(givenId)) {
    return yield* new InvalidMessage({ message: `a message id has 1 to 64 characters, not ${(givenId as string).length}` })
  }
  const id = givenId ?? cryptoBackend.nonce()
  const ts = yield* Clock.currentTimeMillis
  return { id, origin: identity.peerId, key: identity.publicKey, ts, ttl, hops: 0, content }
})

/** The signed fields of a new message from this peer. */
export const signFields = Effect.fnUntraced(function*(
  identity: Identity["Service"],
  header: { readonly t: "gossip" | "direct"; readonly kind: string; readonly to?: PeerId; readonly bin?: string },
  content: Schema.Json,
  ttl: number,
  id?: string
) {
  const fields = yield* unsignedFields(identity, content, ttl, id)
  const sig = yield* identity.sign(signedBytes({ ...header, ...fields }))
  return { ...fields, sig }
})

// ---------------------------------------------------------------------------------------------
// batch signatures

/** Most messages `signBatch` puts under one signature (a path of at most 4 hashes). */
export const MAX_BATCH = 16
/** Largest batch a receiver accepts (a path of at most 6 hashes). */
const MAX_BATCH_ACCEPTED = 64

const batchStatement = (count: number, root: string): Uint8Array<ArrayBuffer> =>
  encoder.encode(`peerpigeon-batch:v1:${count}:${root}`)

/**
 * Signs `messages` with one signature; returns each one's `sig`, in order. A single message
 * gets a plain signature.
 */
export const signBatch = Effect.fnUntraced(function*(identity: Identity["Service"], messages: ReadonlyArray<UnsignedMessage>) {
  if (messages.length === 1) return [yield* identity.sign(signedBytes(messages[0]!))]
  if (messages.length === 0 || messages.length > MAX_BATCH_ACCEPTED) {
    return yield* Effect.die(new RangeError(`a batch holds 1 to ${MAX_BATCH_ACCEPTED} messages, not ${messages.length}`))
  }
  const { sha256, toBase64Url } = cryptoBackend
  const { root, paths } = merkleTree(sha256, messages.map((m) => leafHash(sha256, signedBytes(m))))
  const count = messages.length
  const rootSig = yield* identity.sign(batchStatement(count, toBase64Url(root)))
  return paths.map((path, i) => [rootSig, String(i), String(count), ...path.map(toBase64Url)].join("."))
})

interface BatchProof {
  readonly rootSig: string
  readonly index: number
  readonly count: number
  readonly path: ReadonlyArray<Uint8Array>
}

const DECIMAL = /^(0|[1-9][0-9]?)$/

/** The parts of a batch `sig`, or `undefined` when malformed. */
const parseBatchSig = (sig: string): BatchProof | undefined => {
  const parts = sig.split(".")
  if (parts.length < 4 || parts.length > 3 + 6) return undefined
  const [rootSig, indexText, countText] = parts as [string, string, string]
  if (!DECIMAL.test(indexText) || !DECIMAL.test(countText)) return undefined
  const index = Number(indexText)
  const count = Number(countText)
  if (count < 2 || count > MAX_BATCH_ACCEPTED || index >= count) return undefined
  const path: Array<Uint8Array> = []
  for (let i = 3; i < parts.length; i++) {
    const text = parts[i]!
    const hash = text.length === 43 ? cryptoBackend.fromBase64Url(text) : undefined
    if (hash === undefined || hash.length !== 32) return undefined
    path.push(hash)
  }
  return { rootSig, index, count, path }
}

/** Outcomes of batch root checks: "<key> <root sig> <count> <root>" -> valid. */
const rootChecks = new Map<string, MaybePromise<boolean>>()
const ROOT_CHECKS_LIMIT = 4096

/** The signature check of `m` (plain or batch), synchronous where the platform can. */
export const verifyMessageSignature = (m: SignedMessage): MaybePromise<boolean> => {
  if (!m.sig.includes(".")) return cryptoBackend.verify(m.key, m.sig, signedBytes(m))
  const proof = parseBatchSig(m.sig)
  if (proof === undefined) return false
  const hash = cryptoBackend.sha256
  const root = rootFromProof(hash, leafHash(hash, signedBytes(m)), proof.index, proof.count, proof.path)
  if (root === undefined) return false
  const rootText = cryptoBackend.toBase64Url(root)
  const checkKey = `${m.key} ${proof.rootSig} ${proof.count} ${rootText}`
  const known = rootChecks.get(checkKey)
  if (known !== undefined) return known
  const outcome = cryptoBackend.verify(m.key, proof.rootSig, batchStatement(proof.count, rootText))
  if (rootChecks.size >= ROOT_CHECKS_LIMIT) rootChecks.clear()
  rootChecks.set(checkKey, outcome)
  return outcome
}

// ---------------------------------------------------------------------------------------------
// checking

export type OriginCheck = "verified" | "unverified" | "forged"

/** What `checkOrigin` reads of a message. */
export interface SignedMessage {
  readonly t: string
  readonly kind?: string
  readonly to?: string
  readonly id: string
  readonly origin: PeerId
  readonly key: string
  readonly ts: number
  readonly content: Schema.Json
  readonly attempt?: number
  readonly bin?: string
  readonly sig: string
}

const decide = (
  keys: PeerKeys["Service"],
  m: SignedMessage,
  valid: boolean,
  keyId: string | undefined,
  allowUnverified: boolean
): OriginCheck => {
  if (!valid) return "forged"
  if (keyId === m.origin) {
    // a key the id derives from replaces whatever an impostor pinned first
    keys.pin(m.origin, m.key, true)
    return "verified"
  }
  // a custom id (one key could mint any number of them): only where the mesh allows them,
  // and then only the first key seen for it
  if (!allowUnverified) return "forged"
  return keys.pin(m.origin, m.key) ? "unverified" : "forged"
}

/**
 * Checks a received message's origin signature against what this peer knows. An origin
 * whose id does not derive from its key counts as `"forged"` unless `allowUnverified`.
 * Never fails: a platform error while verifying counts as forged.
 */
export const checkOrigin = (keys: PeerKeys["Service"], m: SignedMessage, allowUnverified: boolean): Effect.Effect<OriginCheck> =>
  Effect.suspend(() => {
    const valid = verifyMessageSignature(m)
    const keyId = cryptoBackend.peerIdOf(m.key)
    return typeof valid === "boolean" && !(keyId instanceof Promise)
      ? Effect.succeed(decide(keys, m, valid, keyId, allowUnverified))
      : Effect.tryPromise(async () => decide(keys, m, await valid, await keyId, allowUnverified)).pipe(
        Effect.orElseSucceed((): OriginCheck => "forged")
      )
  })

/** What a delivered gossip or direct frame looks like to subscribers. */
export const toDelivered = (
  frame: {
    readonly id: string
    readonly kind: string
    readonly origin: PeerId
    readonly content: Schema.Json
    readonly hops: number
    readonly ttl: number
    readonly ts: number
    readonly payload?: Uint8Array
  },
  check: OriginCheck,
  via?: PeerId
): Delivered => ({
  id: frame.id,
  kind: frame.kind,
  origin: frame.origin,
  content: frame.content,
  hops: frame.hops + 1,
  ttl: frame.ttl,
  timestamp: frame.ts,
  verified: check === "verified",
  ...(via === undefined ? {} : { via }),
  ...(frame.payload === undefined ? {} : { payload: frame.payload })
})
