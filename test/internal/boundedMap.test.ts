import { describe, expect, it } from "vitest"
import { BoundedMap } from "../../src/internal/boundedMap.ts"

describe("BoundedMap", () => {
  it("never holds more than its cap: the oldest set goes first", () => {
    const evicted: Array<number> = []
    const m = new BoundedMap<number, string>(3, (k) => evicted.push(k))
    for (let i = 0; i < 10; i++) m.set(i, `v${i}`)
    expect(m.size).toBe(3)
    expect([...m.keys()]).toEqual([7, 8, 9])
    expect(evicted).toEqual([0, 1, 2, 3, 4, 5, 6])
  })

  it("touch and set make an entry the most recent", () => {
    const m = new BoundedMap<string, number>(2)
    m.set("a", 1).set("b", 2)
    expect(m.touch("a")).toBe(1)
    m.set("c", 3)
    expect([...m.keys()]).toEqual(["a", "c"])
    m.set("a", 4)
    m.set("d", 5)
    expect([...m.entries()]).toEqual([["a", 4], ["d", 5]])
    expect(m.touch("zz")).toBeUndefined()
  })

  it("a cap below one is one", () => {
    const m = new BoundedMap<number, number>(0)
    m.set(1, 1).set(2, 2)
    expect([...m]).toEqual([[2, 2]])
  })
})
