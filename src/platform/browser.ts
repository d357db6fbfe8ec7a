/**
 * The browser platform of a mesh: the native RTCPeerConnection and WebSocket.
 *
 * @since 2.0.0
 */
import { Layer } from "effect"
import { Socket } from "effect/socket"
import type { Platform } from "../layers/Mesh.ts"
import { layerGlobal } from "../layers/RtcPeerConnection.ts"
import * as WebRtcTransport from "../layers/WebRtcTransport.ts"
import * as WsSignaling from "../layers/WsSignaling.ts"

export const layer: Platform = Layer.mergeAll(
  WebRtcTransport.layerConfig().pipe(Layer.provide(layerGlobal)),
  WsSignaling.layer.pipe(Layer.provide(Socket.layerWebSocketConstructorGlobal))
)
