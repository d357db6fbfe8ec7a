import { describe, expect, it } from "vitest"
import { type CliResult, parseCli, usage } from "../../src/server/cliArgs.ts"
import { defaults } from "../../src/server/ServerConfig.ts"

const run = (argv: ReadonlyArray<string>, env: Record<string, string | undefined> = {}) => {
  const result = parseCli(argv, env)
  if (result._tag !== "Run") throw new Error(`expected Run, got ${JSON.stringify(result)}`)
  return result.options
}
const invalid = (argv: ReadonlyArray<string>, env: Record<string, string | undefined> = {}): string => {
  const result: CliResult = parseCli(argv, env)
  if (result._tag !== "Invalid") throw new Error(`expected Invalid, got ${JSON.stringify(result)}`)
  return result.message
}

describe("parseCli: flags", () => {
  it("no flags and no environment: no options (the server defaults apply)", () => {
    expect(run([])).toEqual({})
  })

  it("--port 0, -p, and --port=8080", () => {
    expect(run(["--port", "0"])).toEqual({ port: 0 })
    expect(run(["-p", "4000"])).toEqual({ port: 4000 })
    expect(run(["--port=8080"])).toEqual({ port: 8080 })
  })

  it("--host binds exactly the host given (the 1.x misparse of --host 127.0.0.1)", () => {
    expect(run(["--host", "127.0.0.1"])).toEqual({ host: "127.0.0.1" })
    expect(run(["--host=127.0.0.1"])).toEqual({ host: "127.0.0.1" })
    expect(run(["--host", "::1"])).toEqual({ host: "::1" })
    expect(run(["--host", "0.0.0.0", "--port", "1"])).toEqual({ host: "0.0.0.0", port: 1 })
  })

  it("--max-connections, --cors-origin, --require-identity", () => {
    expect(run(["--max-connections", "50"])).toEqual({ maxConnections: 50 })
    expect(run(["--max-connections=7"])).toEqual({ maxConnections: 7 })
    expect(run(["--cors-origin", "https://example.com"])).toEqual({ corsOrigin: "https://example.com" })
    // an inline value keeps everything after the first "="
    expect(run(["--cors-origin=https://a.example/?x=1"])).toEqual({ corsOrigin: "https://a.example/?x=1" })
    expect(run(["--require-identity"])).toEqual({ requireIdentity: true })
  })

  it("the other numeric flags", () => {
    expect(run(["--max-message-size", "2048", "--peer-timeout=5000", "--discovery-k", "3"])).toEqual({
      maxMessageSize: 2048,
      peerTimeout: 5000,
      discoveryK: 3
    })
  })

  it("--max-connections-per-ip and --announce-timeout", () => {
    expect(run(["--max-connections-per-ip", "5", "--announce-timeout=250"])).toEqual({ maxConnectionsPerIp: 5, announceTimeout: 250 })
    expect(invalid(["--max-connections-per-ip", "many"])).toContain("--max-connections-per-ip")
  })

  it("everything together", () => {
    expect(
      run(["-p", "9", "--host", "localhost", "--max-connections", "10", "--cors-origin", "*", "--require-identity"])
    ).toEqual({ port: 9, host: "localhost", maxConnections: 10, corsOrigin: "*", requireIdentity: true })
  })

  it("a later flag wins over an earlier one", () => {
    expect(run(["--port", "1", "-p", "2", "--port=3"])).toEqual({ port: 3 })
  })

  it.each([["--help"], ["-h"]])("%s asks for help, whatever else is there", (flag) => {
    expect(parseCli([flag], {})).toEqual({ _tag: "Help" })
    expect(parseCli(["--port", "1", flag], {})).toEqual({ _tag: "Help" })
    expect(parseCli([flag, "--bogus"], {})).toEqual({ _tag: "Help" })
  })

  it("--redis and --redis-socket (and REDIS_URL, REDIS_SOCKET; the flag wins)", () => {
    expect(run(["--redis", "redis://127.0.0.1:6379"])).toEqual({ redis: "redis://127.0.0.1:6379" })
    expect(run(["--redis=rediss://user:pw@cache:6380/1"])).toEqual({ redis: "rediss://user:pw@cache:6380/1" })
    expect(run(["--redis-socket", "/tmp/r.sock"])).toEqual({ redisSocket: "/tmp/r.sock" })
    expect(run([], { REDIS_URL: "redis://a:1", REDIS_SOCKET: "/s" })).toEqual({ redis: "redis://a:1", redisSocket: "/s" })
    expect(run(["--redis", "redis://b:2"], { REDIS_URL: "redis://a:1" })).toEqual({ redis: "redis://b:2" })
    expect(invalid(["--redis", "http://x"])).toMatch(/redis:\/\/ or rediss:\/\//)
    expect(invalid(["--redis"])).toMatch(/needs a value/)
  })

  it("usage documents every flag and environment variable", () => {
    for (const text of [
      "--port",
      "-p",
      "--host",
      "--max-connections",
      "--cors-origin",
      "--require-identity",
      "--help",
      "-h",
      "PORT",
      "HOST",
      "MAX_CONNECTIONS",
      "CORS_ORIGIN",
      "REQUIRE_IDENTITY",
      "--max-connections-per-ip",
      "MAX_CONNECTIONS_PER_IP",
      "--announce-timeout",
      "ANNOUNCE_TIMEOUT",
      "--redis",
      "REDIS_URL",
      "--redis-socket",
      "REDIS_SOCKET"
    ]) {
      expect(usage).toContain(text)
    }
    expect(usage).toContain(`default ${defaults.port}`)
    expect(usage).toContain(`default ${defaults.host}`)
    expect(usage).toContain(`default ${defaults.maxConnectionsPerIp}`)
    expect(usage).toContain(`default ${defaults.announceTimeout}`)
  })
})

describe("parseCli: environment", () => {
  it("PORT, HOST, MAX_CONNECTIONS, CORS_ORIGIN", () => {
    expect(run([], { PORT: "0" })).toEqual({ port: 0 })
    expect(run([], { PORT: "5555", HOST: "127.0.0.1", MAX_CONNECTIONS: "12", CORS_ORIGIN: "https://x.example" })).toEqual({
      port: 5555,
      host: "127.0.0.1",
      maxConnections: 12,
      corsOrigin: "https://x.example"
    })
  })

  it("MAX_CONNECTIONS_PER_IP and ANNOUNCE_TIMEOUT, under the flags", () => {
    expect(run([], { MAX_CONNECTIONS_PER_IP: "7", ANNOUNCE_TIMEOUT: "3000" })).toEqual({ maxConnectionsPerIp: 7, announceTimeout: 3000 })
    expect(run(["--max-connections-per-ip", "9"], { MAX_CONNECTIONS_PER_IP: "7" })).toEqual({ maxConnectionsPerIp: 9 })
  })

  it("the other numeric variables", () => {
    expect(run([], { MAX_MESSAGE_SIZE: "100", PEER_TIMEOUT: "200", DISCOVERY_K: "4" })).toEqual({
      maxMessageSize: 100,
      peerTimeout: 200,
      discoveryK: 4
    })
  })

  it.each([
    ["true", true],
    ["1", true],
    ["false", undefined],
    ["0", undefined],
    ["", undefined],
    ["yes", undefined]
  ])("REQUIRE_IDENTITY=%j", (value, expected) => {
    expect(run([], { REQUIRE_IDENTITY: value }).requireIdentity).toBe(expected)
  })

  it("empty or unset variables are ignored", () => {
    expect(run([], { PORT: "", HOST: "", MAX_CONNECTIONS: "", CORS_ORIGIN: "", REQUIRE_IDENTITY: undefined })).toEqual({})
  })

  it("unrelated variables are ignored", () => {
    expect(run([], { PATH: "/usr/bin", NODE_ENV: "production", HOME: "/root" })).toEqual({})
  })

  it.each([
    ["PORT", "abc"],
    ["PORT", "-1"],
    ["PORT", "1.5"],
    ["PORT", "1e3"],
    ["PORT", "0x10"],
    ["MAX_CONNECTIONS", "lots"],
    ["PEER_TIMEOUT", "99999999999999999999"]
  ])("Invalid for %s=%j, naming the variable", (name, value) => {
    const message = invalid([], { [name]: value })
    expect(message).toContain(name)
    expect(message).toContain(value)
  })
})

describe("parseCli: flags override environment", () => {
  it("each flag beats its variable; variables without a flag still apply", () => {
    const env = {
      PORT: "1111",
      HOST: "0.0.0.0",
      MAX_CONNECTIONS: "5",
      CORS_ORIGIN: "https://env.example",
      REQUIRE_IDENTITY: "true"
    }
    expect(run(["--port", "2222", "--host", "127.0.0.1"], env)).toEqual({
      port: 2222,
      host: "127.0.0.1",
      maxConnections: 5,
      corsOrigin: "https://env.example",
      requireIdentity: true
    })
    expect(run(["--max-connections", "9", "--cors-origin", "https://flag.example"], env)).toMatchObject({
      port: 1111,
      host: "0.0.0.0",
      maxConnections: 9,
      corsOrigin: "https://flag.example"
    })
  })

  it("--port 0 overrides PORT (zero is a value, not absence)", () => {
    expect(run(["--port", "0"], { PORT: "3000" })).toEqual({ port: 0 })
  })

  it("--require-identity turns it on even when the environment says false", () => {
    expect(run(["--require-identity"], { REQUIRE_IDENTITY: "false" })).toEqual({ requireIdentity: true })
  })
})

describe("parseCli: invalid input", () => {
  it.each([["--bogus"], ["-x"], ["serve"], ["--"], ["-p=80"], ["--PORT", "1"]])("unknown option %s", (...argv) => {
    expect(invalid(argv)).toBe(`Unknown option: ${argv[0]}`)
  })

  it.each([
    ["--port"],
    ["-p"],
    ["--max-connections"],
    ["--host"],
    ["--cors-origin"],
    ["--host="],
    ["--cors-origin="],
    ["--max-message-size"],
    ["--peer-timeout"],
    ["--discovery-k"]
  ])("missing value for %s", (flag) => {
    const message = invalid([flag])
    expect(message).toContain(flag.replace(/=$/, ""))
    expect(message).toContain("needs a value")
  })

  it("an empty inline numeric value is not a number", () => {
    expect(invalid(["--port="])).toMatch(/--port must be a non-negative integer/)
  })

  it.each([
    ["--port", "abc"],
    ["--port", "80.5"],
    ["--port", "-1"],
    ["--port", "1e3"],
    ["--port", "0x50"],
    ["--port", ""],
    ["-p", "eighty"],
    ["--max-connections", "1,000"],
    ["--max-connections", "Infinity"],
    ["--peer-timeout", "99999999999999999999"],
    ["--discovery-k", "NaN"]
  ])("non-integer: %s %j", (flag, value) => {
    const message = invalid([flag, value])
    expect(message).toBe(`${flag} must be a non-negative integer, got "${value}"`)
    if (flag.startsWith("--")) {
      expect(invalid([`${flag}=${value}`])).toBe(`${flag} must be a non-negative integer, got "${value}"`)
    }
  })

  it("a flag's value is the next argument even when it looks like a flag", () => {
    expect(invalid(["--port", "--host", "x"])).toBe('--port must be a non-negative integer, got "--host"')
  })
})
