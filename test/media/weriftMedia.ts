/**
 * Helpers for media tests over werift: dummy VP8/Opus tracks (`werift/nonstandard`), and a
 * probe that records a mesh's media events and counts the RTP packets of each remote track.
 */
import { Effect, Fiber, PubSub } from "effect"
import { MediaDevices } from "werift/nonstandard"
import type { PeerPigeonMeshBase } from "../../src/PeerPigeonMesh.ts"
import { Media, type MediaEvent, type MediaTrackLike } from "../../src/services/Media.ts"

/** Fresh dummy camera and microphone tracks (16x16 VP8 at 30 fps, Opus silence). */
export const dummyTracks = async (): Promise<{ audio: MediaTrackLike; video: MediaTrackLike; stop: () => void }> => {
  const devices = new MediaDevices({ dummyMedia: { enabled: true } })
  const stream = await devices.getUserMedia({ video: true, audio: true })
  const audio = stream.getAudioTracks()[0]!
  const video = stream.getVideoTracks()[0]!
  return { audio, video, stop: () => devices.cleanup() }
}

interface ReceivedTrack {
  readonly kind: string
  readonly onReceiveRtp: { subscribe(f: () => void): unknown }
}

export interface MediaProbe {
  readonly events: Array<MediaEvent>
  /** RTP packets received per remote peer and kind. */
  packets(peerId: string, kind: "audio" | "video"): number
  /** When the last packet from a peer arrived (ms epoch), 0 if none. */
  lastPacketAt(peerId: string): number
  added(peerId: string): number
  stop(): Promise<void>
}

/** Records `mesh`'s media events from now on and counts the packets of every remote track. */
export const probe = async (mesh: PeerPigeonMeshBase): Promise<MediaProbe> => {
  const events: Array<MediaEvent> = []
  const counts = new Map<string, number>()
  const last = new Map<string, number>()
  const counted = new WeakSet<object>()
  const runtime = mesh.runtime
  if (runtime === undefined) throw new Error("probe a started mesh")
  const ready = Promise.withResolvers<void>()
  const fiber = runtime.runFork(Effect.scoped(Effect.gen(function*() {
    const sub = yield* Media.use((m) => m.events)
    ready.resolve()
    while (true) {
      const event = yield* PubSub.take(sub)
      events.push(event)
      if (event._tag !== "RemoteStreamAdded") continue
      for (const t of event.tracks as ReadonlyArray<ReceivedTrack>) {
        // a track reused by a later stream keeps its one counter
        if (counted.has(t)) continue
        counted.add(t)
        const key = `${event.peerId}/${t.kind}`
        const peer = event.peerId
        t.onReceiveRtp.subscribe(() => {
          counts.set(key, (counts.get(key) ?? 0) + 1)
          last.set(peer, Date.now())
        })
      }
    }
  })))
  await ready.promise
  return {
    events,
    packets: (peerId, kind) => counts.get(`${peerId}/${kind}`) ?? 0,
    lastPacketAt: (peerId) => last.get(peerId) ?? 0,
    added: (peerId) => events.filter((e) => e._tag === "RemoteStreamAdded" && e.peerId === peerId).length,
    stop: () => Effect.runPromise(Fiber.interrupt(fiber)).then(() => undefined)
  }
}

/** Publishes `tracks` on `mesh` (every link, later ones included). */
export const publish = (mesh: PeerPigeonMeshBase, tracks: { audio?: MediaTrackLike; video?: MediaTrackLike }, to?: ReadonlyArray<string>) =>
  mesh.runEffect(Media.use((m) => m.publish(tracks, to === undefined ? {} : { to: to as never })))

export const unpublish = (mesh: PeerPigeonMeshBase) => mesh.runEffect(Media.use((m) => m.unpublish))

export const mediaPeers = (mesh: PeerPigeonMeshBase) => mesh.runEffect(Media.use((m) => m.peers))
