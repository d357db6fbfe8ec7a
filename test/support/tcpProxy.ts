/**
 * An in-test TCP proxy (loopback, a port from the OS) in front of a server on a unix socket
 * or a TCP address: a partition without root. `blackhole()` stops forwarding bytes in both
 * directions without closing anything (what a lost route looks like: no RST, no FIN; bytes
 * wait as they would in TCP retransmission, and new connections hang before reaching the
 * server); `heal()` lets everything through again; `cut()` destroys every connection.
 * `stallReads(i)` makes the i-th connection (in the order they were made) a slow reader: the
 * proxy stops reading what the server sends on it, so the server's output buffer for that
 * client grows (a stalled subscriber); `resumeReads(i)` reads again. `delay(ms)` holds every
 * chunk `ms` before passing it on, each direction in order (a slower network).
 */
import { createConnection, createServer, type Server, type Socket } from "node:net"

export interface TcpProxy {
  readonly port: number
  /** Connections currently open through the proxy. */
  readonly connections: () => number
  readonly blackhole: () => void
  readonly heal: () => void
  readonly cut: () => void
  readonly stallReads: (index: number) => void
  readonly resumeReads: (index: number) => void
  readonly delay: (ms: number) => void
  readonly close: () => Promise<void>
}

interface Pair {
  readonly client: Socket
  upstream: Socket | undefined
  /** Bytes held back while blackholed, per direction. */
  readonly toUpstream: Array<Buffer>
  readonly toClient: Array<Buffer>
}

export const startTcpProxy = async (target: { readonly path: string } | { readonly host: string; readonly port: number }): Promise<TcpProxy> => {
  const pairs = new Set<Pair>()
  const made: Array<Pair> = []
  let holding = false
  let delayMs = 0
  /** Writes `d` to `to` now, or `delayMs` later (timers of one delay fire in order). */
  const pass = (to: Socket, d: Buffer) => {
    if (delayMs <= 0) to.write(d)
    else setTimeout(() => to.destroyed || to.write(d), delayMs)
  }

  const open = (pair: Pair) => {
    const upstream = "path" in target ? createConnection(target.path) : createConnection(target.port, target.host)
    pair.upstream = upstream
    upstream.on("data", (d) => {
      if (holding) pair.toClient.push(d)
      else pass(pair.client, d)
    })
    upstream.on("error", () => pair.client.destroy())
    upstream.on("close", () => {
      pair.client.destroy()
      pairs.delete(pair)
    })
    for (const d of pair.toUpstream.splice(0)) upstream.write(d)
  }

  const server: Server = createServer((client) => {
    const pair: Pair = { client, upstream: undefined, toUpstream: [], toClient: [] }
    pairs.add(pair)
    made.push(pair)
    client.on("data", (d) => {
      if (holding || pair.upstream === undefined) pair.toUpstream.push(d)
      else pass(pair.upstream, d)
    })
    client.on("error", () => pair.upstream?.destroy())
    client.on("close", () => {
      pair.upstream?.destroy()
      pairs.delete(pair)
    })
    // a connection made during a blackhole reaches the server only after heal()
    if (!holding) open(pair)
  })
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => resolve())
  })
  const address = server.address()
  if (address === null || typeof address === "string") throw new Error("proxy has no TCP address")

  return {
    port: address.port,
    connections: () => pairs.size,
    blackhole: () => {
      holding = true
    },
    heal: () => {
      holding = false
      for (const pair of pairs) {
        if (pair.upstream === undefined) {
          open(pair)
          continue
        }
        for (const d of pair.toUpstream.splice(0)) pair.upstream.write(d)
        for (const d of pair.toClient.splice(0)) pair.client.write(d)
      }
    },
    cut: () => {
      for (const pair of pairs) {
        pair.client.destroy()
        pair.upstream?.destroy()
      }
      pairs.clear()
    },
    stallReads: (index) => made[index]?.upstream?.pause(),
    resumeReads: (index) => made[index]?.upstream?.resume(),
    delay: (ms) => {
      delayMs = ms
    },
    close: async () => {
      for (const pair of pairs) {
        pair.client.destroy()
        pair.upstream?.destroy()
      }
      pairs.clear()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
