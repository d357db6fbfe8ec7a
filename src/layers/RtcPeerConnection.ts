/**
 * The `RTCPeerConnection` constructor as a service, so the WebRTC transport runs on whatever
 * implementation the platform has: the browser's global (`layerGlobal`) or werift in Node
 * (`layerWerift`, which loads werift lazily so browser bundles never evaluate it).
 *
 * `RTCPeerConnectionLike` and `DataChannelLike` are the small structural slice of the W3C
 * API the transport uses; both werift's objects and the browser's fit it. Events are typed
 * `unknown` on purpose: werift and browsers deliver different event objects (werift ends
 * candidate gathering with `candidate: undefined`, browsers with `null`), so the transport
 * narrows what it reads.
 *
 * @since 2.0.0
 */
import { Context, Effect, Layer } from "effect"
import type { IceServer, MeshOptions } from "../services/MeshConfig.ts"

/** `addEventListener`/`removeEventListener` as werift's EventEmitter-based targets and the DOM both have them. */
export interface EventTargetLike {
  addEventListener(type: string, listener: (event: unknown) => void): void
  removeEventListener(type: string, listener: (event: unknown) => void): void
}

/** A session description as the transport reads it from `createOffer`/`createAnswer`. */
export interface SessionDescriptionLike {
  readonly type: string
  readonly sdp?: string | undefined
}

/** A remote candidate as `addIceCandidate` takes it (missing fields are `null`, never `undefined`). */
export interface IceCandidateInit {
  readonly candidate: string
  readonly sdpMid: string | null
  readonly sdpMLineIndex: number | null
  readonly usernameFragment: string | null
}

/** Events: `"open"`, `"close"`, `"message"` (`{ data }`), `"error"`, `"bufferedamountlow"`. */
export interface DataChannelLike extends EventTargetLike {
  readonly label: string
  readonly readyState: string
  readonly bufferedAmount: number
  bufferedAmountLowThreshold: number
  /** Browsers hand binary messages over as `Blob`s unless this is `"arraybuffer"`. */
  binaryType?: string
  send(data: string | Uint8Array): void
  close(): void
}

/**
 * Events: `"icecandidate"` (`{ candidate }`), `"datachannel"` (`{ channel }`),
 * `"connectionstatechange"`, `"iceconnectionstatechange"`.
 */
export interface RTCPeerConnectionLike extends EventTargetLike {
  readonly connectionState: string
  readonly iceConnectionState: string
  /** `iceRestart`: new ICE credentials, so the answer starts ICE over on the same connection. */
  createOffer(options?: { iceRestart?: boolean }): Promise<SessionDescriptionLike>
  createAnswer(): Promise<SessionDescriptionLike>
  setLocalDescription(description: { type: "offer" | "answer"; sdp: string }): Promise<unknown>
  setRemoteDescription(description: { type: "offer" | "answer"; sdp: string }): Promise<unknown>
  addIceCandidate(candidate: IceCandidateInit | null): Promise<unknown>
  createDataChannel(label: string, options: { ordered: boolean }): DataChannelLike
  /** werift returns a Promise that settles once its sockets are released; browsers return void. */
  close(): unknown
}

/** What the transport passes for each new connection. */
export interface RtcConfiguration {
  readonly iceServers: ReadonlyArray<IceServer>
  /** `"relay"`: TURN candidates only (no host or server-reflexive ones). */
  readonly iceTransportPolicy: MeshOptions["iceTransportPolicy"]
  /**
   * `"max-bundle"`: every m-line on one transport from the first offer (calls: a connection
   * with media only). Default: the platform's (links bundle from their data channel on).
   */
  readonly bundlePolicy?: "max-bundle" | undefined
}

export class RtcPeerConnectionCtor extends Context.Service<RtcPeerConnectionCtor, {
  /** Creates a connection; may throw (for instance when the platform has no WebRTC). */
  make(config: RtcConfiguration): RTCPeerConnectionLike
}>()("peerpigeon/RtcPeerConnection") {}

/** Copies to the mutable, exact-optional shape both werift and the DOM take. */
const toRtcIceServers = (servers: ReadonlyArray<IceServer>) =>
  servers.map((s) => ({
    urls: typeof s.urls === "string" ? s.urls : [...s.urls],
    ...(s.username !== undefined ? { username: s.username } : {}),
    ...(s.credential !== undefined ? { credential: s.credential } : {})
  }))

export interface WeriftOptions {
  /**
   * Extra host addresses to gather candidates on. werift skips loopback by default, so a
   * host with only `lo` (CI containers) finds no candidates at all. Default `["127.0.0.1"]`;
   * pass `[]` to gather on the normal interfaces only.
   */
  readonly iceAdditionalHostAddresses?: ReadonlyArray<string>
}

export const weriftDefaults: Required<WeriftOptions> = {
  iceAdditionalHostAddresses: ["127.0.0.1"]
}

/** The slice of a werift connection that `resumeIceAfterRestart` reaches into. */
interface WeriftTransports {
  readonly dtlsTransports: ReadonlyArray<{
    readonly state: string
    readonly iceTransport: { readonly state: string; start(): Promise<void> }
  }>
}

/**
 * werift 0.25.2 runs no ICE checks after an ICE restart on a connection whose DTLS is up (its
 * connect step returns early for a connected DTLS transport), so the restarted ICE transport
 * never gets a candidate pair and the data channel stays silent. Once an answer is applied (the
 * remote one on the offerer, our own on the answerer), the checks of each such transport are
 * started here; a start that fails turns ICE "failed", which the transport sees.
 */
const resumeIceAfterRestart = (pc: RTCPeerConnectionLike, werift: WeriftTransports): RTCPeerConnectionLike => {
  const afterAnswer = <A>(type: string, result: A): A => {
    if (type === "answer") {
      for (const dtls of werift.dtlsTransports) {
        const ice = dtls.iceTransport
        if (dtls.state === "connected" && (ice.state === "new" || ice.state === "completed")) {
          ice.start().catch(() => undefined)
        }
      }
    }
    return result
  }
  const setLocal = pc.setLocalDescription.bind(pc)
  const setRemote = pc.setRemoteDescription.bind(pc)
  pc.setLocalDescription = (d) => setLocal(d).then((r) => afterAnswer(d.type, r))
  pc.setRemoteDescription = (d) => setRemote(d).then((r) => afterAnswer(d.type, r))
  return pc
}

/** werift's `RTCPeerConnection` (Node). werift is imported when the layer is built. */
export const layerWerift = (options: WeriftOptions = {}): Layer.Layer<RtcPeerConnectionCtor> =>
  Layer.effect(
    RtcPeerConnectionCtor,
    Effect.promise(() => import("werift")).pipe(
      Effect.map(({ RTCPeerConnection }) => {
        const hosts = [...(options.iceAdditionalHostAddresses ?? weriftDefaults.iceAdditionalHostAddresses)]
        return RtcPeerConnectionCtor.of({
          make: (config): RTCPeerConnectionLike => {
            const servers = toRtcIceServers(config.iceServers)
            const hasStun = config.iceServers.some((s) =>
              (typeof s.urls === "string" ? [s.urls] : s.urls).some((u) => u.startsWith("stun:") || u.startsWith("stuns:"))
            )
            // With no STUN server werift falls back to a public one (a DNS lookup and a wait of up
            // to 5 s per connection, and traffic nobody asked for). Host candidates only, then:
            // point the fallback at loopback and give it 50 ms.
            const { iceTransportPolicy } = config
            const bundle = config.bundlePolicy === undefined ? {} : { bundlePolicy: config.bundlePolicy }
            const pc = hasStun
              ? new RTCPeerConnection({ iceServers: servers, iceAdditionalHostAddresses: hosts, iceTransportPolicy, ...bundle })
              : new RTCPeerConnection({
                iceServers: [...servers, { urls: "stun:127.0.0.1:3478" }],
                iceAdditionalHostAddresses: hosts,
                iceStunGatherTimeout: 0.05,
                iceTransportPolicy,
                ...bundle
              })
            return resumeIceAfterRestart(pc, pc)
          }
        })
      })
    )
  )

type GlobalCtor = new(config: {
  iceServers: ReturnType<typeof toRtcIceServers>
  iceTransportPolicy: MeshOptions["iceTransportPolicy"]
  bundlePolicy?: "max-bundle"
}) => RTCPeerConnectionLike

/** The platform's `globalThis.RTCPeerConnection` (browsers, Deno, Bun with WebRTC). */
export const layerGlobal: Layer.Layer<RtcPeerConnectionCtor> = Layer.succeed(RtcPeerConnectionCtor)(
  RtcPeerConnectionCtor.of({
    make: (config) => {
      // No DOM lib in this project: read the global structurally.
      const Ctor = (globalThis as { readonly RTCPeerConnection?: GlobalCtor }).RTCPeerConnection
      if (Ctor === undefined) throw new TypeError("this platform has no globalThis.RTCPeerConnection")
      return new Ctor({
        iceServers: toRtcIceServers(config.iceServers),
        iceTransportPolicy: config.iceTransportPolicy,
        ...(config.bundlePolicy === undefined ? {} : { bundlePolicy: config.bundlePolicy })
      })
    }
  })
)
