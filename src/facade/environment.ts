/**
 * `EnvironmentDetector` and `environmentReport`: what the running platform offers, as
 * PeerPigeon 1.x reports it. Detection only reads globals; nothing is loaded.
 *
 * @since 2.0.0
 */

const g = globalThis as {
  window?: unknown
  document?: unknown
  process?: { versions?: { node?: string }; platform?: string }
  importScripts?: unknown
  navigator?: { userAgent?: string }
  RTCPeerConnection?: unknown
  WebSocket?: unknown
}

export interface EnvironmentReport {
  readonly runtime: {
    readonly isBrowser: boolean
    readonly isNodeJS: boolean
    readonly isWorker: boolean
    /** Not detected: NativeScript is not supported by this library. */
    readonly isNativeScript: false
    readonly platform: string
    readonly nodeVersion: string | undefined
    readonly userAgent: string | undefined
  }
  readonly capabilities: {
    /** Native `RTCPeerConnection`, or Node (where werift provides WebRTC). */
    readonly webrtc: boolean
    /** A global `WebSocket` (Node 22+ and browsers). */
    readonly webSocket: boolean
  }
}

export const isBrowser = (): boolean => typeof g.window === "object" && typeof g.document === "object"
export const isNodeJS = (): boolean => typeof g.process?.versions?.node === "string"
/** A Web Worker (dedicated, shared or service): `importScripts` without a `window`. */
export const isWorker = (): boolean => typeof g.importScripts === "function" && typeof g.window === "undefined"
export const hasWebRTC = (): boolean => typeof g.RTCPeerConnection === "function" || isNodeJS()
export const hasWebSocket = (): boolean => typeof g.WebSocket === "function"

export const getEnvironmentReport = (): EnvironmentReport => ({
  runtime: {
    isBrowser: isBrowser(),
    isNodeJS: isNodeJS(),
    isWorker: isWorker(),
    isNativeScript: false,
    platform: isNodeJS() ? g.process?.platform ?? "node" : isBrowser() ? "browser" : isWorker() ? "worker" : "unknown",
    nodeVersion: g.process?.versions?.node,
    userAgent: g.navigator?.userAgent
  },
  capabilities: { webrtc: hasWebRTC(), webSocket: hasWebSocket() }
})

/** The 1.x detector, as a class of statics. */
export class EnvironmentDetector {
  static isBrowser = isBrowser
  static isNodeJS = isNodeJS
  static isWorker = isWorker
  static hasWebRTC = hasWebRTC
  static hasWebSocket = hasWebSocket
  static getEnvironmentReport = getEnvironmentReport
}

/** The report taken when this module loaded. */
export const environmentReport: EnvironmentReport = getEnvironmentReport()
