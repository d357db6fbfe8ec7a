import { idWithPrefix, prng, randomId } from "../support/random.ts"
import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import {
  closest,
  commonPrefixLength,
  compareDistance,
  distance,
  fromBigInt,
  isInitiator,
  isPeerIdString,
  makePeerId,
  PeerId,
  randomPeerId,
  sortByDistance,
  toBigInt,
  toHex
} from "../../src/schema/PeerId.ts"

/** Brute force: the id as a bigint, built nibble by nibble (independent of `BigInt("0x...")`). */
const bruteBig = (id: string): bigint => {
  let n = 0n
  for (const c of id) n = n * 16n + BigInt(parseInt(c, 16))
  return n
}
/** Brute force: common leading bits, one bit at a time. */
const bruteCpl = (a: string, b: string): number => {
  const x = bruteBig(a) ^ bruteBig(b)
  for (let i = 159; i >= 0; i--) if ((x >> BigInt(i)) & 1n) return 159 - i
  return 160
}
const cmpBig = (x: bigint, y: bigint) => (x < y ? -1 : x > y ? 1 : 0)

const decode = Schema.decodeUnknownSync(PeerId)
const HEX = "0123456789abcdef0123456789ABCDEF01234567"
const ZERO = "0".repeat(40)
const MAX = "f".repeat(40)

describe("PeerId schema", () => {
  it("accepts 40 hex characters in any case and lowercases them", () => {
    expect(decode("a".repeat(40))).toBe("a".repeat(40))
    expect(decode("ABCDEF".repeat(6) + "0123")).toBe("abcdef".repeat(6) + "0123")
    expect(decode(HEX)).toBe(HEX.toLowerCase())
    expect(decode(ZERO)).toBe(ZERO)
    expect(decode(MAX.toUpperCase())).toBe(MAX)
  })

  it("lowercases random mixed-case ids and leaves lowercase ones unchanged", () => {
    const random = prng(1)
    for (let i = 0; i < 200; i++) {
      const id = randomId(random)
      const mixed = Array.from(id, (c) => (random() < 0.5 ? c.toUpperCase() : c)).join("")
      expect(decode(mixed)).toBe(id)
      expect(decode(id)).toBe(id)
    }
  })

  it.each([
    ["39 characters", "a".repeat(39)],
    ["41 characters", "a".repeat(41)],
    ["empty", ""],
    ["a non-hex letter", "g" + "a".repeat(39)],
    ["a 0x prefix", "0x" + "a".repeat(38)],
    ["a space", " " + "a".repeat(39)],
    ["a trailing newline", "a".repeat(40) + "\n"],
    ["a leading newline", "\n" + "a".repeat(40)],
    ["a dash", "a".repeat(20) + "-" + "a".repeat(19)],
    ["a unicode digit", "\u0660" + "a".repeat(39)]
  ])("rejects %s", (_, input) => {
    expect(() => decode(input)).toThrow()
    expect(isPeerIdString(input)).toBe(false)
    expect(() => makePeerId(input)).toThrow(TypeError)
  })

  it.each([
    ["a number", 123],
    ["a bigint", 10n],
    ["null", null],
    ["undefined", undefined],
    ["an object", { id: "a".repeat(40) }],
    ["an array", ["a".repeat(40)]],
    ["a boolean", true]
  ])("rejects %s", (_, input) => {
    expect(() => decode(input)).toThrow()
    expect(isPeerIdString(input)).toBe(false)
  })

  it("makePeerId and isPeerIdString agree with the schema", () => {
    expect(makePeerId(HEX)).toBe(HEX.toLowerCase())
    expect(isPeerIdString(HEX)).toBe(true)
  })
})

describe("bigint conversions", () => {
  it("toBigInt and fromBigInt round trip and pad to 40 characters", () => {
    expect(toBigInt(ZERO)).toBe(0n)
    expect(toBigInt(MAX)).toBe((1n << 160n) - 1n)
    expect(fromBigInt(0n)).toBe(ZERO)
    expect(fromBigInt(1n)).toBe("0".repeat(39) + "1")
    const random = prng(2)
    for (let i = 0; i < 200; i++) {
      const id = randomId(random)
      expect(toBigInt(id)).toBe(bruteBig(id))
      expect(fromBigInt(toBigInt(id))).toBe(id)
    }
  })

  it("toHex is lowercase, two digits per byte", () => {
    expect(toHex(new Uint8Array([]))).toBe("")
    expect(toHex(new Uint8Array([0, 1, 0x0f, 0x10, 0xab, 0xff]))).toBe("00010f10abff")
  })

  it("randomPeerId makes distinct valid lowercase ids", () => {
    const ids = new Set(Array.from({ length: 50 }, () => randomPeerId()))
    expect(ids.size).toBe(50)
    for (const id of ids) {
      expect(id).toMatch(/^[0-9a-f]{40}$/)
      expect(decode(id)).toBe(id)
    }
  })
})

describe("XOR metric", () => {
  it("distance: known values and metric properties", () => {
    expect(distance(ZERO, ZERO)).toBe(0n)
    expect(distance(ZERO, MAX)).toBe((1n << 160n) - 1n)
    expect(distance("8" + "0".repeat(39), ZERO)).toBe(1n << 159n)
    // case does not matter
    expect(distance(HEX, HEX.toLowerCase())).toBe(0n)
    const random = prng(3)
    for (let i = 0; i < 300; i++) {
      const a = randomId(random)
      const b = randomId(random)
      const c = randomId(random)
      expect(distance(a, b)).toBe(bruteBig(a) ^ bruteBig(b))
      expect(distance(a, b)).toBe(distance(b, a))
      expect(distance(a, a)).toBe(0n)
      if (a !== b) expect(distance(a, b) > 0n).toBe(true)
      // XOR triangle equality: d(a,c) = d(a,b) ^ d(b,c), hence <= d(a,b) + d(b,c)
      expect(distance(a, c)).toBe(distance(a, b) ^ distance(b, c))
      expect(distance(a, c) <= distance(a, b) + distance(b, c)).toBe(true)
    }
  })

  it("compareDistance agrees with brute force bigint comparison", () => {
    const random = prng(4)
    for (let i = 0; i < 500; i++) {
      const t = randomId(random)
      const a = randomId(random)
      // sometimes share a long prefix with t so the comparison is close
      const b = random() < 0.5 ? randomId(random) : idWithPrefix(t, Math.floor(random() * 160), random)
      const expected = cmpBig(bruteBig(a) ^ bruteBig(t), bruteBig(b) ^ bruteBig(t))
      expect(Math.sign(compareDistance(t)(a, b))).toBe(expected)
      expect(Math.sign(compareDistance(t)(b, a))).toBe(-expected)
      expect(compareDistance(t)(a, a)).toBe(0)
      expect(compareDistance(t)(t, a)).toBeLessThanOrEqual(0)
    }
  })

  it("compareDistance: the target is closest to itself, and the complement farthest", () => {
    const t = HEX.toLowerCase()
    const complement = fromBigInt(toBigInt(t) ^ ((1n << 160n) - 1n))
    expect(compareDistance(t)(t, complement)).toBeLessThan(0)
    expect(compareDistance(t)(complement, t)).toBeGreaterThan(0)
  })

  it("sortByDistance equals a brute force sort, leaves the input alone, and accepts any iterable", () => {
    const random = prng(5)
    for (let round = 0; round < 60; round++) {
      const t = randomId(random)
      const n = Math.floor(random() * 80)
      const ids = Array.from({ length: n }, () =>
        random() < 0.5 ? randomId(random) : idWithPrefix(t, Math.floor(random() * 160), random)
      )
      if (n > 0 && random() < 0.5) ids.push(t)
      const before = [...ids]
      const expected = [...ids].sort((x, y) => cmpBig(bruteBig(x) ^ bruteBig(t), bruteBig(y) ^ bruteBig(t)))
      const sorted = sortByDistance(t, ids)
      expect(sorted).toEqual(expected)
      expect(sorted).not.toBe(ids)
      expect(ids).toEqual(before)
      expect(sortByDistance(t, new Set(ids))).toEqual([...new Set(expected)])
      for (let i = 1; i < sorted.length; i++) {
        expect(compareDistance(t)(sorted[i - 1]!, sorted[i]!)).toBeLessThanOrEqual(0)
      }
    }
  })

  it("sortByDistance: a small worked example", () => {
    const id = (n: number) => fromBigInt(BigInt(n))
    // distances to 0b0100: 5->1, 6->2, 0->4, 12->8, 1->5
    expect(sortByDistance(id(4), [id(12), id(0), id(1), id(6), id(5)])).toEqual([id(5), id(6), id(0), id(1), id(12)])
  })

  it("closest takes the first k of the distance order; k <= 0 gives nothing", () => {
    const random = prng(6)
    for (let round = 0; round < 60; round++) {
      const t = randomId(random)
      const ids = Array.from({ length: Math.floor(random() * 50) }, () => randomId(random))
      const expected = [...ids].sort((x, y) => cmpBig(bruteBig(x) ^ bruteBig(t), bruteBig(y) ^ bruteBig(t)))
      for (const k of [0, 1, 3, 8, 49, 50, 100]) {
        expect(closest(t, ids, k)).toEqual(expected.slice(0, k))
      }
      expect(closest(t, ids, -1)).toEqual([])
      expect(closest(t, ids, -100)).toEqual([])
    }
  })

  it("commonPrefixLength: known values", () => {
    expect(commonPrefixLength(ZERO, ZERO)).toBe(160)
    expect(commonPrefixLength(MAX, MAX.toUpperCase())).toBe(160)
    expect(commonPrefixLength(ZERO, MAX)).toBe(0)
    expect(commonPrefixLength(ZERO, "8" + "0".repeat(39))).toBe(0)
    expect(commonPrefixLength(ZERO, "4" + "0".repeat(39))).toBe(1)
    expect(commonPrefixLength(ZERO, "1" + "0".repeat(39))).toBe(3)
    expect(commonPrefixLength(ZERO, "0" + "8" + "0".repeat(38))).toBe(4)
    expect(commonPrefixLength(ZERO, "0".repeat(39) + "1")).toBe(159)
  })

  it("commonPrefixLength agrees with a bit-by-bit count, for every prefix length", () => {
    const random = prng(7)
    for (let bits = 0; bits < 160; bits++) {
      const a = randomId(random)
      const b = idWithPrefix(a, bits, random)
      expect(commonPrefixLength(a, b)).toBe(bits)
      expect(commonPrefixLength(b, a)).toBe(bits)
      expect(bruteCpl(a, b)).toBe(bits)
    }
    for (let i = 0; i < 300; i++) {
      const a = randomId(random)
      const b = randomId(random)
      expect(commonPrefixLength(a, b)).toBe(bruteCpl(a, b))
    }
  })

  it("isInitiator: the greater id offers, exactly one of a distinct pair does, never with itself", () => {
    expect(isInitiator("b".repeat(40), "a".repeat(40))).toBe(true)
    expect(isInitiator("a".repeat(40), "b".repeat(40))).toBe(false)
    expect(isInitiator("a" + "0".repeat(39), "9" + "f".repeat(39))).toBe(true)
    expect(isInitiator(HEX.toLowerCase(), HEX.toLowerCase())).toBe(false)
    const random = prng(8)
    for (let i = 0; i < 500; i++) {
      const a = randomId(random)
      const b = random() < 0.3 ? idWithPrefix(a, Math.floor(random() * 160), random) : randomId(random)
      // for normalised (lowercase) ids the lexicographic rule is the numeric order
      expect(isInitiator(a, b)).toBe(bruteBig(a) > bruteBig(b))
      if (a !== b) expect(isInitiator(a, b)).not.toBe(isInitiator(b, a))
    }
  })
})
