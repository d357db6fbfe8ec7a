import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect } from "effect"
import { TestClock } from "effect/testing"
import { makeDocuments } from "../../../src/storage/documents.ts"

const options = { maxDocuments: 8, maxSubscriptions: 8, batchMs: 30, syncIntervalMs: 2000 }

/** The test clock, counting the sleeps started on it: how often the loops wake. */
const countingSleeps = (clock: Clock.Clock, counts: { sleeps: number }): Clock.Clock => ({
  currentTimeMillisUnsafe: () => clock.currentTimeMillisUnsafe(),
  currentTimeMillis: clock.currentTimeMillis,
  currentTimeNanosUnsafe: () => clock.currentTimeNanosUnsafe(),
  currentTimeNanos: clock.currentTimeNanos,
  monotonicTimeNanosUnsafe: () => clock.monotonicTimeNanosUnsafe(),
  monotonicTimeNanos: clock.monotonicTimeNanos,
  sleep: (duration) => {
    counts.sleeps++
    return clock.sleep(duration)
  }
})

/** A fresh document set with its loops started (on a clock counting sleeps), counting what the loops do. */
const started = (save: boolean) =>
  Effect.gen(function*() {
    const docs = makeDocuments(options)
    const counts = { flushed: 0, sent: 0, saved: 0, sleeps: 0 }
    const clock = countingSleeps(yield* Clock.Clock, counts)
    yield* docs.start(
      () => Effect.sync(() => void counts.flushed++),
      () => Effect.sync(() => void counts.sent++),
      save ? () => Effect.sync(() => void counts.saved++) : undefined
    ).pipe(Effect.provideService(Clock.Clock, clock))
    return { docs, counts }
  })

describe("storage document loops", () => {
  it.effect("a peer without documents never wakes for them: no timer, nothing sent, saved or compared", () =>
    Effect.gen(function*() {
      const { counts } = yield* started(true)
      yield* TestClock.adjust("1 minute")
      assert.deepStrictEqual(counts, { flushed: 0, sent: 0, saved: 0, sleeps: 0 })
    }))

  it.effect("edits to a live writable document go out batched (one send per batch), are saved, and the document is compared every syncIntervalMs without an edit", () =>
    Effect.gen(function*() {
      const { counts, docs } = yield* started(true)
      const doc = docs.live("notes", true)
      yield* TestClock.adjust("1 millis")
      // compared at once, then every syncIntervalMs
      assert.strictEqual(counts.flushed, 1)
      doc.getText("body").insert(0, "a")
      doc.getText("body").insert(1, "b")
      yield* TestClock.adjust("29 millis")
      assert.strictEqual(counts.sent, 0)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(counts.sent, 1)
      // an edit made later is its own batch; with no edits nothing more is sent
      doc.getText("body").insert(2, "c")
      yield* TestClock.adjust("1 second")
      assert.strictEqual(counts.sent, 2)
      assert.isAtLeast(counts.saved, 1)
      const saved = counts.saved
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(counts.sent, 2)
      assert.strictEqual(counts.saved, saved)
      // compared at 0, not at 2,000 (edited during that interval: the snapshot waits for a
      // pause), then at 4,000, 6,000, 8,000 and 10,000
      assert.strictEqual(counts.flushed, 5)
    }))

  it.effect("a reader's document is never compared with the DHT and its merges are not sent", () =>
    Effect.gen(function*() {
      const { counts, docs } = yield* started(false)
      const doc = docs.live("notes", false)
      doc.getText("body").insert(0, "local, not publishable")
      yield* TestClock.adjust("10 seconds")
      assert.deepStrictEqual(counts, { flushed: 0, sent: 0, saved: 0, sleeps: 0 })
    }))
})
