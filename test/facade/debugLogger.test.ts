/** DebugLogger's 1.x methods: create(module) with log/warn/error, enable, disable, listModules, getState. */
import { afterEach, describe, expect, it, vi } from "vitest"
import { DebugLogger } from "../../src/DebugLogger.ts"

afterEach(() => {
  DebugLogger.disableAll()
  vi.restoreAllMocks()
})

describe("DebugLogger", () => {
  it("create(module): log only while the module is enabled; warn and error always", () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined)
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined)
    const error = vi.spyOn(console, "error").mockImplementation(() => undefined)
    const logger = DebugLogger.create("MyApp")
    expect(logger.module).toBe("MyApp")
    logger.log("hidden")
    logger.debug("hidden")
    logger.info("hidden")
    expect(log).not.toHaveBeenCalled()
    logger.warn("careful")
    logger.error("broken")
    expect(warn).toHaveBeenCalledTimes(1)
    expect(warn.mock.calls[0]![0]).toMatch(/\[MyApp\] WARN/)
    expect(error).toHaveBeenCalledTimes(1)
    DebugLogger.enable("MyApp")
    logger.log("shown", 1)
    expect(log).toHaveBeenCalledTimes(1)
    expect(log.mock.calls[0]![0]).toMatch(/\[MyApp\] DEBUG/)
    expect(log.mock.calls[0]!.slice(1)).toEqual(["shown", 1])
    DebugLogger.disable("MyApp")
    logger.log("hidden again")
    expect(log).toHaveBeenCalledTimes(1)
    DebugLogger.enableAll()
    logger.info("all on")
    expect(log).toHaveBeenCalledTimes(2)
  })

  it("listModules names the library's modules and created ones; getState reports the switches", () => {
    DebugLogger.create("Widget")
    const modules = DebugLogger.listModules()
    for (const m of ["Mesh", "Connections", "Dht", "Discovery", "Gossip", "Router", "Signaling", "WebRtcTransport", "Widget"]) {
      expect(modules).toContain(m)
    }
    expect(DebugLogger.getState()).toMatchObject({ all: false, enabled: [] })
    DebugLogger.enable("Gossip")
    DebugLogger.enableModules(["Router"])
    expect(DebugLogger.getState()).toMatchObject({ all: false, enabled: ["Gossip", "Router"] })
    expect(DebugLogger.isEnabled("Gossip")).toBe(true)
    DebugLogger.enableAll()
    expect(DebugLogger.getState().all).toBe(true)
    DebugLogger.disableAll()
    expect(DebugLogger.getState()).toMatchObject({ all: false, enabled: [] })
  })
})
