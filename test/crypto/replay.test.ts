import { describe, expect, it } from "vitest"
import { ReplayGuard } from "../../src/crypto/replay.ts"

describe("ReplayGuard", () => {
  it("accepts a key once within the window", () => {
    const guard = new ReplayGuard({ windowMs: 1000 })
    expect(guard.add("a", 100, 100)).toBe(true)
    expect(guard.add("a", 100, 200)).toBe(false)
    expect(guard.add("b", 100, 200)).toBe(true)
  })

  it("refuses anything older than the window, and forgets ids once they could only be stale", () => {
    const guard = new ReplayGuard({ windowMs: 1000 })
    expect(guard.add("a", 0, 0)).toBe(true)
    expect(guard.add("old", 0, 1001)).toBe(false)
    expect(guard.add("a", 0, 5000)).toBe(false)
    expect(guard.size).toBe(0)
  })

  it("a clock stepping back does not reopen the window", () => {
    const guard = new ReplayGuard({ windowMs: 1000 })
    expect(guard.add("a", 0, 0)).toBe(true)
    expect(guard.add("b", 5000, 5000)).toBe(true) // "a" is forgotten here
    expect(guard.add("a", 0, 500)).toBe(false)
  })

  it("when full, evicting raises a floor, so an evicted id cannot be replayed", () => {
    const guard = new ReplayGuard({ maxEntries: 3, windowMs: 10_000 })
    for (const [key, ts] of [["a", 10], ["b", 20], ["c", 30], ["d", 40]] as const) expect(guard.add(key, ts, 50)).toBe(true)
    expect(guard.size).toBe(3)
    expect(guard.add("a", 10, 60)).toBe(false) // evicted, but below the floor
    expect(guard.add("e", 10, 60)).toBe(false) // also below: the window narrowed
    expect(guard.add("e", 11, 60)).toBe(true)
    expect(guard.add("b", 20, 60)).toBe(false) // evicted by "e", below the new floor
  })

  it("stays bounded under a flood", () => {
    const guard = new ReplayGuard({ maxEntries: 100, windowMs: 1e9 })
    for (let i = 0; i < 10_000; i++) guard.add(`k${i}`, i, i)
    expect(guard.size).toBe(100)
  })
})
