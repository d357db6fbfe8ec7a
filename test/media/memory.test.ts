/** Media on a memory network (no WebRTC): nothing to negotiate, and calls say so with a typed error. */
import { afterEach, describe, expect, it } from "vitest"
import { MemoryNetwork } from "../../src/layers/MemoryNetwork.ts"
import type { MediaTrackLike } from "../../src/services/Media.ts"
import { connectedIds, joiner, until } from "../facade/support.ts"

const { join, release } = joiner("memory://media")
afterEach(release)

const track = (kind: string): MediaTrackLike => ({ kind, enabled: true, stop: () => undefined })

describe("media on a memory network", () => {
  it("startMedia with given tracks works (no link carries media), call fails with not-supported", async () => {
    const [a, b] = await join(new MemoryNetwork(), 2, { networkName: "media-memory" })
    await until("linked", () => connectedIds(a!).includes(b!.peerId))
    const stream = { id: "s", getTracks: () => [track("audio"), track("video")] }
    expect(await a!.startMedia({ stream })).toBe(stream)
    expect(a!.getMediaState()).toMatchObject({ hasLocalStream: true, peers: [] })
    expect(a!.toggleAudio()).toBe(false)
    expect(stream.getTracks().length).toBe(2)
    await expect(a!.call(b!.peerId, { stream })).rejects.toMatchObject({ _tag: "MediaError", reason: "not-supported" })
    await a!.stopMedia()
    expect(a!.getLocalStream()).toBeNull()
  })
})
