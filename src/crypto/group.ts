/**
 * Group keys for encrypted broadcasts. A group is owned by the peer that created it: it
 * makes a random AES-256-GCM key per epoch and hands it to every other member in an
 * end-to-end encrypted envelope (`envelope.ts`), whose content is a `GroupKeyHandoff`.
 * Every change of members (adding or removing) makes a new key under epoch + 1, handed to
 * the members of the new epoch only, so a removed member cannot read what is sent after its
 * removal, and a new one cannot read what was sent before it joined (as in MLS).
 *
 * A group message is `AES-256-GCM(group key, random iv, content, aad = header)` signed by its
 * sender's Ed25519 identity, so members cannot speak for each other. A receiver refuses it
 * unless it is for the current epoch: an older epoch is `old-epoch` (a message sent just
 * before a rotation is lost, deliberately: the key it was sealed with may be held by a
 * removed member), a newer one is `unknown-key` (its hand-off has not arrived yet). Members
 * accept hand-offs only from the group's owner (pinned by the first hand-off accepted), for a
 * newer epoch, and only when they are listed in it.
 *
 * @since 2.0.0
 */
import { Clock, Effect, Schema } from "effect"
import { CryptoError } from "./CryptoError.ts"
import {
  checkSender,
  checkTime,
  Ciphertext,
  type Decrypted,
  decodeContent,
  encodeContent,
  encrypt,
  type Envelope,
  envelopeDefaults,
  type EnvelopeOptions,
  Id16,
  Iv12,
  MAX_ENVELOPE_CHARS,
  MAX_PLAINTEXT_BYTES
} from "./envelope.ts"
import { fromJsonInput, Key32, Millis, PeerIdHex, Signature64, type Signer, tryDecode } from "./keys.ts"
import { type Bytes, fromBase64Url, primitives, randomBytes, toBase64Url, utf8 } from "./primitives.ts"
import type { ReplayGuard } from "./replay.ts"

/** Most members a group can have (hand-offs are one envelope each). */
export const MAX_GROUP_MEMBERS = 1024

/** 1 to 128 characters of letters, digits and `. _ ~ @ # + = / -` (no `:`, which separates signed fields). */
export const GroupId = Schema.String.check(Schema.isPattern(/^[A-Za-z0-9._~@#+=/-]{1,128}$/))
const Epoch = Schema.Number.check(Schema.isInt(), Schema.isBetween({ minimum: 0, maximum: 2 ** 31 - 1 }))

/** The content of the envelope that hands a group key to one member. */
export const GroupKeyHandoff = Schema.Struct({
  t: Schema.Literal("pp-group-key"),
  v: Schema.Literal(1),
  groupId: GroupId,
  epoch: Epoch,
  owner: PeerIdHex,
  members: Schema.Array(PeerIdHex).check(Schema.isBetweenLength(1, MAX_GROUP_MEMBERS)),
  key: Key32
})
export type GroupKeyHandoff = typeof GroupKeyHandoff.Type

export const GroupMessage = Schema.Struct({
  v: Schema.Literal(1),
  t: Schema.Literal("group"),
  id: Id16,
  groupId: GroupId,
  epoch: Epoch,
  from: PeerIdHex,
  fromKey: Key32,
  ts: Millis,
  iv: Iv12,
  ct: Ciphertext,
  sig: Signature64
})
export type GroupMessage = typeof GroupMessage.Type

/** One epoch of a group, as its owner and its members hold it. */
export interface GroupKey {
  readonly groupId: string
  readonly epoch: number
  readonly owner: string
  /** Sorted, the owner included. */
  readonly members: ReadonlyArray<string>
  /** The AES-256-GCM key. */
  readonly raw: Bytes
}

export interface GroupDecrypted {
  readonly id: string
  readonly groupId: string
  readonly epoch: number
  readonly from: string
  readonly ts: number
  readonly content: Schema.Json
}

const fail = (reason: CryptoError["reason"], message: string) => Effect.fail(new CryptoError({ reason, message }))
const isPeerId = (s: string) => /^[0-9a-f]{40}$/.test(s)

/** A new epoch of `groupId` owned by `owner`, for `members` (the owner is added). */
export const makeGroupKey = (
  groupId: string,
  owner: string,
  members: Iterable<string>,
  epoch: number,
  maxMembers = MAX_GROUP_MEMBERS
): Effect.Effect<GroupKey, CryptoError> =>
  Effect.gen(function*() {
    if (!Schema.is(GroupId)(groupId)) return yield* fail("malformed", `invalid group id ${JSON.stringify(groupId)}`)
    if (!Schema.is(Epoch)(epoch)) return yield* fail("limit", `epoch ${String(epoch)} out of range`)
    const set = new Set([owner])
    for (const member of members) {
      const id = String(member).toLowerCase()
      if (!isPeerId(id)) return yield* fail("malformed", `invalid member id ${JSON.stringify(member)}`)
      set.add(id)
    }
    if (set.size > Math.min(maxMembers, MAX_GROUP_MEMBERS)) return yield* fail("limit", `${set.size} members exceed the limit of ${maxMembers}`)
    const raw = randomBytes(32)
    return { groupId, epoch, owner, members: [...set].sort(), raw }
  })

/** `group` under its next epoch, with `members` (owner only: others hold no right to change it). */
export const rotate = (group: GroupKey, self: string, members: Iterable<string>, maxMembers?: number): Effect.Effect<GroupKey, CryptoError> =>
  group.owner !== self
    ? fail("not-owner", `only ${group.owner} changes the members of ${group.groupId}`)
    : makeGroupKey(group.groupId, group.owner, members, group.epoch + 1, maxMembers)

export const handoffContent = (group: GroupKey): GroupKeyHandoff => ({
  t: "pp-group-key",
  v: 1,
  groupId: group.groupId,
  epoch: group.epoch,
  owner: group.owner,
  members: group.members,
  key: toBase64Url(group.raw)
})

/**
 * The hand-off envelopes of `group` for each member but the owner; members whose encryption
 * key `keyOf` does not know are listed in `missing` (hand theirs out once their key arrives).
 */
export const handOut = (
  group: GroupKey,
  owner: Signer,
  keyOf: (peerId: string) => string | undefined,
  options?: EnvelopeOptions
): Effect.Effect<{ readonly handoffs: ReadonlyArray<{ readonly peerId: string; readonly envelope: Envelope }>; readonly missing: ReadonlyArray<string> }, CryptoError> =>
  Effect.gen(function*() {
    const content = handoffContent(group)
    const handoffs: Array<{ readonly peerId: string; readonly envelope: Envelope }> = []
    const missing: Array<string> = []
    for (const peerId of group.members) {
      if (peerId === owner.peerId) continue
      const key = keyOf(peerId)
      if (key === undefined) missing.push(peerId)
      else handoffs.push({ peerId, envelope: yield* encrypt(content, peerId, key, owner, options) })
    }
    return { handoffs, missing }
  })

const decodeHandoff = Schema.decodeUnknownOption(GroupKeyHandoff)

/**
 * The group key of an opened hand-off envelope, checked against what this peer (`self`)
 * already holds for the group: from the owner, a newer epoch, naming `self` as a member. The
 * same hand-off twice gives back `current`.
 */
export const acceptHandoff = (decrypted: Decrypted, self: string, current: GroupKey | undefined): Effect.Effect<GroupKey, CryptoError> =>
  Effect.gen(function*() {
    const h = tryDecode(decodeHandoff, decrypted.content)
    if (h === undefined) return yield* fail("malformed", "not a group key hand-off")
    if (h.owner !== decrypted.from) return yield* fail("not-owner", `${decrypted.from} hands out a key of ${h.owner}'s group`)
    if (current !== undefined) {
      if (current.owner !== h.owner) return yield* fail("not-owner", `${h.groupId} is ${current.owner}'s group`)
      if (h.epoch === current.epoch && h.key === toBase64Url(current.raw)) return current
      if (h.epoch <= current.epoch) return yield* fail("old-epoch", `epoch ${h.epoch} of ${h.groupId}; ${current.epoch} is current`)
    }
    if (!h.members.includes(self)) return yield* fail("not-member", `${self} is not a member of ${h.groupId} at epoch ${h.epoch}`)
    const raw = fromBase64Url(h.key, 32)!
    const members = [...new Set(h.members)].sort()
    return { groupId: h.groupId, epoch: h.epoch, owner: h.owner, members, raw }
  })

const header = (m: Omit<GroupMessage, "ct" | "sig" | "v" | "t">): string =>
  `peerpigeon-group:v1:${m.id}:${m.groupId}:${m.epoch}:${m.from}:${m.fromKey}:${m.ts}:${m.iv}`

/** `content` sealed under the group's current key and signed by `sender` (a member). */
export const encryptGroup = (
  content: Schema.Json,
  group: GroupKey,
  sender: Signer,
  options: EnvelopeOptions = {}
): Effect.Effect<GroupMessage, CryptoError> =>
  Effect.gen(function*() {
    if (!group.members.includes(sender.peerId)) return yield* fail("not-member", `${sender.peerId} is not a member of ${group.groupId}`)
    const plaintext = yield* encodeContent(content, options.maxPlaintextBytes ?? envelopeDefaults.maxPlaintextBytes)
    const iv = randomBytes(12)
    const head = {
      id: toBase64Url(randomBytes(16)),
      groupId: group.groupId,
      epoch: group.epoch,
      from: sender.peerId,
      fromKey: sender.publicKey,
      ts: yield* Clock.currentTimeMillis,
      iv: toBase64Url(iv)
    }
    const aad = header(head)
    const ct = toBase64Url(yield* primitives.seal(group.raw, iv, plaintext, utf8(aad)))
    const sig = yield* sender.sign(utf8(`${aad}:${ct}`))
    return { v: 1 as const, t: "group" as const, ...head, ct, sig }
  })

const decodeMessage = Schema.decodeUnknownOption(GroupMessage)

/** Opens a group message with the key `groupOf` holds for its group (this peer's current epoch). */
export const decryptGroup = (
  input: unknown,
  groupOf: (groupId: string) => GroupKey | undefined,
  replay: ReplayGuard,
  options: EnvelopeOptions = {}
): Effect.Effect<GroupDecrypted, CryptoError> =>
  Effect.gen(function*() {
    const m = tryDecode(decodeMessage, fromJsonInput(input, MAX_ENVELOPE_CHARS))
    if (m === undefined) return yield* fail("malformed", "not a group message")
    const group = groupOf(m.groupId)
    if (group === undefined) return yield* fail("unknown-group", `no key for group ${m.groupId}`)
    if (m.epoch < group.epoch) return yield* fail("old-epoch", `epoch ${m.epoch} of ${m.groupId}; ${group.epoch} is current`)
    if (m.epoch > group.epoch) return yield* fail("unknown-key", `epoch ${m.epoch} of ${m.groupId} not received (${group.epoch} held)`)
    if (!group.members.includes(m.from)) return yield* fail("not-member", `${m.from} is not a member of ${m.groupId}`)
    const now = yield* Clock.currentTimeMillis
    yield* checkTime(m.ts, now, options)
    const iv = fromBase64Url(m.iv, 12)
    const ct = fromBase64Url(m.ct, Math.min(options.maxPlaintextBytes ?? envelopeDefaults.maxPlaintextBytes, MAX_PLAINTEXT_BYTES) + 16)
    if (iv === undefined || ct === undefined) return yield* fail("malformed", "a field is not canonical base64url or too long")
    const aad = header(m)
    yield* checkSender(m.from, m.fromKey, m.sig, utf8(`${aad}:${m.ct}`))
    if (!replay.add(`g:${m.groupId}:${m.from}:${m.id}`, m.ts, now)) return yield* fail("replay", `group message ${m.id} from ${m.from} was seen before`)
    const content = yield* decodeContent(yield* primitives.open(group.raw, iv, ct, utf8(aad)))
    return { id: m.id, groupId: m.groupId, epoch: m.epoch, from: m.from, ts: m.ts, content }
  })
