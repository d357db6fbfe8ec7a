/**
 * Landmarks (pure): who is one, the network size estimate, the beacon interval that keeps the
 * presence a peer hears bounded, and the bounded table of live landmarks with homes.
 */
import { describe, expect, it } from "vitest"
import {
  beaconInterval,
  estimateNetworkSize,
  expectedLandmarks,
  isLandmark,
  LANDMARK_GRACE,
  LandmarkTable,
  LANDMARKS_LIMIT,
  landmarkShare,
  rankOf
} from "../../src/internal/landmarks.ts"
import { prng, randomId } from "../support/random.ts"

const random = prng(7)
const randomPeerId = () => randomId(random)

const withRank = (prefix: string, rank: number) => prefix.padEnd(32, "0") + Math.floor(rank * 2 ** 32).toString(16).padStart(8, "0")

describe("landmark rules", () => {
  it("every peer of a tiny network is a landmark; then about 2 sqrt(n)", () => {
    expect(landmarkShare(1)).toBe(1)
    expect(landmarkShare(4)).toBe(1)
    expect(expectedLandmarks(100)).toBeCloseTo(20)
    expect(expectedLandmarks(10_000)).toBeCloseTo(200)
  })

  it("the beacon interval grows with the landmarks, so presence per peer stays about 4 per presenceInterval", () => {
    expect(beaconInterval(5000, 4)).toBe(5000)
    for (const n of [100, 1000, 10_000, 100_000]) {
      const perInterval = expectedLandmarks(n) / (beaconInterval(5000, n) / 5000)
      expect(perInterval).toBeCloseTo(4, 5)
    }
  })

  it("rank is the low 32 bits of the id; hysteresis keeps a landmark between share and 1.5 share", () => {
    expect(rankOf(withRank("ab", 0.25))).toBeCloseTo(0.25, 6)
    const share = landmarkShare(10_000) // 0.02
    const id = withRank("cd", share * 1.2)
    expect(isLandmark(id, 10_000, false)).toBe(false)
    expect(isLandmark(id, 10_000, true)).toBe(true)
    expect(isLandmark(withRank("cd", share * 1.6), 10_000, true)).toBe(false)
    expect(isLandmark(withRank("cd", share * 0.5), 10_000, false)).toBe(true)
  })

  it("estimates the network size from the XOR-closest known ids, within a factor of about 2", () => {
    for (const n of [200, 2000]) {
      const ids = Array.from({ length: n }, () => randomPeerId())
      const estimates = ids.slice(0, 50).map((self) => estimateNetworkSize(self, ids))
      const sorted = [...estimates].sort((a, b) => a - b)
      const median = sorted[25]!
      expect(median).toBeGreaterThan(n / 2)
      expect(median).toBeLessThan(n * 2)
    }
    expect(estimateNetworkSize("a".repeat(40), [])).toBe(1)
    expect(estimateNetworkSize("a".repeat(40), ["b".repeat(40), "a".repeat(40)])).toBeGreaterThanOrEqual(2)
  })
})

describe("LandmarkTable", () => {
  it("homes a target at the live landmark XOR-closest to it, never at itself", () => {
    const t = new LandmarkTable()
    const l1 = "1".repeat(40)
    const l8 = "8".repeat(40)
    t.heard(l1, 0, 10_000)
    t.heard(l8, 0, 10_000)
    expect(t.home("0".repeat(40), 1000)).toBe(l1)
    expect(t.home("9".repeat(40), 1000)).toBe(l8)
    expect(t.home(l1, 1000)).toBe(l8)
    expect(t.live(1000).sort()).toEqual([l1, l8])
  })

  it("a landmark goes overdue after LANDMARK_GRACE of its intervals; a never-heard id is undefined", () => {
    const t = new LandmarkTable()
    const l = "2".repeat(40)
    t.heard(l, 0, 10_000)
    expect(t.overdue(l, LANDMARK_GRACE * 10_000)).toBe(false)
    expect(t.overdue(l, LANDMARK_GRACE * 10_000 + 1)).toBe(true)
    expect(t.home("0".repeat(40), LANDMARK_GRACE * 10_000 + 1)).toBeUndefined()
    expect(t.overdue("3".repeat(40), 0)).toBeUndefined()
    expect(t.longestInterval(0)).toBe(10_000)
  })

  it("clamps a claimed interval to [1 s, 1 h] and stays bounded whatever the network sends", () => {
    const t = new LandmarkTable()
    t.heard("4".repeat(40), 0, 10)
    expect(t.overdue("4".repeat(40), LANDMARK_GRACE * 1000 + 1)).toBe(true)
    t.heard("5".repeat(40), 0, 1e12)
    expect(t.longestInterval(0)).toBe(3_600_000)
    for (let i = 0; i < LANDMARKS_LIMIT + 100; i++) t.heard(randomPeerId(), 0, 5000)
    expect(t.size).toBe(LANDMARKS_LIMIT)
  })

  it("hearsay: a neighbour's landmark is live for one interval, never overrides one heard itself, and is never handed on", () => {
    const t = new LandmarkTable()
    const told = "6".repeat(40)
    const heard = "7".repeat(40)
    expect(t.hearsay(told, 0, 10_000)).toBe(true)
    expect(t.home("6".repeat(39) + "0", 5000)).toBe(told)
    expect(t.live(10_001)).toEqual([])
    // a provisional landmark never counts as overdue (bridging needs its own presence)
    expect(t.overdue(told, 50_000)).toBeUndefined()
    t.heard(heard, 0, 10_000)
    expect(t.hearsay(heard, 1000, 1000)).toBe(false)
    expect(t.live(20_000)).toEqual([heard])
    expect(t.handoff(1000, 10)).toEqual([[heard, 10_000]])
    // its own presence makes a provisional one real
    t.heard(told, 2000, 10_000)
    expect(t.handoff(3000, 10).map(([id]) => id).sort()).toEqual([told, heard].sort())
    expect(t.handoff(3000, 1)).toEqual([[told, 10_000]])
  })
})
