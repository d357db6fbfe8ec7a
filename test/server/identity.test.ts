import { describe, expect, it } from "vitest"
import { makeIdentity, withServer } from "../support/server.ts"
import { connect, type Frame, hexId, join, ofType } from "../support/wsClient.ts"


const nonceOf = (f: Frame) => (f["data"] as { nonce: string }).nonce

describe("identity extension", () => {
  it("marks a peer with a valid proof as verified", () =>
    withServer({}, async (server) => {
      const me = await makeIdentity()
      const other = await join(server.port, hexId(1))
      other.send({ type: "announce", data: { peerId: hexId(1) } })
      const c2 = await connect(server.port, me.peerId)
      const hello = await c2.next(ofType("connected"))
      const signature = await me.sign("global", nonceOf(hello))
      c2.send({ type: "announce", data: { peerId: me.peerId, publicKey: me.publicKey, signature } })
      expect(await other.next(ofType("peer-discovered"))).toMatchObject({
        data: { peerId: me.peerId, verified: true, publicKey: me.publicKey }
      })
      expect(await c2.next(ofType("peer-discovered"))).not.toHaveProperty("data.verified")
      await Promise.all([other.close(), c2.close()])
    }))

  it("refuses at once a second connection for the id of a verified peer (1008)", () =>
    withServer({}, async (server) => {
      const me = await makeIdentity()
      const first = await connect(server.port, me.peerId)
      const nonce = nonceOf(await first.next(ofType("connected")))
      first.send({ type: "announce", data: { peerId: me.peerId, publicKey: me.publicKey, signature: await me.sign("global", nonce) } })
      first.send({ type: "ping" })
      await first.next(ofType("pong"))
      const second = await connect(server.port, me.peerId)
      expect(await second.closed).toEqual({ code: 1008, reason: "Peer already connected" })
      expect(second.all("connected")).toEqual([])
      first.send({ type: "ping" })
      expect(await first.next()).toMatchObject({ type: "pong" })
      await first.close()
    }))

  it("rejects a wrong signature, a key of another id, and a proof for another network", () =>
    withServer({}, async (server) => {
      const me = await makeIdentity()
      const stranger = await makeIdentity()
      const c = await connect(server.port, me.peerId)
      const nonce = nonceOf(await c.next(ofType("connected")))
      const badSig = await me.sign("global", "another-nonce")
      c.send({ type: "announce", data: { peerId: me.peerId, publicKey: me.publicKey, signature: badSig } })
      expect(await c.next()).toMatchObject({ type: "error", code: "identity-invalid", error: "Identity proof rejected: bad-signature" })
      const theirs = await stranger.sign("global", nonce)
      c.send({ type: "announce", data: { peerId: me.peerId, publicKey: stranger.publicKey, signature: theirs } })
      expect(await c.next()).toMatchObject({ type: "error", error: "Identity proof rejected: id-mismatch" })
      const otherNet = await me.sign("elsewhere", nonce)
      c.send({ type: "announce", data: { peerId: me.peerId, publicKey: me.publicKey, signature: otherNet } })
      expect(await c.next()).toMatchObject({ type: "error", code: "identity-invalid" })
      c.send({ type: "announce", data: { peerId: me.peerId, publicKey: "!!", signature: "??" } })
      expect(await c.next()).toMatchObject({ type: "error", error: "Identity proof rejected: bad-encoding" })
      expect(server.getPeers()[0]).toMatchObject({ announced: false })
      await c.close()
    }))

  it("requireIdentity refuses unverified announces and accepts verified ones", () =>
    withServer({ requireIdentity: true }, async (server) => {
      const old = await join(server.port, hexId(7))
      old.send({ type: "announce", data: { peerId: hexId(7) } })
      expect(await old.next()).toMatchObject({ type: "error", code: "identity-required" })
      const me = await makeIdentity()
      const c = await connect(server.port, me.peerId)
      const nonce = nonceOf(await c.next(ofType("connected")))
      c.send({ type: "announce", data: { peerId: me.peerId, publicKey: me.publicKey, signature: await me.sign("global", nonce) } })
      c.send({ type: "ping" })
      expect(await c.next()).toMatchObject({ type: "pong" })
      const peers = server.getPeers()
      expect(peers.find((p) => p.peerId === me.peerId)).toMatchObject({ announced: true, verified: true })
      expect(peers.find((p) => p.peerId === hexId(7))).toMatchObject({ announced: false })
      await Promise.all([old.close(), c.close()])
    }))
})
