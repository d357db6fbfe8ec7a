/**
 * PeerPigeon for Node: `PeerPigeonMesh` over werift WebRTC, `PeerPigeonServer`, and the
 * Effect API (`MeshLayer` over the Node platform, and every service).
 *
 * @since 2.0.0
 */
import { makeMeshLayer } from "./layers/Mesh.ts"
import { layer as nodePlatform } from "./platform/node.ts"
import { openFilePath } from "./platform/nodeFile.ts"
import { PeerPigeonMeshBase, type PeerPigeonMeshOptions } from "./PeerPigeonMesh.ts"

export * from "./exports.ts"
export { PeerPigeonServer, type PeerPigeonServerOptions } from "./server/index.ts"
export { nodePlatform }

/** The mesh over werift WebRTC and a WebSocket signaling server. */
export class PeerPigeonMesh extends PeerPigeonMeshBase {
  constructor(options: PeerPigeonMeshOptions = {}) {
    super(options, nodePlatform())
  }

  /** `sendFile(peerId, path)`: the file at `path`, read as it is sent. */
  protected override openFile(path: string) {
    return openFilePath(path)
  }
}

/** Every mesh service for an Effect program in Node. */
export const MeshLayer = (options: PeerPigeonMeshOptions = {}) => makeMeshLayer(options, nodePlatform())
