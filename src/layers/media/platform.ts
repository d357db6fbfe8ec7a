/**
 * The platform's media for the `Media` layer: streams over received tracks, and local media
 * from `navigator.mediaDevices` where it exists (browsers), as scoped resources with typed
 * errors.
 *
 * @since 2.0.0
 */
import { Effect } from "effect"
import { MediaError, type MediaPlatformShape, type MediaStreamLike } from "../../services/Media.ts"

/** A minimal stream over tracks, where the platform has no `MediaStream` (Node without werift's). */
const plainStream = (tracks: ReadonlyArray<unknown>) => {
  const all = [...tracks] as Array<{ readonly kind?: string }>
  return {
    id: `remote-${Math.random().toString(36).slice(2, 10)}`,
    getTracks: () => all,
    getAudioTracks: () => all.filter((t) => t.kind === "audio"),
    getVideoTracks: () => all.filter((t) => t.kind === "video")
  }
}

/** The platform's media from globals: `MediaStream` and `navigator.mediaDevices` where they exist. */
export const globalPlatform = (): MediaPlatformShape => {
  const g = globalThis as {
    readonly MediaStream?: new(tracks: Array<unknown>) => unknown
    readonly navigator?: { readonly mediaDevices?: Partial<Omit<MediaPlatformShape, "makeStream">> }
  }
  const devices = g.navigator?.mediaDevices
  const Stream = g.MediaStream
  return {
    makeStream: Stream === undefined ? plainStream : (tracks) => new Stream([...tracks]),
    ...(devices?.getUserMedia !== undefined ? { getUserMedia: (c) => devices.getUserMedia!.call(devices, c) } : {}),
    ...(devices?.getDisplayMedia !== undefined ? { getDisplayMedia: (c) => devices.getDisplayMedia!.call(devices, c) } : {}),
    ...(devices?.enumerateDevices !== undefined ? { enumerateDevices: () => devices.enumerateDevices!.call(devices) } : {})
  }
}

/** A `getUserMedia` rejection as a typed `MediaError`. */
export const mediaErrorOf = (e: unknown): MediaError => {
  const name = typeof e === "object" && e !== null && "name" in e ? String(e.name) : ""
  const message = e instanceof Error ? e.message : String(e)
  const reason = name === "NotAllowedError" || name === "SecurityError"
    ? "permission-denied"
    : name === "NotFoundError" || name === "NotReadableError"
    ? "device-not-found"
    : name === "OverconstrainedError"
    ? "overconstrained"
    : "not-supported"
  return new MediaError({ reason, message: message === "" ? name : message })
}

/** Local media from `get` (a platform call), its tracks stopped when the Scope closes. */
export const scopedMedia = (
  what: string,
  get: ((constraints: Record<string, unknown>) => Promise<MediaStreamLike>) | undefined,
  constraints: Record<string, unknown>
) =>
  Effect.acquireRelease(
    get === undefined
      ? Effect.fail(new MediaError({ reason: "not-supported", message: `this platform has no ${what}` }))
      : Effect.tryPromise({ try: () => get(constraints), catch: mediaErrorOf }),
    (stream: MediaStreamLike) => Effect.sync(() => stream.getTracks().forEach((t) => t.stop()))
  )
