/**
 * Mesh option validation: values that cannot work are refused with a sentence naming the
 * option (pure), `resolveMeshOptions` throws `InvalidMeshOptions` (a RangeError), and
 * `MeshConfig.layer` fails with it as a typed error instead of a defect.
 */
import { Effect, Exit, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { meshOptionProblems } from "../../src/internal/meshOptionsCheck.ts"
import { defaults, InvalidMeshOptions, MeshConfig, resolveMeshOptions } from "../../src/services/MeshConfig.ts"

const problems = (patch: Record<string, unknown>) => meshOptionProblems({ ...defaults, ...patch })

describe("meshOptionProblems", () => {
  it("accepts the defaults and the documented special values", () => {
    expect(problems({})).toEqual([])
    expect(problems({ presenceInterval: 0, repairInterval: 0, maxHearsayDials: 0, iceTransportPolicy: "relay" })).toEqual([])
    expect(problems({ iceServers: [{ urls: "stun:stun.example.org" }, { urls: ["turn:a", "turn:b"], username: "u", credential: "c" }] })).toEqual([])
    expect(problems({ dht: { k: 20, republishInterval: undefined }, streams: { window: 4 }, rateLimits: { gossip: { perSecond: 10, burst: 10 } } })).toEqual([])
  })

  it("refuses what would spin, break a cache or pass every comparison", () => {
    expect(problems({ optimizeInterval: 0 })).toEqual(["optimizeInterval must be a finite number of at least 10 ms, got 0"])
    expect(problems({ seenCacheSize: 0 })[0]).toMatch(/^seenCacheSize must be an integer from 1/)
    expect(problems({ maxPeers: Number.NaN })).toEqual(["maxPeers must be a finite number, got NaN"])
    expect(problems({ presenceInterval: 5 })[0]).toMatch(/^presenceInterval must be 0 \(off\) or/)
    expect(problems({ connectionTimeout: Number.POSITIVE_INFINITY })[0]).toMatch(/^connectionTimeout/)
    expect(problems({ gossipTtl: 2.5 })[0]).toMatch(/^gossipTtl must be an integer from 1 to 255/)
    expect(problems({ maxMessageSize: -1 })[0]).toMatch(/^maxMessageSize/)
  })

  it("refuses wrong types, with the value it got", () => {
    expect(problems({ networkName: "" })).toEqual(["networkName must be a string of 1 to 128 characters, got \"\""])
    expect(problems({ autoDiscovery: "yes" })).toEqual(["autoDiscovery must be true or false, got \"yes\""])
    expect(problems({ iceTransportPolicy: "none" })[0]).toMatch(/one of "all", "relay"/)
    expect(problems({ iceServers: [{ urls: 1 }] })[0]).toMatch(/entry 0 has no string urls/)
    expect(problems({ iceServers: "stun:x" })[0]).toMatch(/^iceServers must be an array/)
  })

  it("checks the nested dht, streams and rateLimits options", () => {
    expect(problems({ dht: { alpha: 0 } })[0]).toMatch(/^dht\.alpha must be an integer from 1/)
    expect(problems({ dht: { rpcTimeout: Number.NaN } })[0]).toMatch(/^dht\.rpcTimeout/)
    expect(problems({ streams: { window: 0 } })[0]).toMatch(/^streams\.window/)
    expect(problems({ rateLimits: { gossip: { perSecond: 0, burst: 10 } } })[0]).toMatch(/^rateLimits\.gossip/)
    expect(problems({ dht: 3 })).toEqual(["dht. must be an object"])
  })

  it("lists every problem at once and leaves unknown options alone", () => {
    expect(problems({ optimizeInterval: 0, seenCacheSize: 0, somethingElse: Number.NaN })).toHaveLength(2)
  })
})

describe("resolveMeshOptions and MeshConfig.layer", () => {
  it("throw / fail with InvalidMeshOptions, a RangeError naming each problem", async () => {
    const thrown = (() => {
      try {
        resolveMeshOptions({ optimizeInterval: 0, seenCacheSize: 0 })
      } catch (e) {
        return e
      }
    })()
    expect(thrown).toBeInstanceOf(InvalidMeshOptions)
    expect(thrown).toBeInstanceOf(RangeError)
    expect((thrown as InvalidMeshOptions).problems).toHaveLength(2)
    expect((thrown as Error).message).toMatch(/seenCacheSize.*optimizeInterval/)

    const exit = await Effect.runPromiseExit(Effect.scoped(Layer.build(MeshConfig.layer({ seenCacheSize: 0 }))))
    expect(Exit.isFailure(exit)).toBe(true)
    if (Exit.isFailure(exit)) {
      const reason = exit.cause.reasons[0]
      expect(reason?._tag).toBe("Fail")
      expect(reason?._tag === "Fail" && reason.error).toBeInstanceOf(InvalidMeshOptions)
    }
  })

  it("still clamps the peer counts as PeerPigeon does", () => {
    const o = resolveMeshOptions({ maxPeers: 99, minPeers: 60 })
    expect(o.maxPeers).toBe(50)
    expect(o.minPeers).toBe(49)
  })
})
