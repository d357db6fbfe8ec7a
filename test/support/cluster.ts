/**
 * Helpers for the multi-server tests: a signaling server in a child process (so a test can
 * SIGKILL it), a peer that tracks whom it knows (discovered minus disconnected) and can prove
 * its id, and a bounded wait for a state.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import type { PeerPigeonServerOptions } from "../../src/server/index.ts"
import { type AnnounceIdentity, makeIdentity } from "./server.ts"
import { connect, type Frame, ofType, type TestClient } from "./wsClient.ts"

/** Resolves once `check` holds (polled every 10 ms); rejects after `timeoutMs`. */
export const until = async (what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

export interface ServerProcess {
  readonly port: number
  readonly pid: number
  /** SIGKILL: no goodbye, no lease dropped. Resolves once the process is gone. */
  readonly kill: () => Promise<void>
  /** SIGTERM (graceful stop); SIGKILL after 10 s. */
  readonly stop: () => Promise<void>
}

const fixture = fileURLToPath(new URL("../fixtures/cluster-server.ts", import.meta.url))

/** Starts `PeerPigeonServer` in a child process on 127.0.0.1 and an OS-chosen port. */
export const spawnServer = (options: PeerPigeonServerOptions): Promise<ServerProcess> =>
  new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [fixture, JSON.stringify(options)], { stdio: ["pipe", "pipe", "pipe"] })
    let out = ""
    let err = ""
    const exited = new Promise<void>((r) => child.once("exit", () => r()))
    const gone = () => child.exitCode !== null || child.signalCode !== null
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`server process did not start: ${err}`))
    }, 20_000)
    child.stderr!.on("data", (d) => (err += String(d)))
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`server process exited with ${code}: ${err}`))
    })
    child.stdout!.on("data", (d) => {
      out += String(d)
      const line = out.split("\n").find((l) => l.startsWith("{"))
      if (line === undefined) return
      clearTimeout(timer)
      const { port } = JSON.parse(line) as { port: number }
      resolve({
        port,
        pid: child.pid!,
        kill: async () => {
          if (!gone()) child.kill("SIGKILL")
          await exited
        },
        stop: async () => {
          if (gone()) return
          child.kill("SIGTERM")
          const hard = setTimeout(() => child.kill("SIGKILL"), 10_000)
          await exited
          clearTimeout(hard)
        }
      })
    })
  })

const peerIdOf = (f: Frame) => (f["data"] as { peerId: string }).peerId

/** A test peer with an Ed25519 identity: connects to a server, announces with its proof, and tracks whom it knows. */
export interface ClusterPeer {
  readonly peerId: string
  readonly identity: AnnounceIdentity
  client: TestClient
  port: number
  /** Peers it was told about and not told gone, on its current connection. */
  readonly knows: Set<string>
  /** When each peer was last told gone (`peer-disconnected`), on any connection. */
  readonly goneAt: Map<string, number>
}

/** Connects and announces with a proof; resolves once `connected` came, or rejects with the close. */
export const joinAs = async (peer: ClusterPeer, port: number, networkName: string): Promise<void> => {
  const client = await connect(port, peer.peerId)
  const greeting = await Promise.race([
    client.next(ofType("connected"), 10_000),
    client.closed.then((c) => {
      throw new Error(`closed ${c.code} ${c.reason}`)
    })
  ])
  peer.client = client
  peer.port = port
  peer.knows.clear()
  client.ws.on("message", () => {
    // frames are queued in client.received; fold them into `knows` as they come
    for (const f of client.received.splice(0)) {
      if (f.type === "peer-discovered") peer.knows.add(peerIdOf(f))
      else if (f.type === "peer-disconnected") {
        peer.knows.delete(peerIdOf(f))
        peer.goneAt.set(peerIdOf(f), Date.now())
      } else kept.get(peer)!.push(f)
    }
  })
  const signature = await peer.identity.sign(networkName, (greeting["data"] as { nonce: string }).nonce)
  client.send({ type: "announce", data: { publicKey: peer.identity.publicKey, signature }, networkName })
}

const kept = new WeakMap<ClusterPeer, Array<Frame>>()

/** Frames other than discoveries and disconnects a peer received (errors, relays). */
export const otherFrames = (peer: ClusterPeer): Array<Frame> => kept.get(peer)!

export const makePeer = async (): Promise<ClusterPeer> => {
  const identity = await makeIdentity()
  const peer: ClusterPeer = {
    peerId: identity.peerId,
    identity,
    client: undefined as unknown as TestClient,
    port: 0,
    knows: new Set(),
    goneAt: new Map()
  }
  kept.set(peer, [])
  return peer
}

/**
 * Tries `port`s in turn every 100 ms until the announce is accepted (its discoveries came),
 * as a client behind a load balancer would; "Peer already connected" (the old owner's lease
 * still runs) is retried, any other refusal fails. Returns when it was admitted.
 */
export const rejoin = async (peer: ClusterPeer, ports: ReadonlyArray<number>, networkName: string, deadline: number): Promise<number> => {
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    try {
      await joinAs(peer, ports[attempt % ports.length]!, networkName)
      const outcome = await Promise.race([
        until("discoveries", () => peer.knows.size > 0, 5_000).then(() => "in" as const),
        peer.client.closed.then((c) => c)
      ])
      if (outcome === "in") return Date.now()
      if (outcome.code !== 1008 || outcome.reason !== "Peer already connected") throw new Error(`closed ${outcome.code} ${outcome.reason}`)
    } catch (error) {
      // refused before the greeting while the old owner's lease lasts; anything else is a failure
      if (!/closed 1008 Peer already connected/.test(String(error))) throw error
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`${peer.peerId} not re-admitted`)
}
