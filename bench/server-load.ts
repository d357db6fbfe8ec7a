/**
 * Load child of bench/server.ts: holds many `ws` client connections to the signaling
 * server and drives them on request over IPC (connect, announce, relay, counts, close).
 * Exits by itself when the parent goes away.
 */
import { performance, monitorEventLoopDelay } from "node:perf_hooks"
import WebSocket from "ws"
import {
  serveRequests,
  type AnnounceCmd,
  type AnnounceResult,
  type ConnectCmd,
  type ConnectResult,
  type CountsResult,
  type FailoverArmCmd,
  type FailoverResult,
  type LoadRequest,
  type RelayStartCmd,
  type TimelineResult
} from "./server-ipc.ts"

interface Client {
  readonly index: number
  readonly peerId: string
  ws: WebSocket | undefined
  open: boolean
  /** performance.now() when `announce` was sent, or -1 */
  announcedAt: number
  /** whether to record the first peer-discovered after announcing */
  measure: boolean
  /** latency of the first peer-discovered after announce, or -1 */
  firstDiscoveryMs: number
  /** relay: offers received by this client */
  relayRecv: number
  /** relay: offers sent by this client */
  relaySent: number
  /** relay: this client's partner */
  partner: Client | undefined
  relayFrame: Buffer | undefined
  /** the server port it is connected to */
  port: number
  /** hrtime ms of its last announce, or -1 (bench/cluster.ts) */
  announcedMono: number
  /** called on a peer-discovered (failover: the re-announce was served) */
  waiter: (() => void) | undefined
  /** called when its socket closes after the greeting */
  onClose: ((code: number, reason: string) => void) | undefined
}

/** One monotonic clock for every process of the machine (CLOCK_MONOTONIC), in ms. */
const mono = (): number => Number(process.hrtime.bigint()) / 1e6

// ------------------------------------------------------------------ recording (bench/cluster.ts)

let recording = false
const blankReceived = () => ({ to: [] as Array<number>, about: [] as Array<string>, at: [] as Array<number> })
let discoveredLog = blankReceived()
let disconnectedLog = blankReceived()
const PEER_ID_MARK = Buffer.from('"peerId":"')
const DISCONNECTED_MARK = Buffer.from('"type":"peer-disconnected"')

/** Logs whom a peer-discovered / peer-disconnected is about (the first `peerId` of the frame is data.peerId). */
const record = (log: ReturnType<typeof blankReceived>, c: Client, data: Buffer): void => {
  const at = data.indexOf(PEER_ID_MARK)
  if (at === -1) return
  log.to.push(c.index)
  log.about.push(data.toString("latin1", at + PEER_ID_MARK.length, at + PEER_ID_MARK.length + 40))
  log.at.push(mono())
}

const clients: Array<Client> = []
let peerDiscovered = 0
let relayed = 0
let errorsFromServer = 0
let relayRunning = false
let relayWindow = 0

const OFFER_MARK = Buffer.from('"type":"offer"')
const DISCOVERED_MARK = Buffer.from('"type":"peer-discovered"')
const TEXT = { binary: false } as const

// ------------------------------------------------------------------ frames

const onFrame = (c: Client, data: Buffer): void => {
  if (relayRunning && data.indexOf(OFFER_MARK) !== -1) {
    // fast path: relayed offer; the sender is our partner (pairs only talk to each other)
    c.relayRecv++
    relayed++
    const sender = c.partner
    if (sender !== undefined) pump(sender)
    return
  }
  // peer-discovered is the bulk of the traffic outside relay: count it without parsing
  if (data.indexOf(DISCOVERED_MARK) !== -1) {
    if (recording) record(discoveredLog, c, data)
    c.waiter?.()
    peerDiscovered++
    if (c.measure && c.announcedAt >= 0 && c.firstDiscoveryMs < 0) {
      c.firstDiscoveryMs = performance.now() - c.announcedAt
      onDiscovery?.()
    }
    return
  }
  if (recording && data.indexOf(DISCONNECTED_MARK) !== -1) record(disconnectedLog, c, data)
  let msg: { type?: unknown }
  try {
    msg = JSON.parse(data.toString("utf8")) as { type?: unknown }
  } catch {
    return
  }
  switch (msg.type) {
    case "peer-discovered": {
      peerDiscovered++
      if (c.measure && c.announcedAt >= 0 && c.firstDiscoveryMs < 0) {
        c.firstDiscoveryMs = performance.now() - c.announcedAt
        onDiscovery?.()
      }
      return
    }
    case "offer": {
      relayed++
      c.relayRecv++
      return
    }
    case "error": {
      errorsFromServer++
      if (errorsFromServer <= 5) console.error(`[load ${process.pid}] server error frame: ${data.toString("utf8").slice(0, 300)}`)
      return
    }
    default:
      return
  }
}

let onDiscovery: (() => void) | undefined

// ------------------------------------------------------------------ connect

/** "connected", "rejected", "error", or the close reason. */
const connectOne = (c: Client, port: number, timeoutMs: number): Promise<string> =>
  new Promise((resolve) => {
    let settled = false
    const done = (r: string): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve(r)
    }
    const ws = new WebSocket(`ws://127.0.0.1:${port}/?peerId=${c.peerId}`, {
      perMessageDeflate: false,
      skipUTF8Validation: true,
      handshakeTimeout: timeoutMs
    })
    c.ws = ws
    const timer = setTimeout(() => {
      done("timeout")
      ws.terminate()
    }, timeoutMs)
    let first = true
    ws.on("message", (data: Buffer) => {
      if (first) {
        first = false
        // the first frame must be `connected`
        try {
          const m = JSON.parse(data.toString("utf8")) as { type?: unknown }
          if (m.type === "connected") {
            c.open = true
            done("connected")
            return
          }
        } catch {
          /* fall through */
        }
        done("bad-first-frame")
        return
      }
      onFrame(c, data)
    })
    ws.on("close", (code: number, reason: Buffer) => {
      c.open = false
      if (settled && c.ws === ws) c.onClose?.(code, reason.toString("utf8"))
      done(`close ${code} ${reason.toString("utf8")}`)
    })
    ws.on("error", (err: Error) => {
      done(`error ${err.message.slice(0, 60)}`)
    })
  })

const connect = async (cmd: ConnectCmd): Promise<ConnectResult> => {
  const t0 = performance.now()
  const base = clients.length
  const mine: Array<Client> = cmd.peerIds.map((peerId, i) => ({
    index: base + i,
    peerId,
    ws: undefined,
    open: false,
    announcedAt: -1,
    measure: false,
    firstDiscoveryMs: -1,
    relayRecv: 0,
    relaySent: 0,
    partner: undefined,
    relayFrame: undefined,
    port: cmd.port,
    announcedMono: -1,
    waiter: undefined,
    onClose: undefined
  }))
  clients.push(...mine)
  let connected = 0
  let rejected = 0
  let errors = 0
  const closeReasons: Record<string, number> = {}
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < mine.length) {
      const c = mine[next++]!
      const r = await connectOne(c, cmd.port, cmd.timeoutMs)
      if (r === "connected") connected++
      else {
        if (r.startsWith("close 1008")) rejected++
        else errors++
        closeReasons[r] = (closeReasons[r] ?? 0) + 1
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(cmd.concurrency, mine.length) }, worker))
  return { connected, rejected, errors, closeReasons, ms: performance.now() - t0 }
}

// ------------------------------------------------------------------ announce

const announce = (cmd: AnnounceCmd): Promise<AnnounceResult> =>
  new Promise((resolve) => {
    const lag = monitorEventLoopDelay({ resolution: 5 })
    lag.enable()
    const t0 = performance.now()
    const targets: Array<Client> = []
    let sent = 0
    let pendingFirst = 0
    let finished = false
    const timers: Array<NodeJS.Timeout> = []

    const finish = (): void => {
      if (finished) return
      finished = true
      onDiscovery = undefined
      clearTimeout(deadline)
      for (const t of timers) clearTimeout(t)
      lag.disable()
      const latencies: Array<number> = []
      const sentAt: Array<number> = []
      let missing = 0
      for (const c of targets) {
        if (!c.measure) continue
        if (c.firstDiscoveryMs >= 0) {
          latencies.push(c.firstDiscoveryMs)
          sentAt.push(c.announcedAt - t0)
        } else missing++
        c.measure = false
      }
      resolve({ latencies, sentAt, missing, maxLoopLagMs: lag.max / 1e6 })
    }
    const check = (): void => {
      if (sent === cmd.schedule.length && pendingFirst === 0) finish()
    }
    onDiscovery = () => {
      pendingFirst--
      check()
    }
    const deadline = setTimeout(finish, cmd.timeoutMs)

    const sendAnnounce = (c: Client): void => {
      const frame = JSON.stringify({ type: "announce", data: { peerId: c.peerId }, networkName: cmd.networkName })
      c.measure = cmd.measure
      c.firstDiscoveryMs = -1
      c.announcedAt = performance.now()
      c.announcedMono = mono()
      if (cmd.measure) pendingFirst++
      if (c.ws !== undefined && c.open) c.ws.send(frame)
      sent++
    }

    // group entries by send time so one timer fires per 1 ms slot
    const slots = new Map<number, Array<Client>>()
    for (const [idx, offset] of cmd.schedule) {
      const c = clients[idx]
      if (c === undefined) throw new Error(`no client ${idx}`)
      targets.push(c)
      const slot = Math.max(0, Math.round(offset))
      let list = slots.get(slot)
      if (list === undefined) slots.set(slot, (list = []))
      list.push(c)
    }
    for (const [slot, list] of [...slots].sort((a, b) => a[0] - b[0])) {
      const fire = (): void => {
        for (const c of list) sendAnnounce(c)
        check()
      }
      const delay = slot - (performance.now() - t0)
      if (delay <= 0 && slot === 0) fire()
      else timers.push(setTimeout(fire, Math.max(0, delay)))
    }
    check()
  })

// ------------------------------------------------------------------ relay

const pump = (c: Client): void => {
  const ws = c.ws
  const p = c.partner
  const frame = c.relayFrame
  if (!relayRunning || ws === undefined || p === undefined || frame === undefined || !c.open) return
  while (c.relaySent - p.relayRecv < relayWindow) {
    ws.send(frame, TEXT)
    c.relaySent++
  }
}

const relayStart = (cmd: RelayStartCmd): boolean => {
  relayWindow = cmd.window
  const sdp = "v=0 o=- 4611731400430051336 2 IN IP4 127.0.0.1 s=- t=0 0 ".padEnd(cmd.sdpBytes, "a")
  const senders: Array<Client> = []
  for (const [a, b] of cmd.pairs) {
    const ca = clients[a]
    const cb = clients[b]
    if (ca === undefined || cb === undefined) throw new Error(`bad pair ${a},${b}`)
    ca.partner = cb
    cb.partner = ca
    for (const [from, to] of [[ca, cb], [cb, ca]] as const) {
      from.relaySent = 0
      from.relayRecv = 0
      from.relayFrame = Buffer.from(
        JSON.stringify({ type: "offer", data: { type: "offer", sdp }, targetPeerId: to.peerId, networkName: "bench" })
      )
      senders.push(from)
    }
  }
  relayRunning = true
  for (const s of senders) pump(s)
  return true
}

const relayStop = async (): Promise<boolean> => {
  relayRunning = false
  // let in-flight frames drain so they do not count in later phases
  await new Promise((r) => setTimeout(r, 300))
  return true
}

// ------------------------------------------------------------------ failover (bench/cluster.ts)

let failover: Promise<FailoverResult> | undefined

/**
 * Arms the clients on `deadPort`: once a socket closes (its server was killed), the client
 * reconnects to the other servers in turn, as a client behind a load balancer would, with
 * `retryMs` between attempts; admitted means its re-announce got a peer-discovered.
 */
const failoverArm = (cmd: FailoverArmCmd): boolean => {
  const mine = clients.filter((c) => c.port === cmd.deadPort && c.open)
  let attempts = 0
  let refused = 0
  const jitter = () => cmd.retryMs * (0.8 + Math.random() * 0.4)
  const sleepMs = (ms: number) => new Promise((r) => setTimeout(r, ms))
  const rejoin = async (c: Client, deadline: number): Promise<number> => {
    await sleepMs(Math.random() * cmd.retryMs)
    for (let i = 0; mono() < deadline; i++) {
      attempts++
      const port = cmd.ports[(c.index + i) % cmd.ports.length]!
      c.onClose = undefined
      const r = await connectOne(c, port, 5_000)
      if (r === "connected") {
        c.port = port
        const served = await new Promise<boolean>((resolve) => {
          const t = setTimeout(() => resolve(false), 5_000)
          c.waiter = () => {
            clearTimeout(t)
            resolve(true)
          }
          c.onClose = () => {
            clearTimeout(t)
            resolve(false)
          }
          c.ws!.send(JSON.stringify({ type: "announce", data: { peerId: c.peerId }, networkName: cmd.networkName }))
          c.announcedMono = mono()
        })
        c.waiter = undefined
        c.onClose = undefined
        if (served) return mono()
      }
      refused++
      c.ws?.terminate()
      await sleepMs(jitter())
    }
    return -1
  }
  failover = Promise.all(mine.map((c) =>
    new Promise<readonly [number, number]>((resolve) => {
      c.onClose = () => {
        const closedAt = mono()
        void rejoin(c, closedAt + cmd.timeoutMs).then((at) => resolve([closedAt, at]))
      }
    })
  )).then((rs) => ({ closedAt: rs.map((r) => r[0]), readmittedAt: rs.map((r) => r[1]), attempts, refused }))
  return true
}

// ------------------------------------------------------------------ close

const closeAll = async (): Promise<number> => {
  relayRunning = false
  const waits: Array<Promise<void>> = []
  for (const c of clients) {
    const ws = c.ws
    if (ws === undefined || ws.readyState === WebSocket.CLOSED) continue
    waits.push(
      new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          ws.terminate()
          resolve()
        }, 3000)
        ws.once("close", () => {
          clearTimeout(t)
          resolve()
        })
        ws.close(1000, "bench done")
      })
    )
  }
  await Promise.all(waits)
  return waits.length
}

// ------------------------------------------------------------------ IPC

serveRequests<LoadRequest>(async (req) => {
  switch (req.cmd) {
    case "connect":
      return connect(req)
    case "announce":
      return announce(req)
    case "relayStart":
      return relayStart(req)
    case "relayStop":
      return relayStop()
    case "failoverArm":
      return failoverArm(req)
    case "failoverResult":
      if (failover === undefined) throw new Error("failover not armed")
      return failover
    case "record":
      recording = req.on
      return true
    case "timeline": {
      const r: TimelineResult = {
        peerIds: clients.map((c) => c.peerId),
        ports: clients.map((c) => c.port),
        announcedAt: clients.map((c) => c.announcedMono),
        discovered: discoveredLog,
        disconnected: disconnectedLog
      }
      discoveredLog = blankReceived()
      disconnectedLog = blankReceived()
      return r
    }
    case "counts": {
      let open = 0
      for (const c of clients) if (c.open) open++
      const r: CountsResult = { peerDiscovered, relayed, errorsFromServer, open, cpu: process.cpuUsage() }
      return r
    }
    case "close": {
      const n = await closeAll()
      if (req.exit) setImmediate(() => process.disconnect())
      return n
    }
  }
})

process.on("disconnect", () => {
  for (const c of clients) c.ws?.terminate()
  setTimeout(() => process.exit(0), 200).unref()
})
