/**
 * `PeerTransport` over WebRTC data channels, on any `RTCPeerConnection` the
 * `RtcPeerConnectionCtor` service supplies (werift in Node, the global in browsers).
 *
 * A link is one `RTCPeerConnection` with one ordered data channel. Its parts:
 * - `webrtc/negotiation.ts`: offer, answer and trickled candidates over the pair's
 *   `SignalChannel`, and the connection's state. `open` succeeds once the channel is open and
 *   fails with `LinkError` `"timeout"` after `timeoutMs`, or `"setup-failed"`; a failed `open`
 *   releases the connection at once.
 * - `webrtc/iceRestart.ts`: an open link whose ICE fails (or stays disconnected) is restarted
 *   by its initiator on the same connection, keeping the channel and the `Link`; only when
 *   that fails does the link close (`"ice restart failed ..."`).
 * - `internal/linkFrames.ts`: the frames on the channel (batches, pieces of long frames, acks,
 *   close, keepalive), decoded within bounds.
 * - `webrtc/channel.ts`: the sender, receiver and keepalive; pacing both ways (credit goes
 *   back only once a frame's messages are in `messages`, so a slow reader pauses the sender),
 *   and the rules that close a link on a peer that breaks the protocol.
 *
 * Messages are limited to `maxMessageBytes` (UTF-8, default 1 MiB): `send` fails with
 * `LinkError` `"refused"` above it, and a receiver closes a link whose pieces run longer.
 * `close` does not flush: messages still queued are dropped (`pending` tells how many there
 * are). The other side's `closed` resolves with `"remote: <reason>"` when the close frame gets
 * through, otherwise with what it saw (`"channel closed"`, `"connection failed"`,
 * `"peer silent"`, `"protocol error: ..."`).
 *
 * @since 2.0.0
 */
import { Effect, Exit, Layer, Scope } from "effect"
import type { PeerId } from "../schema/PeerId.ts"
import { type IceServer, MeshConfig, type MeshOptions } from "../services/MeshConfig.ts"
import type { CallConnectionLike, MediaPeerConnectionLike } from "../services/Media.ts"
import { type Link, LinkError, PeerTransport, type SignalChannel } from "../services/PeerTransport.ts"
import { RtcPeerConnectionCtor } from "./RtcPeerConnection.ts"
import { makeChannel } from "./webrtc/channel.ts"
import { describe } from "./webrtc/events.ts"
import { negotiate } from "./webrtc/negotiation.ts"

export { decodeFrame, Frame } from "../internal/linkFrames.ts"
export { channelLabel } from "./webrtc/negotiation.ts"

export interface WebRtcTransportOptions {
  /** STUN/TURN servers. Default `[]` (host candidates only). */
  readonly iceServers: ReadonlyArray<IceServer>
  /** `"relay"`: TURN candidates only (needs a TURN server in `iceServers`). Default `"all"`. */
  readonly iceTransportPolicy: MeshOptions["iceTransportPolicy"]
  /** Largest message `send` accepts, in UTF-8 bytes. Default 1 MiB. */
  readonly maxMessageBytes: number
  /** Largest frame put on the channel, in UTF-16 code units (at most 3x that in bytes). Default 16384. */
  readonly maxFrameChars: number
  /** Most messages batched into one frame. Default 256. */
  readonly maxMessagesPerFrame: number
  /**
   * Data frames in flight (sent, not yet acknowledged). Default 32. A receiver closes the link
   * of a peer with more than twice its own window (plus 16) unacknowledged: peers should agree.
   */
  readonly window: number
  /**
   * Characters of data frames in flight. werift stalls once much more than ~64 KB is
   * outstanding, whatever the frame count, so large frames are paced by size too (one
   * frame may always go, however large). Default 65536.
   */
  readonly windowChars: number
  /**
   * Messages received and not yet taken from `messages`. When it is full the receiver stops
   * returning credit, so the sender pauses (its `pending` grows) instead of this side buffering
   * without limit. Default 64.
   */
  readonly receiveBuffer: number
  /** Longest `close` waits for its close frame to leave before closing the channel. Default 500 ms. */
  readonly closeGraceMs: number
  /**
   * How long a connection may stay ICE-"disconnected" before the link counts as lost (a peer
   * that vanished without closing). Browsers recover brief glitches within this. Default 5000 ms.
   */
  readonly disconnectedGraceMs: number
  /**
   * ICE restarts the initiator of an open link tries when its ICE fails, or stays
   * disconnected past `disconnectedGraceMs`, before the link is given up; 0 gives it up at
   * once, as without restarts. Default 2.
   */
  readonly iceRestarts: number
  /** How long one ICE restart may take (offer, answer, new checks). Default 3000 ms. */
  readonly iceRestartTimeoutMs: number
  /** Keepalive period on an open link. Default 2000 ms. */
  readonly keepaliveMs: number
  /** A link with nothing received for this long is closed as lost. Default 8000 ms. */
  readonly deadAfterMs: number
}

export const defaults: WebRtcTransportOptions = {
  iceServers: [],
  iceTransportPolicy: "all",
  maxMessageBytes: 1024 * 1024,
  maxFrameChars: 16 * 1024,
  maxMessagesPerFrame: 256,
  window: 32,
  windowChars: 64 * 1024,
  receiveBuffer: 64,
  closeGraceMs: 500,
  disconnectedGraceMs: 5000,
  iceRestarts: 2,
  iceRestartTimeoutMs: 3000,
  keepaliveMs: 2000,
  deadAfterMs: 8000
}

// ---------------------------------------------------------------------------------------------
// one link

interface OpenOptions {
  readonly initiator: boolean
  readonly signals: SignalChannel
  readonly timeoutMs: number
}

const openLink = (
  ctor: RtcPeerConnectionCtor["Service"],
  o: WebRtcTransportOptions,
  remote: PeerId,
  { initiator, signals, timeoutMs }: OpenOptions
): Effect.Effect<Link, LinkError, Scope.Scope> =>
  Effect.gen(function*() {
    const linkError = (reason: LinkError["reason"], message: string) => new LinkError({ peerId: remote, reason, message })

    // The connection; its close is shared by `close`, the remote's close and the Scope.
    const pc = yield* Effect.acquireRelease(
      Effect.try({
        try: () => {
          const pc = ctor.make({ iceServers: o.iceServers, iceTransportPolicy: o.iceTransportPolicy })
          let closing: Promise<void> | undefined
          const close = Effect.promise(() =>
            closing ??= Promise.resolve().then(() => pc.close()).then(() => undefined, () => undefined)
          )
          return { pc, close }
        },
        catch: (e) => linkError("setup-failed", `cannot create RTCPeerConnection: ${describe(e)}`)
      }),
      ({ close }) => close
    )

    const channel = yield* makeChannel(o, remote)
    yield* negotiate(pc.pc, channel, linkError, {
      initiator,
      signals,
      timeoutMs,
      disconnectedGraceMs: o.disconnectedGraceMs,
      iceRestarts: o.iceRestarts,
      iceRestartTimeoutMs: o.iceRestartTimeoutMs
    })
    const dc = channel.channel()
    if (dc === undefined) return yield* linkError("setup-failed", "no data channel")
    const link = yield* channel.start(dc, pc.close)
    // the same connection carries the link's media (layers/media/linkMedia.ts): browsers' and
    // werift's connections both have the media half
    return { ...link, media: pc.pc as unknown as MediaPeerConnectionLike }
  }).pipe(Effect.withSpan("WebRtcTransport.open"))

// ---------------------------------------------------------------------------------------------
// constructors and layers

/** Builds the transport; each `open` adds one `RTCPeerConnection` to the caller's Scope. */
export const make = (
  options: Partial<WebRtcTransportOptions> = {}
): Effect.Effect<PeerTransport["Service"], never, RtcPeerConnectionCtor> =>
  Effect.gen(function*() {
    const ctor = yield* RtcPeerConnectionCtor
    const o: WebRtcTransportOptions = { ...defaults, ...options }
    return PeerTransport.of({
      kind: "webrtc",
      callConnection: () =>
        ctor.make({ iceServers: o.iceServers, iceTransportPolicy: o.iceTransportPolicy, bundlePolicy: "max-bundle" }) as unknown as CallConnectionLike,
      open: (remote, openOptions) =>
        Effect.gen(function*() {
          // A child scope, so a failed open releases its connection at once instead of
          // leaving it to the caller's Scope.
          const scope = yield* Scope.fork(yield* Scope.Scope)
          return yield* openLink(ctor, o, remote, openOptions).pipe(
            Effect.onError(() => Scope.close(scope, Exit.void)),
            Scope.provide(scope)
          )
        })
    })
  })

export const layer = (options: Partial<WebRtcTransportOptions> = {}): Layer.Layer<PeerTransport, never, RtcPeerConnectionCtor> =>
  Layer.effect(PeerTransport, make(options).pipe(Effect.annotateLogs("module", "WebRtcTransport")))

/**
 * Like `layer`, with `iceServers` and `iceTransportPolicy` taken from `MeshConfig`, and
 * links that carry a whole message of `maxMessageSize` with its frame (1 MiB at least).
 */
export const layerConfig = (
  options: Partial<Omit<WebRtcTransportOptions, "iceServers" | "iceTransportPolicy">> = {}
): Layer.Layer<PeerTransport, never, RtcPeerConnectionCtor | MeshConfig> =>
  Layer.effect(
    PeerTransport,
    Effect.gen(function*() {
      const config = yield* MeshConfig
      const maxMessageBytes = options.maxMessageBytes ?? Math.max(defaults.maxMessageBytes, config.maxMessageSize + 32 * 1024)
      return yield* make({ ...options, maxMessageBytes, iceServers: config.iceServers, iceTransportPolicy: config.iceTransportPolicy }).pipe(
        Effect.annotateLogs("module", "WebRtcTransport")
      )
    })
  )
