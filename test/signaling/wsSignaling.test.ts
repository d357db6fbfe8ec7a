import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { WebSocketServer } from "ws"
import { signalingUrl } from "../../src/layers/WsSignaling.ts"
import { PeerPigeonServer } from "../../src/server/index.ts"
import { makeClient, startServer } from "./client.ts"

const urlOf = (server: PeerPigeonServer, scheme = "ws", path = "/") => `${scheme}://127.0.0.1:${server.port}${path}`

/** Resolves when the server reports `peerId` gone; subscribe before causing it. */
const serverSaysGone = (server: PeerPigeonServer, peerId: string) =>
  new Promise<string>((resolve) => {
    const listener = (e: { readonly peerId: string; readonly reason: string }) => {
      if (e.peerId !== peerId) return
      server.off("peerDisconnected", listener)
      resolve(e.reason)
    }
    server.on("peerDisconnected", listener)
  })

describe("WsSignaling", () => {
  it.live("two clients discover each other, verified, and relay signals", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const a = yield* makeClient()
      const b = yield* makeClient()
      yield* a.signaling.connect(urlOf(server, "http", "/signal?app=demo"))
      assert.deepStrictEqual(yield* a.next("Connected"), { _tag: "Connected" })
      yield* b.signaling.connect(urlOf(server))
      const aboutB = yield* a.next("PeerDiscovered")
      const aboutA = yield* b.next("PeerDiscovered")
      assert.strictEqual(aboutB.peerId, b.peerId)
      assert.strictEqual(aboutA.peerId, a.peerId)
      assert.isTrue(aboutB.verified)
      assert.isTrue(aboutA.verified)
      assert.strictEqual(aboutA.data["publicKey"], a.identity.publicKey)
      assert.isTrue(yield* a.signaling.isConnected)

      yield* a.signaling.send(b.peerId, { kind: "offer", data: { type: "offer", sdp: "v=0" } })
      yield* a.signaling.send(b.peerId, { kind: "ice-candidate", data: null })
      assert.deepStrictEqual(yield* b.next("Signal"), {
        _tag: "Signal",
        from: a.peerId,
        signal: { kind: "offer", data: { type: "offer", sdp: "v=0" } }
      })
      assert.deepStrictEqual(yield* b.next("Signal"), { _tag: "Signal", from: a.peerId, signal: { kind: "ice-candidate", data: null } })
      yield* b.signaling.send(a.peerId, { kind: "answer", data: { type: "answer", sdp: "v=0" } })
      assert.deepStrictEqual((yield* a.next("Signal")).signal.kind, "answer")

      // a target the server does not know comes back as a ServerError, and the link stays up
      yield* a.signaling.send("f".repeat(40) as typeof a.peerId, { kind: "offer", data: {} })
      const unknown = yield* a.next("ServerError")
      assert.strictEqual(unknown.code, "unknown-peer")
      // naming the target, so a link being set up to it fails at once (Discovery -> Connections.unreachable)
      assert.strictEqual(unknown.peerId, "f".repeat(40))
      assert.isTrue(yield* a.signaling.isConnected)
    }))

  it.live("a custom peer id connects without a proof and is seen as unverified", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const a = yield* makeClient()
      const custom = yield* makeClient({ peerId: "AB".repeat(20) })
      yield* a.signaling.connect(urlOf(server))
      yield* custom.signaling.connect(urlOf(server))
      const seen = yield* a.next("PeerDiscovered")
      assert.strictEqual(seen.peerId, "ab".repeat(20))
      assert.isFalse(seen.verified)
    }))

  it.live("fails with typed errors: not-connected, invalid-url, connect-failed, refused", () =>
    Effect.gen(function*() {
      const a = yield* makeClient()
      const offline = yield* Effect.flip(a.signaling.send(a.peerId, { kind: "offer", data: {} }))
      assert.strictEqual(offline.reason, "not-connected")
      for (const bad of ["not a url", "ftp://127.0.0.1/", "file:///tmp/x", ""]) {
        const error = yield* Effect.flip(a.signaling.connect(bad))
        assert.strictEqual(error.reason, "invalid-url", bad)
      }
      // a port nobody listens on: take one from a server that is then stopped
      const gone = new PeerPigeonServer({ host: "127.0.0.1", port: 0 })
      yield* Effect.promise(() => gone.start())
      const port = gone.port
      yield* Effect.promise(() => gone.stop())
      const refusedPort = yield* Effect.flip(a.signaling.connect(`ws://127.0.0.1:${port}/`))
      assert.strictEqual(refusedPort.reason, "connect-failed")
      assert.isFalse(yield* a.signaling.isConnected)

      // the server refuses a second connection with the same peer id (1008)
      const server = yield* startServer()
      yield* a.signaling.connect(urlOf(server))
      const twin = yield* makeClient({ peerId: a.peerId })
      const duplicate = yield* Effect.flip(twin.signaling.connect(urlOf(server)))
      assert.strictEqual(duplicate.reason, "refused")
      assert.include(duplicate.message, "Peer already connected")
    }))

  it.live("keeps the user's path and query and sets peerId", () =>
    Effect.gen(function*() {
      const id = "ab".repeat(20)
      assert.strictEqual(yield* signalingUrl("https://example.com/sig?x=1#frag", id), `wss://example.com/sig?x=1&peerId=${id}`)
      assert.strictEqual(yield* signalingUrl("http://h:8080", id), `ws://h:8080/?peerId=${id}`)
      assert.strictEqual(yield* signalingUrl("ws://h/?peerId=old", id), `ws://h/?peerId=${id}`)
    }))

  it.live("reconnects by itself after a server restart on the same port, and re-announces", () =>
    Effect.gen(function*() {
      const first = yield* startServer()
      const port = first.port
      const a = yield* makeClient()
      const b = yield* makeClient()
      yield* a.signaling.connect(urlOf(first))
      yield* b.signaling.connect(urlOf(first))
      yield* a.next("PeerDiscovered", (e) => e.peerId === b.peerId)
      yield* b.next("PeerDiscovered", (e) => e.peerId === a.peerId)

      yield* Effect.promise(() => first.stop())
      for (const client of [a, b]) {
        const down = yield* client.next("Disconnected")
        assert.isTrue(down.willReconnect)
      }
      const offline = yield* Effect.flip(a.signaling.send(b.peerId, { kind: "offer", data: {} }))
      assert.strictEqual(offline.reason, "not-connected")

      const second = yield* startServer({ port })
      assert.strictEqual(second.port, port)
      yield* a.next("Connected")
      yield* b.next("Connected")
      // whichever announced second tells, and is told about, the other
      yield* a.next("PeerDiscovered", (e) => e.peerId === b.peerId && e.verified)
      yield* b.next("PeerDiscovered", (e) => e.peerId === a.peerId && e.verified)
      yield* a.signaling.send(b.peerId, { kind: "offer", data: { sdp: "again" } })
      assert.strictEqual((yield* b.next("Signal")).from, a.peerId)
      const peers = second.getPeers()
      assert.deepStrictEqual(peers.map((p) => p.verified), [true, true])
    }))

  it.live("drops a connection that stays silent for two keepalive intervals and re-dials", () =>
    Effect.gen(function*() {
      // a server that completes the handshake, then never says anything again
      const dials: Array<string> = []
      const wss = yield* Effect.acquireRelease(
        Effect.callback<WebSocketServer>((resume) => {
          const wss: WebSocketServer = new WebSocketServer({ host: "127.0.0.1", port: 0 }, () => resume(Effect.succeed(wss)))
        }),
        (wss) => Effect.callback<void>((resume) => {
          for (const ws of wss.clients) ws.terminate()
          wss.close(() => resume(Effect.void))
        })
      )
      wss.on("connection", (ws, request) => {
        dials.push(request.url ?? "")
        ws.send(JSON.stringify({ type: "connected", data: { peerId: "ab".repeat(20) }, fromPeerId: "system", timestamp: 0 }))
        // answer only the handshake's ping, so the announce is confirmed; silent from then on
        let answered = false
        ws.on("message", (data) => {
          if (answered || (JSON.parse((data as Buffer).toString()) as { type?: unknown }).type !== "ping") return
          answered = true
          ws.send(JSON.stringify({ type: "pong", data: { timestamp: 0 }, fromPeerId: "system", timestamp: 0 }))
        })
      })
      const { port } = wss.address() as { port: number }
      const a = yield* makeClient({ keepAliveInterval: "100 millis" })
      yield* a.signaling.connect(`ws://127.0.0.1:${port}`)
      const down = yield* a.next("Disconnected")
      assert.deepStrictEqual(down, { _tag: "Disconnected", reason: "keepalive-timeout", willReconnect: true })
      yield* a.next("Connected")
      assert.strictEqual(dials.length, 2)
      yield* a.signaling.disconnect
    }))

  it.live("disconnect says goodbye, closes and stops; closing the Scope does the same", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const a = yield* makeClient()
      const b = yield* makeClient()
      yield* a.signaling.connect(urlOf(server))
      yield* b.signaling.connect(urlOf(server))
      yield* b.next("PeerDiscovered", (e) => e.peerId === a.peerId)

      const aGone = serverSaysGone(server, a.peerId)
      yield* a.signaling.disconnect
      const left = yield* b.next("PeerLeft")
      assert.deepStrictEqual(left, { _tag: "PeerLeft", peerId: a.peerId, reason: "peer_disconnect" })
      assert.deepStrictEqual(yield* a.next("Disconnected"), { _tag: "Disconnected", reason: "disconnect", willReconnect: false })
      assert.isFalse(yield* a.signaling.isConnected)
      assert.strictEqual((yield* Effect.flip(a.signaling.send(b.peerId, { kind: "offer", data: {} }))).reason, "not-connected")
      yield* Effect.promise(() => aGone)
      yield* a.signaling.disconnect // idempotent

      // a client whose layer Scope closes leaves the same way
      const c = yield* Effect.scoped(Effect.gen(function*() {
        const c = yield* makeClient()
        yield* c.signaling.connect(urlOf(server))
        yield* b.next("PeerDiscovered", (e) => e.peerId === c.peerId)
        return { peerId: c.peerId, gone: serverSaysGone(server, c.peerId) }
      }))
      assert.deepStrictEqual(yield* b.next("PeerLeft"), { _tag: "PeerLeft", peerId: c.peerId, reason: "peer_disconnect" })
      yield* Effect.promise(() => c.gone)
      const peers = server.getPeers()
      assert.deepStrictEqual(peers.map((p) => p.peerId), [b.peerId])
    }))

  it.live("the process exits by itself after disconnect, without closing the layer", () =>
    Effect.gen(function*() {
      const script = fileURLToPath(new URL("./exit-after-disconnect.ts", import.meta.url))
      const exit = yield* Effect.exit(Effect.callback<string, Error>((resume) => {
        execFile(process.execPath, [script], { timeout: 15_000 }, (error, stdout, stderr) =>
          resume(error ? Effect.fail(new Error(`${error.message}\n${stderr}`)) : Effect.succeed(stdout)))
      }))
      assert.isTrue(Exit.isSuccess(exit), String(exit))
      if (Exit.isSuccess(exit)) assert.deepStrictEqual(JSON.parse(exit.value.trim()), { before: true, after: false })
    }), 20_000)
})
