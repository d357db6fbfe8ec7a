import { describe, expect, it } from "vitest"
import { defaultRateLimits, LinkLimiter, resolveRateLimits } from "../../src/internal/linkLimits.ts"

describe("LinkLimiter", () => {
  const limits = resolveRateLimits({
    gossip: { perSecond: 10, burst: 5 },
    strikes: { perSecond: 1, burst: 3 }
  })

  it("accepts within the class limit, then drops, then ends the link once strikes run out", () => {
    const l = new LinkLimiter(limits)
    const verdicts = Array.from({ length: 10 }, () => l.admit("gossip", 0))
    expect(verdicts.slice(0, 5)).toEqual(["accept", "accept", "accept", "accept", "accept"])
    expect(verdicts.slice(5, 8)).toEqual(["drop", "drop", "drop"])
    expect(verdicts[8]).toBe("disconnect")
    expect(l.dropped.gossip).toBe(5)
  })

  it("classes are apart: a gossip flood leaves direct messages alone", () => {
    const l = new LinkLimiter(limits)
    for (let i = 0; i < 7; i++) l.admit("gossip", 0)
    expect(l.admit("direct", 0)).toBe("accept")
    expect(l.dropped.direct).toBe(0)
  })

  it("a sender that keeps to the rate is never refused", () => {
    const l = new LinkLimiter(limits)
    for (let t = 0; t < 10_000; t += 100) expect(l.admit("gossip", t)).toBe("accept")
  })

  it("defaults: an honest burst of the mesh benchmark (7,000 direct messages in a second) passes", () => {
    const l = new LinkLimiter(defaultRateLimits)
    for (let i = 0; i < 7000; i++) expect(l.admit("direct", i / 7)).toBe("accept")
  })
})
