/**
 * The Node platform of a mesh: WebRTC through werift and signaling through Node's WebSocket.
 *
 * werift's connections get their DTLS write keys as `KeyObject`s once connected
 * (`internal/dtlsKeyObjects.ts`): werift hands Node byte-array keys for every record, which
 * Node 22+ makes expensive; this about halves a data channel's CPU per message.
 *
 * @since 2.0.0
 */
import { createSecretKey } from "node:crypto"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import { Effect, Layer } from "effect"
import { useKeyObjects } from "../internal/dtlsKeyObjects.ts"
import type { Platform } from "../layers/Mesh.ts"
import { layerWerift, RtcPeerConnectionCtor, type RTCPeerConnectionLike, type WeriftOptions } from "../layers/RtcPeerConnection.ts"
import * as WebRtcTransport from "../layers/WebRtcTransport.ts"
import * as WsSignaling from "../layers/WsSignaling.ts"

/** `pc` with its DTLS write keys made `KeyObject`s as soon as it is connected. */
export const withKeyObjects = (pc: RTCPeerConnectionLike): RTCPeerConnectionLike => {
  const listener = () => {
    const state = pc.connectionState
    if (state === "connected") useKeyObjects(pc, createSecretKey)
    if (state === "connected" || state === "failed" || state === "closed") pc.removeEventListener("connectionstatechange", listener)
  }
  pc.addEventListener("connectionstatechange", listener)
  return pc
}

/** Every connection `ctor` makes, `withKeyObjects`. */
export const layerKeyObjects: Layer.Layer<RtcPeerConnectionCtor, never, RtcPeerConnectionCtor> = Layer.effect(
  RtcPeerConnectionCtor,
  Effect.gen(function*() {
    const ctor = yield* RtcPeerConnectionCtor
    return RtcPeerConnectionCtor.of({ make: (config) => withKeyObjects(ctor.make(config)) })
  })
)

export const layer = (options: WeriftOptions = {}): Platform =>
  Layer.mergeAll(
    WebRtcTransport.layerConfig().pipe(Layer.provide(layerKeyObjects), Layer.provide(layerWerift(options))),
    WsSignaling.layer.pipe(Layer.provide(NodeSocket.layerWebSocketConstructor))
  )
