/**
 * Command-line and environment parsing for `peerpigeon-server`, kept pure so it is tested
 * without starting anything. Flags win over environment variables, which win over defaults.
 *
 * @since 2.0.0
 */
import { defaults, type ServerOptions } from "./ServerConfig.ts"

export const usage = `Usage: peerpigeon-server [options]

Starts the PeerPigeon WebSocket signaling server.

Options (environment variable in brackets):
  -p, --port <n>              TCP port, 0 = any free port [PORT] (default ${defaults.port})
      --host <addr>           interface to bind, exactly as given [HOST] (default ${defaults.host})
      --max-connections <n>   simultaneous connections [MAX_CONNECTIONS] (default ${defaults.maxConnections})
      --max-connections-per-ip <n>
                              simultaneous connections from one address [MAX_CONNECTIONS_PER_IP] (default ${defaults.maxConnectionsPerIp})
      --announce-timeout <ms> close connections that have not announced by then [ANNOUNCE_TIMEOUT] (default ${defaults.announceTimeout})
      --cors-origin <origin>  Access-Control-Allow-Origin [CORS_ORIGIN] (default ${defaults.corsOrigin})
      --max-message-size <b>  largest frame in bytes [MAX_MESSAGE_SIZE] (default ${defaults.maxMessageSize})
      --peer-timeout <ms>     drop peers silent this long [PEER_TIMEOUT] (default ${defaults.peerTimeout})
      --discovery-k <n>       XOR-closest peers told to a newcomer [DISCOVERY_K] (default ${defaults.discoveryK})
      --require-identity      refuse announces without an identity proof [REQUIRE_IDENTITY=true]
      --redis <url>           act as one with the other servers on this Redis (redis://, rediss://) [REDIS_URL]
      --redis-socket <path>   the same over a unix socket [REDIS_SOCKET]
  -h, --help                  show this help
`

export type CliResult =
  | { readonly _tag: "Run"; readonly options: Partial<ServerOptions> }
  | { readonly _tag: "Help" }
  | { readonly _tag: "Invalid"; readonly message: string }

type NumericKey =
  | "port"
  | "maxConnections"
  | "maxConnectionsPerIp"
  | "announceTimeout"
  | "maxMessageSize"
  | "peerTimeout"
  | "discoveryK"

const numericFlags: Record<string, NumericKey> = {
  "--port": "port",
  "-p": "port",
  "--max-connections": "maxConnections",
  "--max-connections-per-ip": "maxConnectionsPerIp",
  "--announce-timeout": "announceTimeout",
  "--max-message-size": "maxMessageSize",
  "--peer-timeout": "peerTimeout",
  "--discovery-k": "discoveryK"
}
const numericEnv: Record<string, NumericKey> = {
  PORT: "port",
  MAX_CONNECTIONS: "maxConnections",
  MAX_CONNECTIONS_PER_IP: "maxConnectionsPerIp",
  ANNOUNCE_TIMEOUT: "announceTimeout",
  MAX_MESSAGE_SIZE: "maxMessageSize",
  PEER_TIMEOUT: "peerTimeout",
  DISCOVERY_K: "discoveryK"
}

const toInt = (name: string, text: string): number | string => {
  const n = Number(text)
  return /^\d+$/.test(text.trim()) && Number.isSafeInteger(n) ? n : `${name} must be a non-negative integer, got "${text}"`
}

export const parseCli = (argv: ReadonlyArray<string>, env: Readonly<Record<string, string | undefined>>): CliResult => {
  const options: { -readonly [K in keyof ServerOptions]?: ServerOptions[K] } = {}
  for (const [name, key] of Object.entries(numericEnv)) {
    const value = env[name]
    if (value === undefined || value === "") continue
    const n = toInt(name, value)
    if (typeof n === "string") return { _tag: "Invalid", message: n }
    options[key] = n
  }
  if (env["HOST"]) options.host = env["HOST"]
  if (env["CORS_ORIGIN"]) options.corsOrigin = env["CORS_ORIGIN"]
  if (env["REDIS_URL"]) options.redis = env["REDIS_URL"]
  if (env["REDIS_SOCKET"]) options.redisSocket = env["REDIS_SOCKET"]
  if (env["REQUIRE_IDENTITY"] === "true" || env["REQUIRE_IDENTITY"] === "1") options.requireIdentity = true

  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i]!
    const eq = raw.indexOf("=")
    const flag = raw.startsWith("--") && eq !== -1 ? raw.slice(0, eq) : raw
    const inline = raw.startsWith("--") && eq !== -1 ? raw.slice(eq + 1) : undefined
    const value = (): string | undefined => inline ?? argv[++i]
    if ((flag === "-h" || flag === "--help") && inline === undefined) return { _tag: "Help" }
    if (flag === "--require-identity") {
      if (inline !== undefined && inline !== "true" && inline !== "false") {
        return { _tag: "Invalid", message: `--require-identity takes true or false, got "${inline}"` }
      }
      options.requireIdentity = inline !== "false"
      continue
    }
    const numeric = numericFlags[flag]
    if (numeric !== undefined) {
      const v = value()
      if (v === undefined) return { _tag: "Invalid", message: `${flag} needs a value` }
      const n = toInt(flag, v)
      if (typeof n === "string") return { _tag: "Invalid", message: n }
      options[numeric] = n
      continue
    }
    if (flag === "--host" || flag === "--cors-origin" || flag === "--redis" || flag === "--redis-socket") {
      const v = value()
      if (v === undefined || v === "") return { _tag: "Invalid", message: `${flag} needs a value` }
      if (flag === "--host") options.host = v
      else if (flag === "--cors-origin") options.corsOrigin = v
      else if (flag === "--redis") {
        if (!/^rediss?:\/\//.test(v)) return { _tag: "Invalid", message: `--redis takes a redis:// or rediss:// URL, got "${v}"` }
        options.redis = v
      } else options.redisSocket = v
      continue
    }
    return { _tag: "Invalid", message: `Unknown option: ${raw}` }
  }
  return { _tag: "Run", options }
}
