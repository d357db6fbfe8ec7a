/**
 * The Node platform of a mesh: WebRTC through werift and signaling through Node's WebSocket.
 *
 * @since 2.0.0
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import { Layer } from "effect"
import type { Platform } from "../layers/Mesh.ts"
import { layerWerift, type WeriftOptions } from "../layers/RtcPeerConnection.ts"
import * as WebRtcTransport from "../layers/WebRtcTransport.ts"
import * as WsSignaling from "../layers/WsSignaling.ts"

export const layer = (options: WeriftOptions = {}): Platform =>
  Layer.mergeAll(
    WebRtcTransport.layerConfig().pipe(Layer.provide(layerWerift(options))),
    WsSignaling.layer.pipe(Layer.provide(NodeSocket.layerWebSocketConstructor))
  )
