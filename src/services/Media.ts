/**
 * Audio and video between peers: the contract of the `Media` service, the structural slice of
 * WebRTC media it works on (browser objects and werift's both fit), its events and its error.
 *
 * A peer publishes local tracks (`publish`): they go to every direct link (or to the given
 * peers), links made later included. Each link negotiates on its own (perfect negotiation
 * over its data channel, see `layers/media/linkMedia.ts`); the m-lines of a link are made once
 * and reused, so starting and stopping never grows the SDP.
 *
 * @since 2.0.0
 */
import { Context, type Effect, type PubSub, Schema, type Scope } from "effect"
import type { PeerId } from "../schema/PeerId.ts"
import type { MediaSource, TrackKind } from "../schema/MediaFrames.ts"

export type { MediaSource, TrackKind } from "../schema/MediaFrames.ts"

/** A media track as both browsers (`MediaStreamTrack`) and werift have it. */
export interface MediaTrackLike {
  readonly kind: string
  readonly id?: string | undefined
  enabled: boolean
  stop(): void
}

/** A media stream as both browsers (`MediaStream`) and werift have it. */
export interface MediaStreamLike {
  readonly id: string
  getTracks(): ReadonlyArray<MediaTrackLike>
}

export interface RtpSenderLike {
  readonly track: unknown
  replaceTrack(track: unknown): Promise<void>
  getParameters(): { encodings?: Array<Record<string, unknown>> }
  setParameters(parameters: { encodings?: Array<Record<string, unknown>> }): unknown
}

export interface RtpTransceiverLike {
  readonly mid: string | null
  direction: string
  readonly sender: RtpSenderLike
  readonly receiver: { readonly track: unknown }
}

/** The media half of an `RTCPeerConnection` (werift's and the browser's). */
export interface MediaPeerConnectionLike {
  readonly signalingState: string
  addTransceiver(track: unknown, init: { direction: "sendrecv" | "recvonly"; streams?: Array<unknown> }): RtpTransceiverLike
  getTransceivers(): ReadonlyArray<RtpTransceiverLike>
  createOffer(): Promise<{ readonly type: string; readonly sdp?: string | undefined }>
  createAnswer(): Promise<{ readonly type: string; readonly sdp?: string | undefined }>
  setLocalDescription(description: { type: "offer" | "answer"; sdp: string } | { type: "rollback" }): Promise<unknown>
  setRemoteDescription(description: { type: "offer" | "answer"; sdp: string }): Promise<unknown>
  getStats(): Promise<{ forEach(f: (report: Record<string, unknown>) => void): void }>
}

export interface MediaDeviceInfoLike {
  readonly kind: string
  readonly deviceId: string
  readonly label: string
  readonly groupId?: string
}

/** A connection of its own for a call: the media half plus what setting it up needs. */
export interface CallConnectionLike extends MediaPeerConnectionLike {
  readonly connectionState: string
  addEventListener(type: string, listener: (event: unknown) => void): void
  removeEventListener(type: string, listener: (event: unknown) => void): void
  addIceCandidate(candidate: {
    readonly candidate: string
    readonly sdpMid: string | null
    readonly sdpMLineIndex: number | null
    readonly usernameFragment: string | null
  } | null): Promise<unknown>
  close(): unknown
}

/** How the platform makes streams and gets local media. */
export interface MediaPlatformShape {
  /** A stream over received tracks. */
  makeStream(tracks: ReadonlyArray<unknown>): unknown
  /** Local camera/microphone (`navigator.mediaDevices.getUserMedia`); absent in Node. */
  readonly getUserMedia?: (constraints: Record<string, unknown>) => Promise<MediaStreamLike>
  readonly getDisplayMedia?: (constraints: Record<string, unknown>) => Promise<MediaStreamLike>
  readonly enumerateDevices?: () => Promise<ReadonlyArray<MediaDeviceInfoLike>>
}

export class MediaPlatform extends Context.Service<MediaPlatform, MediaPlatformShape>()("peerpigeon/MediaPlatform") {}

export class MediaError extends Schema.TaggedError<MediaError>()("MediaError", {
  reason: Schema.Literals([
    "permission-denied",
    "device-not-found",
    "overconstrained",
    "not-supported",
    "negotiation-failed",
    "peer-unreachable",
    "call-rejected",
    "timeout"
  ]),
  message: Schema.String,
  peerId: Schema.optionalKey(Schema.String)
}) {}

export type MediaEvent =
  /** A remote source's tracks are in (once per stream: a new one after each `RemoteStreamRemoved`). */
  | {
    readonly _tag: "RemoteStreamAdded"
    readonly peerId: PeerId
    readonly source: MediaSource
    /** The platform's stream over `tracks` (a browser `MediaStream`, werift's in Node). */
    readonly stream: unknown
    readonly tracks: ReadonlyArray<unknown>
    readonly audio: boolean
    readonly video: boolean
  }
  | { readonly _tag: "RemoteStreamRemoved"; readonly peerId: PeerId; readonly source: MediaSource; readonly reason: string }
  | { readonly _tag: "RemoteMediaState"; readonly peerId: PeerId; readonly source: MediaSource; readonly audio: boolean; readonly video: boolean }
  | { readonly _tag: "MediaFailed"; readonly error: MediaError }
  /** A peer calls this one (`answerCall` it); `hops`: how far its invite travelled over the mesh. */
  | { readonly _tag: "IncomingCall"; readonly peerId: PeerId; readonly hops: number }
  /** A call ended: hung up by either side, rejected, unanswered, or its connection failed. */
  | { readonly _tag: "CallEnded"; readonly peerId: PeerId; readonly reason: string }
  /** `mediaPolicy: "ask"`: a peer offers a source; `allow` it (or not). */
  | { readonly _tag: "MediaRequested"; readonly peerId: PeerId; readonly source: MediaSource }

/** The tracks to publish: camera/microphone (`camera`) and a screen (`screen`). */
export interface LocalTracks {
  readonly audio?: MediaTrackLike | undefined
  readonly video?: MediaTrackLike | undefined
}

export interface PublishOptions {
  /** Only these peers (direct links); default every link, later ones included. */
  readonly to?: ReadonlyArray<PeerId> | undefined
}

/** What one link carries. */
export interface PeerMediaState {
  readonly peerId: PeerId
  /** Sources this side sends on the link. */
  readonly sending: ReadonlyArray<MediaSource>
  /** Remote sources received, with their mute state. */
  readonly receiving: ReadonlyArray<{ readonly source: MediaSource; readonly audio: boolean; readonly video: boolean }>
  /** Transceivers on the link's connection (constant over stop/start). */
  readonly transceivers: number
  /** Offers this side made on the link. */
  readonly offers: number
  /** True for a call's own connection (`call`), absent for a mesh link. */
  readonly call?: boolean
}

/** RTP totals of one connection, from its `getStats()` report (`layers/media/stats.ts`). */
export interface RtpTotals {
  readonly bytesSent: number
  readonly bytesReceived: number
  readonly packetsSent: number
  readonly packetsReceived: number
  readonly packetsLost: number
  readonly framesDecoded: number
  readonly framesEncoded: number
  /** Round trip of the selected candidate pair, seconds (when the platform reports it). */
  readonly roundTripTime: number | undefined
}

export interface PeerMediaStats extends RtpTotals {
  readonly peerId: PeerId
  /** True for a call's own connection. */
  readonly call: boolean
  /** Bits per second in and out since the previous `stats` call for this peer (0 on the first). */
  readonly bitrateIn: number
  readonly bitrateOut: number
}

export class Media extends Context.Service<Media, {
  /**
   * Publishes `tracks` as the camera source (replacing what was published, unmuted): to every
   * link, and to each link made later, or to `options.to` only.
   */
  publish(tracks: LocalTracks, options?: PublishOptions): Effect.Effect<void>
  /** Stops publishing the camera source (the tracks are the caller's to stop). */
  readonly unpublish: Effect.Effect<void>
  /**
   * Mutes or unmutes one kind of the camera source: no frames leave while muted, and the
   * remote hears of it (`RemoteMediaState`). No renegotiation.
   */
  setEnabled(kind: TrackKind, enabled: boolean): Effect.Effect<void>
  /** Sends another track of a kind (a device switch): `replaceTrack`, no renegotiation. */
  replaceTrack(kind: TrackKind, track: MediaTrackLike): Effect.Effect<void>
  /** Publishes (or with `undefined` stops) a screen track, a second video source. */
  publishScreen(track: MediaTrackLike | undefined): Effect.Effect<void>
  /** Local tracks from the platform (camera/microphone), stopped when the Scope closes. */
  acquire(constraints: { readonly audio?: unknown; readonly video?: unknown }): Effect.Effect<MediaStreamLike, MediaError, Scope.Scope>
  /** A screen (`getDisplayMedia`), stopped when the Scope closes. */
  acquireDisplay(constraints: { readonly audio?: unknown; readonly video?: unknown }): Effect.Effect<MediaStreamLike, MediaError, Scope.Scope>
  /** The platform's media devices (`enumerateDevices`). */
  readonly devices: Effect.Effect<ReadonlyArray<MediaDeviceInfoLike>, MediaError>
  /** Media events, for the lifetime of the caller's Scope. */
  readonly events: Effect.Effect<PubSub.Subscription<MediaEvent>, never, Scope.Scope>
  /** What each link carries. */
  readonly peers: Effect.Effect<ReadonlyArray<PeerMediaState>>
  /** RTP figures per link. */
  stats(peerId?: PeerId): Effect.Effect<ReadonlyArray<PeerMediaStats>>
  /** A cap on each outgoing encoding, bits per second (`RTCRtpSender.setParameters`); `undefined` lifts it. */
  setMaxBitrate(bps: number | undefined): Effect.Effect<void>
  /**
   * Calls any peer of the network (linked or not) on a connection of its own, set up with
   * signed direct messages routed over the mesh; succeeds once the callee accepts. Fails with
   * `call-rejected`, `timeout` (no answer), `peer-unreachable` or `not-supported`.
   */
  call(peerId: PeerId, tracks: LocalTracks): Effect.Effect<void, MediaError>
  /** Accepts (sending `tracks`) or rejects a ringing call (`IncomingCall`). */
  answerCall(peerId: PeerId, accept: boolean, tracks: LocalTracks, reason?: string): Effect.Effect<void, MediaError>
  /** Ends the call with a peer (no-op when there is none). */
  hangUp(peerId: PeerId, reason?: string): Effect.Effect<void>
  /** Answers a `MediaRequested` (`mediaPolicy: "ask"`): the peer's media is taken, or refused, from now on. */
  allow(peerId: PeerId, allowed: boolean): Effect.Effect<void>
  /** Peers whose links carry media now (kept by the optimizer). */
  readonly active: Effect.Effect<ReadonlySet<PeerId>>
}>()("peerpigeon/Media") {}
