import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Queue } from "effect"
import { TestClock } from "effect/testing"
import { contained, restartCount, supervised } from "../../src/internal/supervise.ts"

describe("supervised", () => {
  it.effect("restarts a loop that dies, and the loop keeps serving its queue", () =>
    Effect.gen(function*() {
      const input = yield* Queue.unbounded<number>()
      const handled: Array<number> = []
      const loop = Effect.gen(function*() {
        while (true) {
          const n = yield* Queue.take(input)
          if (n < 0) throw new Error("bad input")
          handled.push(n)
        }
      })
      const fiber = yield* supervised("test/dies", loop).pipe(Effect.forkChild)
      yield* Queue.offerAll(input, [1, -1, 2, -2, 3])
      // each restart waits a pause driven by the Clock
      for (let i = 0; i < 5 && handled.length < 3; i++) yield* TestClock.adjust(100)
      assert.deepStrictEqual(handled, [1, 2, 3])
      assert.strictEqual(restartCount("test/dies"), 2)
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("restarts on a typed failure too, with a growing pause", () =>
    Effect.gen(function*() {
      let runs = 0
      const fiber = yield* supervised("test/fails", Effect.suspend(() => {
        runs++
        return Effect.fail("nope")
      }), { minDelayMs: 10, maxDelayMs: 40 }).pipe(Effect.forkChild)
      yield* Effect.yieldNow
      assert.strictEqual(runs, 1)
      yield* TestClock.adjust(10)
      assert.strictEqual(runs, 2)
      yield* TestClock.adjust(10) // the second pause is 20 ms
      assert.strictEqual(runs, 2)
      yield* TestClock.adjust(10)
      assert.strictEqual(runs, 3)
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("ends with the loop's value when it returns, and stops when interrupted", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* supervised("test/returns", Effect.succeed(7)), 7)
      const fiber = yield* supervised("test/never", Effect.never).pipe(Effect.forkChild)
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(restartCount("test/never"), 0)
    }))

  it.effect("contained: a unit of work that dies is logged and counted, and nothing else ends", () =>
    Effect.gen(function*() {
      const before = restartCount("test/contained")
      assert.strictEqual(yield* contained("test/contained", Effect.die(new Error("bug"))), undefined)
      assert.strictEqual(yield* contained("test/contained", Effect.fail("typed")), undefined)
      assert.strictEqual(yield* contained("test/contained", Effect.succeed(3)), 3)
      assert.strictEqual(restartCount("test/contained"), before + 2)
    }))
})
