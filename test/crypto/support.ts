/**
 * Peers for the crypto tests: an identity, an encryption key pair and its announcement, and
 * a recipient view with its own replay cache. `resign` re-signs a (modified) envelope or group
 * message with some identity, rebuilding the signed bytes from the documented wire format,
 * so a test can tell "the signature caught it" apart from "AES-GCM caught it".
 */
import { assert } from "@effect/vitest"
import { Cause, Effect, Exit } from "effect"
import type { CryptoError } from "../../src/crypto/CryptoError.ts"
import type { Envelope, Recipient } from "../../src/crypto/envelope.ts"
import type { GroupMessage } from "../../src/crypto/group.ts"
import { announce, type EncryptionKeyPair, generateEncryptionKeyPair, type KeyAnnouncement, type Signer } from "../../src/crypto/keys.ts"
import { utf8 } from "../../src/crypto/primitives.ts"
import { ReplayGuard } from "../../src/crypto/replay.ts"
import * as Identity from "../../src/services/Identity.ts"

export interface Peer {
  readonly identity: Signer & { readonly verified: boolean }
  readonly pair: EncryptionKeyPair
  readonly announcement: KeyAnnouncement
  readonly recipient: Recipient
}

export const makePeer = Effect.fn("makePeer")(function*(options: { readonly windowMs?: number; readonly customId?: string } = {}) {
  const identity = yield* Effect.orDie(Identity.make(options.customId))
  const pair = yield* Effect.orDie(generateEncryptionKeyPair(0))
  const announcement = yield* announce(identity, pair.publicKey, 0)
  const replay = new ReplayGuard({ windowMs: options.windowMs ?? 300_000 })
  const recipient: Recipient = { peerId: identity.peerId, replay, keyFor: (kid) => (kid === pair.kid ? pair : undefined) }
  return { identity, pair, announcement, recipient } satisfies Peer
})

/** The envelope's signed bytes, per the wire format in `envelope.ts`. */
export const envelopeSignedBytes = (e: Envelope) =>
  utf8(`peerpigeon-dm:v1:${e.id}:${e.from}:${e.fromKey}:${e.to}:${e.kid}:${e.ts}:${e.epk}:${e.iv}:${e.ct}`)

export const groupSignedBytes = (m: GroupMessage) =>
  utf8(`peerpigeon-group:v1:${m.id}:${m.groupId}:${m.epoch}:${m.from}:${m.fromKey}:${m.ts}:${m.iv}:${m.ct}`)

/** `e` signed anew by `signer` (its `sig` replaced; nothing else changed). */
export const resign = (e: Envelope, signer: Signer) => Effect.map(signer.sign(envelopeSignedBytes(e)), (sig) => ({ ...e, sig }))

export const resignGroup = (m: GroupMessage, signer: Signer) => Effect.map(signer.sign(groupSignedBytes(m)), (sig) => ({ ...m, sig }))

/** Runs `effect` and asserts it failed with a `CryptoError` of `reason` (not a defect). */
export const expectRefusal = <A>(effect: Effect.Effect<A, CryptoError>, reason: CryptoError["reason"]) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(effect)
    if (Exit.isSuccess(exit)) return assert.fail(`expected a refusal (${reason}), got a success`)
    const failures = exit.cause.reasons.filter(Cause.isFailReason)
    assert.strictEqual(failures.length, 1, `expected one typed failure (${reason}), got ${Cause.pretty(exit.cause)}`)
    const failure = failures[0]!.error
    assert.strictEqual(failure._tag, "CryptoError")
    assert.strictEqual(failure.reason, reason, failure.message)
    return failure
  })

/** Flips one base64url character of `text` at `index` (to another valid character). */
export const flipChar = (text: string, index: number) => {
  const c = text[index]!
  return text.slice(0, index) + (c === "A" ? "B" : "A") + text.slice(index + 1)
}
