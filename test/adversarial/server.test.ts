// Hostile clients against the real signaling server on 127.0.0.1: squatting on another
// peer's id, idle sockets, many sockets from one address, oversized or lying announce
// extras, announce spam. After each attack an honest pair still announces, discovers each
// other and relays an offer.
import { describe, expect, it } from "vitest"
import type { PeerPigeonServer } from "../../src/server/index.ts"
import { type AnnounceIdentity, makeIdentity, randomId, released, withServer } from "../support/server.ts"
import { connect, type Frame, join, ofType, type TestClient } from "../support/wsClient.ts"

type Identity = AnnounceIdentity

const nonceOf = (f: Frame) => (f["data"] as { nonce: string }).nonce
const dataOf = (f: Frame) => f["data"] as Record<string, unknown>
const about = (type: string, peerId: string) => (f: Frame) => f.type === type && dataOf(f)["peerId"] === peerId

/** Connects as `me` and announces with a valid proof; resolves with the client. */
const joinProven = async (port: number, me: Identity, extras: object = {}): Promise<TestClient> => {
  const client = await connect(port, me.peerId)
  const nonce = nonceOf(await client.next(ofType("connected")))
  const signature = await me.sign("global", nonce)
  client.send({ type: "announce", data: { ...extras, peerId: me.peerId, publicKey: me.publicKey, signature } })
  return client
}

/** A ping round-trip: every frame sent before it has been handled. */
const settle = async (client: TestClient) => {
  client.send({ type: "ping" })
  await client.next(ofType("pong"))
}

/** Two honest clients announce in a fresh network, discover each other and relay an offer. */
const honestPair = async (server: PeerPigeonServer) => {
  const [x, y] = [randomId(), randomId()]
  const networkName = `honest-${x.slice(0, 8)}`
  const a = await join(server.port, x)
  const b = await join(server.port, y)
  a.send({ type: "announce", data: { peerId: x, name: "a" }, networkName })
  b.send({ type: "announce", data: { peerId: y, name: "b" }, networkName })
  expect(dataOf(await a.next(about("peer-discovered", y)))).toMatchObject({ peerId: y, name: "b", isHub: false })
  expect(dataOf(await b.next(about("peer-discovered", x)))).toMatchObject({ peerId: x, name: "a", isHub: false })
  a.send({ type: "offer", data: { type: "offer", sdp: "v=0" }, targetPeerId: y })
  expect(await b.next(ofType("offer"))).toMatchObject({ fromPeerId: x, targetPeerId: y, data: { sdp: "v=0" }, networkName })
  await Promise.all([a.close(), b.close()])
}

describe("signaling server under hostile clients", () => {
  it("an unannounced squatter on ?peerId=X is displaced by a proven announce for X", () =>
    withServer({}, async (server) => {
      const real = await makeIdentity()
      const squatter = await join(server.port, real.peerId)
      // an impostor with another key cannot take it: it is refused as a duplicate
      const impostor = await makeIdentity()
      const fake = await connect(server.port, real.peerId)
      const fakeNonce = nonceOf(await fake.next(ofType("connected")))
      fake.send({ type: "announce", data: { peerId: real.peerId, publicKey: impostor.publicKey, signature: await impostor.sign("global", fakeNonce) } })
      expect(await fake.next(ofType("error"))).toMatchObject({ code: "identity-invalid" })
      expect(await fake.closed).toEqual({ code: 1008, reason: "Peer already connected" })
      await settle(squatter)

      const witness = await join(server.port, randomId())
      witness.send({ type: "announce", data: {} })
      await settle(witness)
      const owner = await joinProven(server.port, real)
      expect(await squatter.closed).toEqual({ code: 1008, reason: "Peer id taken over by a verified announce" })
      expect(dataOf(await witness.next(about("peer-discovered", real.peerId)))).toMatchObject({ verified: true, publicKey: real.publicKey })
      await owner.next(ofType("peer-discovered"))
      const peers = server.getPeers()
      expect(peers.find((p) => p.peerId === real.peerId)).toMatchObject({ announced: true, verified: true })
      expect(server.getStats().takeovers).toBe(1)
      await Promise.all([owner.close(), witness.close()])
      await honestPair(server)
    }))

  it("an announced but unverified squatter is displaced too, and its network is told", () =>
    withServer({}, async (server) => {
      const real = await makeIdentity()
      const witness = await join(server.port, randomId())
      witness.send({ type: "announce", data: {} })
      const squatter = await join(server.port, real.peerId)
      squatter.send({ type: "announce", data: { peerId: real.peerId, name: "not really" } })
      expect(dataOf(await witness.next(about("peer-discovered", real.peerId)))).not.toHaveProperty("verified")
      const owner = await joinProven(server.port, real)
      expect(await squatter.closed).toEqual({ code: 1008, reason: "Peer id taken over by a verified announce" })
      expect(dataOf(await witness.next(about("peer-disconnected", real.peerId)))).toMatchObject({ reason: "displaced" })
      const rediscovered = dataOf(await witness.next(about("peer-discovered", real.peerId)))
      expect(rediscovered).toMatchObject({ verified: true })
      expect(rediscovered).not.toHaveProperty("name")
      await Promise.all([owner.close(), witness.close()])
      await honestPair(server)
    }))

  it("an unannounced socket is closed after announceTimeout; announced ones stay, and a goodbye restarts the clock", () =>
    withServer({ announceTimeout: 400 }, async (server) => {
      const stays = await join(server.port, randomId())
      stays.send({ type: "announce", data: {} })
      await settle(stays)
      const idle = await join(server.port, randomId())
      expect(await idle.closed).toEqual({ code: 1008, reason: "Announce timeout" })
      await settle(stays)
      stays.send({ type: "goodbye", data: { reason: "leaving" } })
      expect(await stays.closed).toEqual({ code: 1008, reason: "Announce timeout" })
      expect(server.getStats().announceTimeouts).toBe(2)
      await honestPair(server)
    }))

  it("maxConnectionsPerIp refuses the sockets over the cap (1008) and frees on close", () =>
    withServer({ maxConnectionsPerIp: 3 }, async (server) => {
      const ids = [randomId(), randomId(), randomId()]
      const held = await Promise.all(ids.map((id) => join(server.port, id)))
      const over = await connect(server.port, randomId())
      expect(await over.closed).toEqual({ code: 1008, reason: "Too many connections from this address" })
      // a socket with a bad peer id is refused before it counts
      const bad = await connect(server.port, "nope")
      expect(await bad.closed).toEqual({ code: 1008, reason: "Invalid peerId format" })
      for (const [i, client] of held.slice(0, 2).entries()) {
        await client.close()
        await released(server, ids[i]!)
      }
      await honestPair(server)
      await held[2]!.close()
    }))

  it("announce extras over maxAnnounceExtras are refused with an error", () =>
    withServer({}, async (server) => {
      const witness = await join(server.port, randomId())
      witness.send({ type: "announce", data: {} })
      const id = randomId()
      const big = await join(server.port, id)
      big.send({ type: "announce", data: { peerId: id, blob: "x".repeat(5000) } })
      expect(await big.next(ofType("error"))).toMatchObject({ code: "announce-too-large" })
      // multi-byte characters count as UTF-8 bytes
      big.send({ type: "announce", data: { blob: "é".repeat(2100) } })
      expect(await big.next(ofType("error"))).toMatchObject({ code: "announce-too-large" })
      expect(server.getPeers().find((p) => p.peerId === id)).toMatchObject({ announced: false })
      await settle(witness)
      expect(witness.all("peer-discovered")).toEqual([])
      big.send({ type: "announce", data: { blob: "x".repeat(3000) } })
      expect(dataOf(await witness.next(about("peer-discovered", id)))["blob"]).toHaveLength(3000)
      await Promise.all([witness.close(), big.close()])
      await honestPair(server)
    }))

  it("verified and isHub in the extras never reach other peers as if the server had set them", () =>
    withServer({}, async (server) => {
      const witness = await join(server.port, randomId())
      witness.send({ type: "announce", data: {} })
      await settle(witness)
      const liarId = randomId()
      const liar = await join(server.port, liarId)
      liar.send({ type: "announce", data: { peerId: liarId, verified: true, isHub: true, name: "liar" } })
      const seen = dataOf(await witness.next(about("peer-discovered", liarId)))
      expect(seen).toMatchObject({ peerId: liarId, isHub: false, name: "liar" })
      expect(seen).not.toHaveProperty("verified")
      // a verified peer's own isHub claim is dropped as well, its verified comes from the server
      const real = await makeIdentity()
      const proven = await joinProven(server.port, real, { isHub: true })
      const fromProven = dataOf(await witness.next(about("peer-discovered", real.peerId)))
      expect(fromProven).toMatchObject({ verified: true, isHub: false })
      await Promise.all([witness.close(), liar.close(), proven.close()])
      await honestPair(server)
    }))

  it("announce spam is rate limited on its own", () =>
    withServer({ announceRateLimit: { perSecond: 0.01, burst: 3 } }, async (server) => {
      const witness = await join(server.port, randomId())
      witness.send({ type: "announce", data: {} })
      await settle(witness)
      const spammerId = randomId()
      const spammer = await join(server.port, spammerId)
      for (let i = 0; i < 20; i++) spammer.send({ type: "announce", data: { i } })
      await settle(spammer)
      const refused = spammer.all("error").filter((f) => f["code"] === "rate-limited")
      expect(refused).toHaveLength(17)
      await settle(witness)
      expect(witness.all("peer-discovered").filter(about("peer-discovered", spammerId))).toHaveLength(3)
      // other frames are not held back by it
      spammer.send({ type: "ping" })
      expect(await spammer.next(ofType("pong"))).toMatchObject({ type: "pong" })
      await Promise.all([witness.close(), spammer.close()])
      await honestPair(server)
    }))
})
