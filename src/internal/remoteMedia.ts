/**
 * What a link receives: the remote's sources (camera, screen), their tracks and mute state,
 * from its `announce`/`state`/`stop` frames. Pure bookkeeping that says which events to emit:
 * a stream is "added" exactly once, when its announced tracks are all known, and "removed"
 * once, on `stop` or when the link closes. At most one entry per source (two per link).
 *
 * @since 2.0.0
 */
import type { MediaSource, TrackKind } from "../schema/MediaFrames.ts"

export interface RemoteSource<T> {
  readonly mids: ReadonlyArray<string>
  readonly tracks: ReadonlyArray<T>
  readonly audio: boolean
  readonly video: boolean
  /** The stream was reported (added). */
  readonly reported: boolean
}

export type RemoteChange<T> =
  | { readonly _tag: "Added"; readonly source: MediaSource; readonly tracks: ReadonlyArray<T>; readonly audio: boolean; readonly video: boolean }
  | { readonly _tag: "Removed"; readonly source: MediaSource }
  | { readonly _tag: "State"; readonly source: MediaSource; readonly audio: boolean; readonly video: boolean }

export class RemoteMedia<T> {
  readonly #sources = new Map<MediaSource, RemoteSource<T>>()

  get(source: MediaSource): RemoteSource<T> | undefined {
    return this.#sources.get(source)
  }

  get sources(): ReadonlyArray<readonly [MediaSource, RemoteSource<T>]> {
    return [...this.#sources]
  }

  /**
   * The remote announced `tracks` for `source`; `trackOf` finds the received track of a mid
   * (undefined when the m-line is unknown here: the announce is then ignored).
   */
  announce(
    source: MediaSource,
    tracks: ReadonlyArray<{ readonly mid: string; readonly kind: TrackKind }>,
    state: { readonly audio: boolean; readonly video: boolean },
    trackOf: (mid: string) => T | undefined
  ): ReadonlyArray<RemoteChange<T>> {
    const found = tracks.map((t) => trackOf(t.mid))
    if (tracks.length === 0 || found.some((t) => t === undefined)) return []
    const mids = tracks.map((t) => t.mid)
    const previous = this.#sources.get(source)
    const changes: Array<RemoteChange<T>> = []
    if (previous?.reported === true) {
      if (sameMids(previous.mids, mids)) return this.state(source, state)
      changes.push({ _tag: "Removed", source })
    }
    this.#sources.set(source, { mids, tracks: found as ReadonlyArray<T>, ...state, reported: true })
    changes.push({ _tag: "Added", source, tracks: found as ReadonlyArray<T>, ...state })
    return changes
  }

  /** The remote's mute state of `source` changed. */
  state(source: MediaSource, state: { readonly audio: boolean; readonly video: boolean }): ReadonlyArray<RemoteChange<T>> {
    const entry = this.#sources.get(source)
    if (entry === undefined || (entry.audio === state.audio && entry.video === state.video)) return []
    this.#sources.set(source, { ...entry, ...state })
    return [{ _tag: "State", source, ...state }]
  }

  /** The remote stopped `source`. */
  stop(source: MediaSource): ReadonlyArray<RemoteChange<T>> {
    const entry = this.#sources.get(source)
    this.#sources.delete(source)
    return entry?.reported === true ? [{ _tag: "Removed", source }] : []
  }

  /** The link closed: every source is gone. */
  close(): ReadonlyArray<RemoteChange<T>> {
    return [...this.#sources.keys()].flatMap((s) => this.stop(s))
  }
}

const sameMids = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) => a.length === b.length && a.every((m, i) => m === b[i])
