/**
 * A test client for the signaling server: a raw `ws` socket whose frames are queued, so a
 * test waits for a message (by predicate) or for the close, never for a fixed time.
 */
import WebSocket from "ws"

export interface Frame {
  readonly type: string
  readonly [key: string]: unknown
}

export interface TestClient {
  readonly ws: WebSocket
  readonly received: Array<Frame>
  send(message: object | string): void
  /** Resolves with the first frame (already received or future) matching, and removes it. */
  next(predicate?: (f: Frame) => boolean, timeoutMs?: number): Promise<Frame>
  /** All frames of a type received so far. */
  all(type: string): Array<Frame>
  readonly closed: Promise<{ readonly code: number; readonly reason: string }>
  close(): Promise<void>
}

export const hexId = (n: number, prefix = ""): string => (prefix + n.toString(16)).padStart(40, "0").slice(-40)

export const connect = (port: number, peerId: string | null, options: WebSocket.ClientOptions = {}): Promise<TestClient> => {
  const url = `ws://127.0.0.1:${port}/${peerId === null ? "" : `?peerId=${peerId}`}`
  const ws = new WebSocket(url, options)
  const received: Array<Frame> = []
  let waiters: Array<{ predicate: (f: Frame) => boolean; resolve: (f: Frame) => void }> = []
  ws.on("message", (data) => {
    const frame = JSON.parse((data as Buffer).toString()) as Frame // ws's default binaryType gives a Buffer
    const waiter = waiters.find((w) => w.predicate(frame))
    if (waiter) {
      waiters = waiters.filter((w) => w !== waiter)
      waiter.resolve(frame)
    } else {
      received.push(frame)
    }
  })
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on("close", (code, reason) => resolve({ code, reason: String(reason) }))
  )
  const client: TestClient = {
    ws,
    received,
    send: (message) => ws.send(typeof message === "string" ? message : JSON.stringify(message)),
    next: (predicate = () => true, timeoutMs = 5000) => {
      const index = received.findIndex(predicate)
      if (index !== -1) return Promise.resolve(received.splice(index, 1)[0]!)
      return new Promise<Frame>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters = waiters.filter((w) => w.resolve !== done)
          reject(new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(received.map((f) => f.type))}`))
        }, timeoutMs)
        const done = (f: Frame) => {
          clearTimeout(timer)
          resolve(f)
        }
        waiters.push({ predicate, resolve: done })
      })
    },
    all: (type) => received.filter((f) => f.type === type),
    closed,
    close: async () => {
      if (ws.readyState === WebSocket.CLOSED) return
      ws.close()
      await closed
    }
  }
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve(client))
    ws.once("error", reject)
  })
}

/** Connects and waits for the `connected` greeting. */
export const join = async (port: number, peerId: string, options: WebSocket.ClientOptions = {}): Promise<TestClient> => {
  const client = await connect(port, peerId, options)
  await client.next((f) => f.type === "connected")
  return client
}

export const ofType = (type: string) => (f: Frame) => f.type === type
