import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { keyDirectoryKey, validDirectoryValue } from "../../src/crypto/directoryRecord.ts"
import { flipChar, makePeer } from "./support.ts"

describe("key directory records", () => {
  it.effect("hold the publisher's own announcement, made with the key that signed the record", () =>
    Effect.gen(function*() {
      const alice = yield* makePeer()
      const bob = yield* makePeer()
      const record = (value: unknown, over: Partial<{ publisher: string; publisherKey: string; deleted: boolean }> = {}) => ({
        key: keyDirectoryKey(alice.identity.peerId),
        publisher: alice.identity.peerId,
        publisherKey: alice.identity.publicKey,
        deleted: false,
        value,
        ...over
      })
      assert.isTrue(yield* validDirectoryValue(record(alice.announcement)))
      // another peer's (valid) announcement, a tampered one, junk
      assert.isFalse(yield* validDirectoryValue(record(bob.announcement)))
      assert.isFalse(yield* validDirectoryValue(record({ ...alice.announcement, sig: flipChar(alice.announcement.sig, 3) })))
      assert.isFalse(yield* validDirectoryValue(record({ ...alice.announcement, encryptionKey: bob.announcement.encryptionKey })))
      assert.isFalse(yield* validDirectoryValue(record("not an announcement")))
      // signed by another identity than the announcement's
      assert.isFalse(yield* validDirectoryValue(record(alice.announcement, { publisherKey: bob.identity.publicKey })))
      // a deletion carries no value
      assert.isTrue(yield* validDirectoryValue(record(null, { deleted: true })))
      assert.isFalse(yield* validDirectoryValue(record(alice.announcement, { deleted: true })))
      // outside the directory: not this check's business
      assert.isTrue(yield* validDirectoryValue({ ...record("anything"), key: "room/topic" }))
    }))
})
