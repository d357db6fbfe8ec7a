/** Facade test helpers (see test/facade/support.ts), with the Node `PeerPigeonMesh` over werift. */
import { PeerPigeonMesh } from "../../src/index.ts"

export * from "../facade/support.ts"
export { PeerPigeonMesh }
