import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { checkOrigin, MAX_BATCH, signBatch, unsignedFields, type UnsignedMessage, verifyMessageSignature } from "../../src/layers/signedMessages.ts"
import { signedBytes } from "../../src/schema/PeerFrames.ts"
import type { PeerId } from "../../src/schema/PeerId.ts"
import { make as makeIdentity } from "../../src/services/Identity.ts"
import { PeerKeys } from "../../src/services/PeerKeys.ts"

const TO = "ab".repeat(20) as PeerId

const setup = Effect.gen(function*() {
  const identity = yield* makeIdentity()
  const messages = (n: number) =>
    Effect.forEach(Array.from({ length: n }, (_, i) => i), (i) =>
      Effect.map(
        unsignedFields(identity, { seq: i, text: `message ${i}` }, 32),
        (fields): UnsignedMessage => ({ t: "direct", kind: "message", to: TO, ...fields })
      ))
  return { identity, messages }
})

const run = <A>(effect: Effect.Effect<A, unknown>) => Effect.runPromise(effect as Effect.Effect<A>)
const valid = async (m: UnsignedMessage & { readonly sig: string }) => await verifyMessageSignature(m)

describe("batch signatures", () => {
  it("one message gets a plain signature; a batch gets one signature with a path per message", async () => {
    await run(Effect.gen(function*() {
      const { identity, messages } = yield* setup
      const [single] = yield* signBatch(identity, yield* messages(1))
      expect(single).toMatch(/^[A-Za-z0-9_-]{86}$/)
      for (const n of [2, 3, 5, 16, 17, 64]) {
        const batch = yield* messages(n)
        const sigs = yield* signBatch(identity, batch)
        expect(new Set(sigs.map((s) => s.split(".")[0])).size).toBe(1)
        for (let i = 0; i < n; i++) {
          expect(sigs[i]!.split(".").slice(1, 3)).toStrictEqual([String(i), String(n)])
          expect(yield* Effect.promise(() => valid({ ...batch[i]!, sig: sigs[i]! }))).toBe(true)
        }
      }
      expect(MAX_BATCH).toBeLessThanOrEqual(64)
    }))
  })

  it("rejects tampered messages, swapped or edited proofs, and proofs from another batch", async () => {
    await run(Effect.gen(function*() {
      const { identity, messages } = yield* setup
      const batch = yield* messages(11)
      const sigs = yield* signBatch(identity, batch)
      const other = yield* messages(11)
      const otherSigs = yield* signBatch(identity, other)
      const check = (m: UnsignedMessage, sig: string) => Effect.promise(() => valid({ ...m, sig }))
      for (let i = 0; i < 11; i++) {
        const m = batch[i]!
        const sig = sigs[i]!
        const parts = sig.split(".")
        expect(yield* check({ ...m, content: { seq: i, text: "forged" } }, sig)).toBe(false)
        expect(yield* check({ ...m, ts: m.ts + 1 }, sig)).toBe(false)
        expect(yield* check({ ...m, to: "cd".repeat(20) as PeerId }, sig)).toBe(false)
        expect(yield* check(m, sigs[(i + 1) % 11]!)).toBe(false)
        expect(yield* check(m, otherSigs[i]!)).toBe(false)
        expect(yield* check(m, [parts[0], String((i + 1) % 11), ...parts.slice(2)].join("."))).toBe(false)
        // the count is signed with the root: for leaf 0 the path of 11 and 12 leaves is the same shape
        expect(yield* check(m, [...parts.slice(0, 2), "12", ...parts.slice(3)].join("."))).toBe(false)
        expect(yield* check(m, [...parts.slice(0, 2), "011", ...parts.slice(3)].join("."))).toBe(false)
        expect(yield* check(m, parts.slice(0, -1).join("."))).toBe(false)
        expect(yield* check(m, [...parts, parts.at(-1)].join("."))).toBe(false)
        expect(yield* check(m, [otherSigs[i]!.split(".")[0], ...parts.slice(1)].join("."))).toBe(false)
        expect(yield* check(m, sig + "=")).toBe(false)
        expect(yield* check(m, sig)).toBe(true)
      }
      // another key cannot claim the batch
      const stranger = yield* makeIdentity()
      expect(yield* check({ ...batch[0]!, key: stranger.publicKey }, sigs[0]!)).toBe(false)
    }))
  })

  it("checkOrigin: a batch-signed message from its origin is verified; a forged one is not", async () => {
    await run(Effect.gen(function*() {
      const { identity, messages } = yield* setup
      const keys = yield* Effect.gen(function*() {
        return yield* PeerKeys
      }).pipe(Effect.provide(PeerKeys.layer))
      const batch = yield* messages(4)
      const sigs = yield* signBatch(identity, batch)
      expect(yield* checkOrigin(keys, { ...batch[2]!, sig: sigs[2]! }, false)).toBe("verified")
      expect(yield* checkOrigin(keys, { ...batch[2]!, content: "other", sig: sigs[2]! }, false)).toBe("forged")
    }))
  })

  it("checkOrigin: an impostor's first pin for a real id is replaced by the key the id derives from", async () => {
    await run(Effect.gen(function*() {
      const real = yield* makeIdentity()
      const impostor = yield* makeIdentity()
      const keys = yield* Effect.gen(function*() {
        return yield* PeerKeys
      }).pipe(Effect.provide(PeerKeys.layer))
      const as = (signer: typeof real, content: string) =>
        Effect.gen(function*() {
          const m = { t: "gossip" as const, kind: "message", id: content, origin: real.peerId, key: signer.publicKey, ts: 1, content }
          return { ...m, sig: yield* signer.sign(signedBytes(m)) }
        })
      // without allowUnverifiedPeers an id the key does not derive from is never taken
      expect(yield* checkOrigin(keys, yield* as(impostor, "first"), false)).toBe("forged")
      expect(keys.keyOf(real.peerId)).toBeUndefined()
      // with it, the impostor pins first and is taken, unverified
      expect(yield* checkOrigin(keys, yield* as(impostor, "early"), true)).toBe("unverified")
      expect(keys.keyOf(real.peerId)).toBe(impostor.publicKey)
      // the real peer's own key replaces the pin, and from then on the impostor is forged
      expect(yield* checkOrigin(keys, yield* as(real, "genuine"), true)).toBe("verified")
      expect(keys.keyOf(real.peerId)).toBe(real.publicKey)
      expect(yield* checkOrigin(keys, yield* as(impostor, "later"), true)).toBe("forged")
    }))
  })

  it("unsignedFields takes a caller's id of 1 to 64 characters, and refuses others", async () => {
    await run(Effect.gen(function*() {
      const { identity } = yield* setup
      expect((yield* unsignedFields(identity, "x", 8, "my-id")).id).toBe("my-id")
      expect((yield* unsignedFields(identity, "x", 8)).id.length).toBeGreaterThan(0)
      const tooLong = yield* Effect.flip(unsignedFields(identity, "x", 8, "y".repeat(65)))
      expect(tooLong._tag).toBe("InvalidMessage")
      expect((yield* Effect.flip(unsignedFields(identity, "x", 8, "")))._tag).toBe("InvalidMessage")
    }))
  })
})
