/** The inbox numbering of a Redis deployment's server (RedisState.inboxGap): what counts as lost. */
import { describe, expect, it } from "vitest"
import type { PeerId } from "../../src/schema/PeerId.ts"
import { RedisState } from "../../src/server/RedisState.ts"

describe("RedisState.inboxGap", () => {
  it("counts the numbers skipped; a new server starts at 0; a restarted Redis (lower numbers) or an unknown start is no gap", () => {
    const state = new RedisState()
    expect(state.inboxGap(1)).toBe(0)
    expect(state.inboxGap(2)).toBe(0)
    expect(state.inboxGap(5)).toBe(2)
    expect(state.inboxGaps).toBe(1)
    // Redis started over: its numbers begin again
    expect(state.inboxGap(1)).toBe(0)
    expect(state.inboxGap(2)).toBe(0)
    // after an epoch change the last number is unknown: the next one is taken as it comes
    state.inboxSeq = undefined
    expect(state.inboxGap(40)).toBe(0)
    expect(state.inboxGap(41)).toBe(0)
    expect(state.inboxGaps).toBe(1)
    // the very first message of a new server, numbered 3: two were lost
    expect(new RedisState().inboxGap(3)).toBe(2)
  })

  it("reads a numbered inbox message: frames for local peers, the probe ignored", () => {
    const state = new RedisState()
    const sent: Array<string> = []
    const id = "ab".repeat(20) as PeerId
    state.locals.set(id, { peerId: id, sink: { send: (f) => sent.push(f), close: () => undefined }, connectedAt: 0, announced: undefined, proven: false, knows: new Set() })
    expect(state.onInbox(`7\nf\n${id}\n-\n\n{"type":"offer"}`)).toEqual([])
    expect(state.onInbox("8\np")).toEqual([])
    expect(sent).toEqual(["{\"type\":\"offer\"}"])
  })
})
