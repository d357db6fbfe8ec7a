/**
 * The signaling server: `PeerPigeonServer` for plain users, the Effect program and its
 * services for Effect users.
 *
 * @since 2.0.0
 */
export { PeerPigeonServer, type PeerInfo, type PeerPigeonServerEvents, type PeerPigeonServerOptions } from "./PeerPigeonServer.ts"
export {
  type ConnectionRecord,
  type Counts,
  type Displaced,
  type LeaveResult,
  type PeerRecord,
  type PeerSink,
  Registry,
  RegistryError,
  type RegistryShape
} from "./Registry.ts"
export { defaults as serverDefaults, resolveOptions, ServerConfig, type ServerOptions } from "./ServerConfig.ts"
export { ServerHooks, type ServerHooksShape, ServerStats, type StatsCounters } from "./ServerEvents.ts"
export { clusterSnapshot, statsSnapshot } from "./Endpoints.ts"
export { boundPort, layer as SignalingServerLayer, LiveSockets, SignalingApp } from "./SignalingServer.ts"
