import { assert, describe, it } from "@effect/vitest"
import { Effect, PubSub } from "effect"
import { TestClock } from "effect/testing"
import * as Y from "yjs"
import { BoundedMap } from "../../../src/internal/boundedMap.ts"
import type { PeerId } from "../../../src/schema/PeerId.ts"
import type { StorageEvent } from "../../../src/services/DistributedStorage.ts"
import type { Router } from "../../../src/services/Router.ts"
import { makeDocuments } from "../../../src/storage/documents.ts"
import type { Seen } from "../../../src/storage/events.ts"
import { makeStateSync, RATE, REQUEST_KIND, type StateSyncDeps, TOTAL_RATE } from "../../../src/storage/stateSync.ts"
import { makeRecord, peer } from "./support.ts"

const asker = (i: number) => i.toString(16).padStart(40, "c") as PeerId

describe("state-vector answers are bounded whoever asks", () => {
  it.effect("many askers get at most TOTAL_RATE answers in all; requests refused for other reasons do not use it up", () =>
    Effect.gen(function*() {
      const owner = yield* peer
      const open = (yield* makeRecord(owner, "doc", {}, { space: "public", crdt: true })).record
      const closed = (yield* makeRecord(owner, "secret", {}, { space: "private", crdt: true })).record
      const known = new BoundedMap<string, Seen>(16)
      known.set("doc", { record: open, value: {}, readable: true })
      known.set("secret", { record: closed, value: {}, readable: true })
      const docs = makeDocuments({ maxDocuments: 8, maxSubscriptions: 8, batchMs: 30, syncIntervalMs: 2000 })
      const filled = new Y.Doc()
      filled.getText("body").insert(0, "some history")
      docs.merge("doc", Y.encodeStateAsUpdate(filled))
      docs.merge("secret", Y.encodeStateAsUpdate(filled))
      const answered: Array<PeerId> = []
      const router = { send: (to: PeerId) => Effect.sync(() => answered.push(to)).pipe(Effect.as("id")) } as unknown as Router["Service"]
      const events = yield* PubSub.unbounded<StorageEvent>()
      const sync = makeStateSync({ self: owner.id, router, known, subscribed: new Set(), docs, opener: undefined as never, events } satisfies StateSyncDeps)
      const empty = Y.encodeStateVector(new Y.Doc())
      const ask = (from: PeerId, key: string, epoch: number) =>
        sync.receive({
          id: `m-${from}-${key}`,
          kind: REQUEST_KIND,
          origin: from,
          content: { v: 1, key, owner: owner.id, epoch, n: "AAAAAAAAAAAAAAAA" },
          hops: 1,
          ttl: 10,
          timestamp: 0,
          verified: true,
          payload: empty
        })
      // 300 strangers asking for the private record (no reader slot): refused, nothing counted
      for (let i = 0; i < 300; i++) yield* ask(asker(i), "secret", closed.acl.epoch)
      assert.strictEqual(answered.length, 0)
      // 300 other identities asking for the public one, each within its own rate: only the burst of the total is answered
      for (let i = 300; i < 600; i++) yield* ask(asker(i), "doc", open.acl.epoch)
      assert.strictEqual(answered.length, TOTAL_RATE.burst)
      // one asker alone is held to its own rate
      yield* TestClock.adjust("10 seconds")
      const before = answered.length
      for (let i = 0; i < 50; i++) yield* ask(asker(999), "doc", open.acl.epoch)
      assert.strictEqual(answered.length - before, RATE.burst)
      // a second later the total refills at TOTAL_RATE.perSecond
      yield* TestClock.adjust("1 second")
      const then = answered.length
      for (let i = 1000; i < 1300; i++) yield* ask(asker(i), "doc", open.acl.epoch)
      assert.isAtMost(answered.length - then, TOTAL_RATE.burst)
      assert.isAtLeast(answered.length - then, TOTAL_RATE.perSecond)
    }))
})
