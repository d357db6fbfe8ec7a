/**
 * A real redis-server for one test file: started on a unix socket in a temp dir (no TCP
 * port, so no port race) without persistence, ready once it answers PING, stopped by pid.
 * `kill()` is SIGKILL; `restart()` starts it again, empty, on the same socket.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { createConnection } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"

export interface RedisServer {
  readonly socket: string
  readonly pid: () => number
  /** A raw command over a fresh connection (RESP inline), answered as text. */
  readonly command: (...args: Array<string>) => Promise<string>
  readonly kill: () => Promise<void>
  readonly restart: () => Promise<void>
  readonly stop: () => Promise<void>
}

const ping = (socket: string): Promise<boolean> =>
  new Promise((resolve) => {
    const c = createConnection(socket)
    c.once("error", () => resolve(false))
    c.once("data", (d) => {
      c.destroy()
      resolve(d.toString().startsWith("+PONG"))
    })
    c.write("PING\r\n")
  })

const encode = (args: ReadonlyArray<string>) =>
  `*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")

export const startRedis = async (): Promise<RedisServer> => {
  const dir = mkdtempSync(join(tmpdir(), "pp-redis-"))
  const socket = join(dir, "redis.sock")
  let child: ChildProcess | undefined
  const launch = async () => {
    const proc = spawn("redis-server", [
      "--port", "0", "--unixsocket", socket, "--unixsocketperm", "700",
      "--save", "", "--appendonly", "no", "--dir", dir
    ], { stdio: "ignore" })
    child = proc
    for (let i = 0; i < 1000; i++) {
      if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}`)
      if (await ping(socket)) return
      await new Promise((r) => setTimeout(r, 5))
    }
    throw new Error("redis-server did not answer PING")
  }
  const exited = (proc: ChildProcess) =>
    proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => proc.once("exit", () => r()))
  const kill = async () => {
    const proc = child
    if (proc === undefined) return
    child = undefined
    proc.kill("SIGKILL")
    await exited(proc)
  }
  await launch()
  return {
    socket,
    pid: () => child?.pid ?? 0,
    command: (...args) =>
      new Promise((resolve, reject) => {
        const c = createConnection(socket)
        let text = ""
        c.once("error", reject)
        c.on("data", (d) => {
          text += d.toString()
          // one reply: enough for the simple replies the tests read
          if (text.endsWith("\r\n")) {
            c.destroy()
            resolve(text)
          }
        })
        c.write(encode(args))
      }),
    kill,
    restart: async () => {
      await kill()
      rmSync(socket, { force: true })
      await launch()
    },
    stop: async () => {
      await kill()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

/**
 * Runs every `withServer` of the calling test file over the Redis registry, against a
 * redis-server of its own (emptied before each test).
 */
export const useRedisForServers = (hooks: {
  beforeAll: (f: () => Promise<void>) => void
  afterAll: (f: () => Promise<void>) => void
  beforeEach: (f: () => Promise<void>) => void
}, suiteOptions: { current: object }): void => {
  let redis: RedisServer | undefined
  hooks.beforeAll(async () => {
    redis = await startRedis()
    suiteOptions.current = { redisSocket: redis.socket }
  })
  hooks.beforeEach(async () => {
    await redis?.command("FLUSHALL")
  })
  hooks.afterAll(async () => {
    suiteOptions.current = {}
    await redis?.stop()
  })
}
