/**
 * PeerPigeon for browsers: `PeerPigeonMesh` over the native RTCPeerConnection and
 * WebSocket, and the Effect API. No Node built-ins.
 *
 * @since 2.0.0
 */
import { makeMeshLayer } from "./layers/Mesh.ts"
import { layer as browserPlatform } from "./platform/browser.ts"
import { PeerPigeonMeshBase, type PeerPigeonMeshOptions } from "./PeerPigeonMesh.ts"

export * from "./exports.ts"
export { browserPlatform }

/** The mesh over the browser's WebRTC and a WebSocket signaling server. */
export class PeerPigeonMesh extends PeerPigeonMeshBase {
  constructor(options: PeerPigeonMeshOptions = {}) {
    super(options, browserPlatform)
  }
}

/** Every mesh service for an Effect program in a browser. */
export const MeshLayer = (options: PeerPigeonMeshOptions = {}) => makeMeshLayer(options, browserPlatform)
