/**
 * Everything both entry points export: the Effect API (services, layers, errors, schemas)
 * and the pieces of the Promise API that do not depend on the platform.
 *
 * @since 2.0.0
 */
export { DebugLogger } from "./DebugLogger.ts"
export * as DebugLoggerLayer from "./DebugLogger.ts"
export { makeMeshLayer, type Platform } from "./layers/Mesh.ts"
export { MemoryNetwork, type MemoryNetworkOptions } from "./layers/MemoryNetwork.ts"
export * as WebRtcTransport from "./layers/WebRtcTransport.ts"
export * as WsSignaling from "./layers/WsSignaling.ts"
export * as RtcPeerConnection from "./layers/RtcPeerConnection.ts"
export {
  type ConnectionAttempt,
  type ConnectivityReport,
  type DhtGetOptions,
  type DhtPutCompatOptions,
  type DhtSpace,
  type DhtUpdateOptions,
  type PeerPigeonMeshEvent,
  type PeerPigeonMeshEvents,
  type PeerPigeonMeshOptions,
  type PeerStateSummary
} from "./PeerPigeonMesh.ts"
export { type MeshHandle, PeerConnection, type PeerConnectionStatus, SignalingClient, WebDHT } from "./facade/compat.ts"
export {
  EnvironmentDetector,
  environmentReport,
  type EnvironmentReport,
  getEnvironmentReport,
  hasWebRTC,
  hasWebSocket,
  isBrowser,
  isNodeJS,
  isWorker
} from "./facade/environment.ts"
export { generatePeerId, validatePeerId } from "./facade/peerId.ts"
export * as PeerId from "./schema/PeerId.ts"
export * as PeerFrames from "./schema/PeerFrames.ts"
export * as SignalingProtocol from "./schema/Signaling.ts"
export { ConnectError, Connections, type Inbound, type PeerLinkInfo } from "./services/Connections.ts"
export {
  Dht,
  type DhtChange,
  DhtConfig,
  dhtDefaults,
  DhtDisabled,
  type DhtError,
  type DhtOptions,
  type DhtPutOptions,
  DhtTimeout,
  NotFound,
  Unauthorized,
  ValueTooLarge
} from "./services/Dht.ts"
export { type DiscoveredPeer, Discovery } from "./services/Discovery.ts"
export { type Delivered, Gossip, InvalidMessage, MessageTooLarge } from "./services/Gossip.ts"
export { Identity, IdentityError } from "./services/Identity.ts"
export { Mesh, type MeshStatus } from "./services/Mesh.ts"
export { defaults as meshDefaults, type IceServer, MeshConfig, type MeshOptions } from "./services/MeshConfig.ts"
export { type MeshEvent, MeshEvents } from "./services/MeshEvents.ts"
export { PeerKeys } from "./services/PeerKeys.ts"
export { type Link, LinkError, type LinkMessage, PeerTransport, type Signal, type SignalChannel } from "./services/PeerTransport.ts"
export { Router, type Undelivered } from "./services/Router.ts"
export { Signaling, SignalingError, type SignalingEvent } from "./services/Signaling.ts"
export {
  type IncomingStream,
  type OutgoingStream,
  StreamError,
  type StreamEvent,
  type StreamInfo,
  Streams,
  streamsDefaults,
  type StreamsOptions,
  type StreamsStats
} from "./services/Streams.ts"
export * as StreamsLayer from "./layers/Streams.ts"
export type { BinaryData, FileSource, StreamOptions } from "./facade/streams.ts"
/**
 * End-to-end encryption (`enableCrypto`): X25519 + HKDF + AES-GCM envelopes signed by the
 * identity, group keys, the DHT key directory (`pp/keys/<peerId>`), encrypted messaging limits,
 * and the facade's `mesh.cryptoManager`.
 */
export {
  CryptoConfig,
  cryptoDefaults,
  type CryptoEvent,
  CryptoManager,
  type CryptoOptions,
  type GroupChange,
  type GroupInfo
} from "./crypto/CryptoManager.ts"
export { CryptoError, CryptoErrorReason } from "./crypto/CryptoError.ts"
export { KeyAnnouncement, verifyAnnouncement } from "./crypto/keys.ts"
export { Envelope } from "./crypto/envelope.ts"
export { GroupMessage } from "./crypto/group.ts"
export { KeyDirectory } from "./crypto/KeyDirectory.ts"
export { keyDirectoryKey } from "./crypto/directoryRecord.ts"
export { ENVELOPE_OVERHEAD, encryptedContentLimit, type GroupResult } from "./crypto/messaging.ts"
export { MeshCrypto } from "./facade/crypto.ts"
export {
  type LocalTracks,
  Media,
  type MediaDeviceInfoLike,
  MediaError,
  type MediaEvent,
  type MediaPeerConnectionLike,
  MediaPlatform,
  type MediaPlatformShape,
  type MediaSource,
  type MediaStreamLike,
  type MediaTrackLike,
  type PeerMediaState,
  type PeerMediaStats,
  type PublishOptions,
  type TrackKind
} from "./services/Media.ts"
export * as MediaLayer from "./layers/Media.ts"
export type { MediaDevicesList, MediaState, StartMediaOptions } from "./facade/media.ts"

/**
 * Distributed storage (`mesh.distributedStorage`): signed, access-controlled records in the
 * DHT (private ones encrypted to each reader), frozen records, CRDT documents on Yjs.
 */
export {
  DistributedStorage,
  type GrantOptions,
  type KeyInfo,
  type Persistence,
  type Receipt,
  StorageConfig,
  storageDefaults,
  type StorageEvent,
  type StorageFailure,
  type StorageOptions,
  type StorageStats,
  type StoreOptions
} from "./services/DistributedStorage.ts"
export * as DistributedStorageLayer from "./layers/DistributedStorage.ts"
export { StorageError, StorageErrorReason } from "./storage/StorageError.ts"
export { MeshStorage } from "./facade/storage.ts"
