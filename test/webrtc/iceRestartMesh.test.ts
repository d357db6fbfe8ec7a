import * as NodeSocket from "@effect/platform-node/NodeSocket"
import { Layer } from "effect"
import { describe, expect, it } from "vitest"
import type { Platform } from "../../src/layers/Mesh.ts"
import { layerWerift, RtcPeerConnectionCtor, type RTCPeerConnectionLike } from "../../src/layers/RtcPeerConnection.ts"
import * as WebRtcTransport from "../../src/layers/WebRtcTransport.ts"
import * as WsSignaling from "../../src/layers/WsSignaling.ts"
import { PeerPigeonServer } from "../../src/server/index.ts"
import { connectedIds, fastMesh, PeerPigeonMeshBase, record, until } from "../support/facade.ts"
import { expireConsent, iceGeneration } from "./weriftIce.ts"

/** The Node platform, with every connection the mesh makes kept in `made`. */
const recordingPlatform = (made: Array<RTCPeerConnectionLike>): Platform =>
  Layer.mergeAll(
    WebRtcTransport.layerConfig().pipe(
      Layer.provide(Layer.effect(
        RtcPeerConnectionCtor,
        RtcPeerConnectionCtor.useSync((werift) =>
          RtcPeerConnectionCtor.of({
            make: (config) => {
              const pc = werift.make(config)
              made.push(pc)
              return pc
            }
          })
        )
      )),
      Layer.provide(layerWerift())
    ),
    WsSignaling.layer.pipe(Layer.provide(NodeSocket.layerWebSocketConstructor))
  )

describe("ICE restart of a mesh link (werift, real signaling server)", () => {
  it("the restart offer reaches the open link through Connections: no new link, no disconnect, messages flow", async () => {
    const server = new PeerPigeonServer({ host: "127.0.0.1", port: 0 })
    await server.start()
    const url = `ws://127.0.0.1:${server.port}`
    const madeA: Array<RTCPeerConnectionLike> = []
    const madeB: Array<RTCPeerConnectionLike> = []
    const options = { ...fastMesh, networkName: "ice-restart", maxPeers: 1, minPeers: 1 }
    const a = new PeerPigeonMeshBase(options, recordingPlatform(madeA))
    const b = new PeerPigeonMeshBase(options, recordingPlatform(madeB))
    try {
      await a.connect(url)
      await b.connect(url)
      await until("linked", () => connectedIds(a).includes(b.peerId) && connectedIds(b).includes(a.peerId), 20_000)
      const connected = (pc: RTCPeerConnectionLike) => pc.connectionState === "connected"
      await until("one connection each", () => madeA.filter(connected).length === 1 && madeB.filter(connected).length === 1)
      const [pcA, pcB] = [madeA.find(connected)!, madeB.find(connected)!]
      const [countA, countB] = [madeA.length, madeB.length]
      const dropped = [...record(a, "peerDisconnected"), ...record(b, "peerDisconnected")]
      const joined = [...record(a, "peerConnected"), ...record(b, "peerConnected")]
      const toB = record(b, "messageReceived")
      const toA = record(a, "messageReceived")

      expireConsent(pcA)
      expireConsent(pcB)
      await until("ICE restarted", () => iceGeneration(pcA) + iceGeneration(pcB) >= 2 && pcA.iceConnectionState === "connected" &&
        pcB.iceConnectionState === "connected", 15_000)
      a.sendDirectMessage(b.peerId, "after the restart")
      b.sendDirectMessage(a.peerId, "and back")
      await until("delivered both ways", () => toB.some((m) => m.content === "after the restart") && toA.some((m) => m.content === "and back"))

      expect(dropped).toEqual([])
      expect(joined).toEqual([])
      expect([madeA.length, madeB.length]).toEqual([countA, countB])
      expect(connectedIds(a)).toEqual([b.peerId])
      expect(connectedIds(b)).toEqual([a.peerId])
    } finally {
      await Promise.all([a.disconnect(), b.disconnect()])
      await server.stop()
    }
  }, 60_000)
})
