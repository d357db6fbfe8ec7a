/**
 * Decryption against random and mutated input (fast-check): whatever arrives, opening an
 * envelope or a group message never throws or dies; it gives the original content back (a
 * mutation that changed nothing) or a typed `CryptoError`.
 */
import fc from "fast-check"
import { Cause, Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { CryptoError } from "../../src/crypto/CryptoError.ts"
import { decrypt, encrypt, type Envelope } from "../../src/crypto/envelope.ts"
import { decryptGroup, encryptGroup, type GroupMessage, makeGroupKey } from "../../src/crypto/group.ts"
import { verifyAnnouncement } from "../../src/crypto/keys.ts"
import { ReplayGuard } from "../../src/crypto/replay.ts"
import { makePeer } from "./support.ts"

const content = { text: "hi", list: [1, 2, { x: null }] }

const { alice, bob, envelope, group, message } = await Effect.runPromise(Effect.gen(function*() {
  const alice = yield* makePeer()
  const bob = yield* makePeer()
  const envelope = yield* encrypt(content, bob.identity.peerId, bob.pair.publicKey, alice.identity)
  const group = yield* makeGroupKey("g", alice.identity.peerId, [bob.identity.peerId], 0)
  const message = yield* encryptGroup(content, group, alice.identity)
  return { alice, bob, envelope, group, message }
}))

/** Objects like `base` with one field replaced, a character of one field changed, or the JSON text damaged. */
const mutations = (base: Envelope | GroupMessage) => {
  const keys = Object.keys(base)
  const stringKeys = keys.filter((k) => typeof (base as Record<string, unknown>)[k] === "string")
  return fc.oneof(
    fc.record({ key: fc.constantFrom(...keys), value: fc.anything() }).map(({ key, value }) => ({ ...base, [key]: value })),
    fc.record({ key: fc.constantFrom(...keys), value: fc.jsonValue() }).map(({ key, value }) => ({ ...base, [key]: value })),
    fc.record({ key: fc.constantFrom(...stringKeys), at: fc.nat(), ch: fc.string({ minLength: 1, maxLength: 1, unit: "binary" }) })
      .map(({ at, ch, key }) => {
        const s = (base as unknown as Record<string, string>)[key]!
        const i = at % Math.max(1, s.length)
        return { ...base, [key]: s.slice(0, i) + ch + s.slice(i + 1) }
      }),
    fc.record({ key: fc.constantFrom(...keys) }).map(({ key }) => {
      const copy: Record<string, unknown> = { ...base }
      delete copy[key]
      return copy
    }),
    fc.record({ at: fc.nat(), ch: fc.string({ maxLength: 3 }) }).map(({ at, ch }) => {
      const text = JSON.stringify(base)
      const i = at % text.length
      return text.slice(0, i) + ch + text.slice(i + 1)
    }),
    fc.anything(),
    fc.string({ maxLength: 500 }),
    fc.dictionary(fc.string(), fc.jsonValue())
  )
}

/** True when the exit is the original content or a typed `CryptoError` (never a defect). */
const typedOrOriginal = (exit: Exit.Exit<{ readonly content: unknown }, CryptoError>) => {
  if (Exit.isSuccess(exit)) return expect(exit.value.content).toEqual(content)
  expect(exit.cause.reasons.every(Cause.isFailReason)).toBe(true)
  for (const reason of exit.cause.reasons) if (Cause.isFailReason(reason)) expect(reason.error).toBeInstanceOf(CryptoError)
}

describe("decryption (property)", () => {
  it("random and mutated envelopes never throw and always give a typed error", async () => {
    await fc.assert(fc.asyncProperty(mutations(envelope), async (input) => {
      const fresh = { ...bob.recipient, replay: new ReplayGuard() }
      typedOrOriginal(await Effect.runPromiseExit(decrypt(input, fresh, alice.identity.peerId)))
    }), { numRuns: 400 })
  })

  it("random and mutated group messages never throw and always give a typed error", async () => {
    await fc.assert(fc.asyncProperty(mutations(message), async (input) => {
      typedOrOriginal(await Effect.runPromiseExit(decryptGroup(input, () => group, new ReplayGuard())))
    }), { numRuns: 400 })
  })

  it("random announcements never throw", async () => {
    await fc.assert(fc.asyncProperty(mutations(bob.announcement as never), async (input) => {
      const exit = await Effect.runPromiseExit(verifyAnnouncement(input))
      if (Exit.isFailure(exit)) expect(exit.cause.reasons.every(Cause.isFailReason)).toBe(true)
    }), { numRuns: 300 })
  })
})
