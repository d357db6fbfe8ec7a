// The Node examples (examples/node) as a user runs them: each one a process of its own, with
// the project's Node, against a real signaling server on a free port.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { PeerPigeonServer } from "../../src/server/index.ts"

const root = fileURLToPath(new URL("../../", import.meta.url))

/** A running example: its output so far, and a wait for a line of it. */
class Example {
  readonly child: ChildProcessWithoutNullStreams
  stdout = ""
  stderr = ""
  readonly exited: Promise<number | null>

  constructor(script: string, args: ReadonlyArray<string>, env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [`examples/node/${script}`, ...args], { cwd: root, env: { ...process.env, ...env } })
    this.child.stdout.setEncoding("utf8").on("data", (chunk: string) => (this.stdout += chunk))
    this.child.stderr.setEncoding("utf8").on("data", (chunk: string) => (this.stderr += chunk))
    this.exited = new Promise((resolve) => this.child.once("exit", (code) => resolve(code)))
  }

  /** Resolves with the first stdout line matching `pattern`; rejects after `ms`. */
  line(pattern: RegExp, ms = 20_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.stdout.split("\n").find((l) => pattern.test(l))
        if (found === undefined) return false
        clearTimeout(timer)
        this.child.stdout.off("data", check)
        resolve(found)
        return true
      }
      const timer = setTimeout(() => {
        this.child.stdout.off("data", check)
        reject(new Error(`no line matching ${String(pattern)} after ${ms} ms\nstdout: ${this.stdout}\nstderr: ${this.stderr}`))
      }, ms)
      if (!check()) this.child.stdout.on("data", check)
    })
  }

  write(line: string): void {
    this.child.stdin.write(`${line}\n`)
  }
}

/** Runs an example to its end: exit code and stdout. */
const run = async (script: string, args: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  const example = new Example(script, args, env)
  example.child.stdin.end()
  const code = await example.exited
  return { code, stdout: example.stdout.trim(), stderr: example.stderr }
}

describe("examples/node", () => {
  const server = new PeerPigeonServer({ host: "127.0.0.1", port: 0 })
  let url = ""
  const running: Array<Example> = []

  beforeAll(async () => {
    const { port } = await server.start()
    url = `ws://127.0.0.1:${port}`
  })
  afterAll(async () => {
    for (const example of running) if (example.child.exitCode === null) example.child.kill("SIGKILL")
    await server.stop()
  })

  it("dht.ts: put, get, update, delete through a serving peer; a missing key is null with exit code 1", async () => {
    const env = { DHT_NETWORK: "dht-example-test" }
    const holder = new Example("dht.ts", [url, "serve"], env)
    running.push(holder)
    await holder.line(/^\{"serving":"[0-9a-f]{40}"\}$/)

    const cli = (...args: Array<string>) => run("dht.ts", [url, ...args], env)
    expect(await cli("put", "greeting", '{"text":"hello"}')).toMatchObject({ code: 0, stdout: '{"key":"greeting","version":1}' })
    expect(await cli("get", "greeting")).toMatchObject({ code: 0, stdout: '{"text":"hello"}' })
    // another run, so another peer: the key was put writable
    expect(await cli("update", "greeting", '{"text":"updated"}')).toMatchObject({ code: 0, stdout: '{"key":"greeting","version":2}' })
    expect(await cli("get", "greeting")).toMatchObject({ code: 0, stdout: '{"text":"updated"}' })
    expect(await cli("get", "missing")).toMatchObject({ code: 1, stdout: "null" })
    expect(await cli("delete", "greeting")).toMatchObject({ code: 0, stdout: '{"key":"greeting","deleted":true}' })
    expect(await cli("get", "greeting")).toMatchObject({ code: 1, stdout: "null" })
    expect(await cli("get")).toMatchObject({ code: 2 })

    holder.child.kill("SIGINT")
    expect(await holder.exited).toBe(0) // leaves the network and exits by itself
  }, 120_000)

  it("file-sender.ts: a file sent to a receiving terminal arrives intact, under its base name", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pp-files-"))
    try {
      const source = join(dir, "source.bin")
      const inbox = join(dir, "inbox")
      await mkdir(inbox)
      const bytes = randomBytes(300_000)
      await writeFile(source, bytes)
      const receiver = new Example("file-sender.ts", [url, "receive", inbox], { FILES_NETWORK: "files-example-test" })
      running.push(receiver)
      const receiverId = (JSON.parse(await receiver.line(/^\{"receiving":/)) as { receiving: string }).receiving
      const sent = await run("file-sender.ts", [url, "send", receiverId, source], { FILES_NETWORK: "files-example-test" })
      expect(sent).toMatchObject({ code: 0, stdout: '{"sent":"source.bin","bytes":300000}' })
      expect(sent.stderr).toMatch(/300000 \/ 300000 bytes/)
      expect(JSON.parse(await receiver.line(/^\{"saved":/))).toStrictEqual({ saved: join(inbox, "source.bin"), bytes: 300_000 })
      expect((await readFile(join(inbox, "source.bin"))).equals(bytes)).toBe(true)
      receiver.child.kill("SIGINT")
      expect(await receiver.exited).toBe(0)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }, 60_000)

  it("chat.ts: a broadcast line and a direct message between two terminals; /quit leaves", async () => {
    const alice = new Example("chat.ts", [url, "alice", "chat-example-test"])
    const bob = new Example("chat.ts", [url, "bob", "chat-example-test"])
    running.push(alice, bob)
    const bobId = /is ([0-9a-f]{40});/.exec(await bob.line(/^\* bob is /))![1]!
    await alice.line(/^\* linked to /)
    await bob.line(/^\* linked to /)

    bob.write("hello from bob")
    expect(await alice.line(/^\[bob\]/)).toBe("[bob] hello from bob")
    alice.write(`/to ${bobId} just for you`)
    expect(await bob.line(/^\[alice -> you\]/)).toBe("[alice -> you] just for you")
    alice.write("/peers")
    expect(await alice.line(new RegExp(`^\\* bob ${bobId}$`))).toBe(`* bob ${bobId}`)

    alice.write("/quit")
    bob.write("/quit")
    expect(await Promise.all([alice.exited, bob.exited])).toEqual([0, 0])
  }, 60_000)
})
