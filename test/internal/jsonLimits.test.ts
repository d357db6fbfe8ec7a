import { describe, expect, it } from "vitest"
import { deeperThan, MAX_CONTENT_DEPTH, parseBounded } from "../../src/internal/jsonLimits.ts"

const nested = (depth: number) => "[".repeat(depth) + "]".repeat(depth)

describe("jsonLimits", () => {
  it("measures depth: scalars 0, [] 1, objects and arrays alike", () => {
    expect(deeperThan(1, 0)).toBe(false)
    expect(deeperThan([], 0)).toBe(true)
    expect(deeperThan([], 1)).toBe(false)
    expect(deeperThan({ a: [{ b: 1 }] }, 2)).toBe(true)
    expect(deeperThan({ a: [{ b: 1 }] }, 3)).toBe(false)
    expect(deeperThan([1, [2, [3]], { x: null }], 3)).toBe(false)
  })

  it("takes nesting far past what JSON.stringify survives, without throwing", () => {
    const deep: unknown = JSON.parse(nested(200_000))
    expect(() => JSON.stringify(deep)).toThrow()
    expect(deeperThan(deep, MAX_CONTENT_DEPTH)).toBe(true)
    expect(parseBounded(nested(200_000))).toBeUndefined()
  })

  it("parses what is within the limit, refuses invalid JSON", () => {
    expect(parseBounded(nested(MAX_CONTENT_DEPTH), MAX_CONTENT_DEPTH)).toBeDefined()
    expect(parseBounded(nested(MAX_CONTENT_DEPTH + 1), MAX_CONTENT_DEPTH)).toBeUndefined()
    expect(parseBounded("{oops")).toBeUndefined()
    expect(parseBounded(`{"a":[1,2,{"b":"c"}]}`)).toEqual({ a: [1, 2, { b: "c" }] })
  })
})
