/**
 * Binary data and streams for `PeerPigeonMesh`: the bytes a user hands over (`Uint8Array`,
 * `ArrayBuffer`, any `ArrayBufferView`, `Blob`), and the `Streams` service's two ends as web
 * streams. A `WritableStream`'s writes wait for the receiver's credit, and a
 * `ReadableStream` pulls a chunk only when its reader asks, so back-pressure holds end to
 * end, through `pipeTo` too.
 *
 * @since 2.0.0
 */
import { type Effect, Option } from "effect"
import type { StreamEvent } from "../services/Streams.ts"
import type { IncomingStream, OutgoingStream } from "../services/Streams.ts"
import type { PeerPigeonMeshEvents } from "./events.ts"

/** Bytes as users have them. */
export type BinaryData = Uint8Array | ArrayBuffer | ArrayBufferView | Blob

/** Something to send as a file: a `Blob`/`File`, or a web stream with a name. */
export type FileSource =
  | Blob
  | { readonly name: string; readonly size?: number; readonly type?: string; readonly stream: ReadableStream<Uint8Array> }

export interface StreamOptions {
  readonly name?: string
  readonly size?: number
  readonly type?: string
}

type Run = <A, E>(effect: Effect.Effect<A, E, never>) => Promise<A>

/** A `Uint8Array` over bytes as users hold them (no copy), or `undefined` when they are not bytes. */
const viewOf = (data: unknown): Uint8Array | undefined => {
  if (data instanceof Uint8Array) return data
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  return undefined
}

/** The bytes of `data` (a `Blob` is read); a TypeError for anything else. */
export const toBytes = async (data: BinaryData): Promise<Uint8Array> => {
  const view = viewOf(data)
  if (view !== undefined) return view
  if (typeof Blob !== "undefined" && data instanceof Blob) return new Uint8Array(await data.arrayBuffer())
  throw new TypeError("binary data must be a Uint8Array, an ArrayBuffer, an ArrayBufferView or a Blob")
}

const chunkBytes = (chunk: unknown): Uint8Array => {
  const view = viewOf(chunk)
  if (view !== undefined) return view
  if (typeof chunk === "string") return new TextEncoder().encode(chunk)
  throw new TypeError("a stream chunk must be bytes (Uint8Array, ArrayBuffer, ArrayBufferView) or a string")
}

/** Why a web stream was aborted or cancelled, as text. */
const reasonText = (reason: unknown, otherwise: string): string =>
  reason instanceof Error ? reason.message : typeof reason === "string" ? reason : reason === undefined ? otherwise : JSON.stringify(reason) ?? otherwise

/** The writing end as a web `WritableStream` (strings are sent as UTF-8). */
export const writableFor = (out: OutgoingStream, run: Run): WritableStream<Uint8Array | ArrayBuffer | ArrayBufferView | string> =>
  new WritableStream({
    write: (chunk) => run(out.write(chunkBytes(chunk))),
    close: () => run(out.close),
    abort: (reason: unknown) => run(out.abort(reasonText(reason, "aborted")))
  }, { highWaterMark: 1 })

/** The reading end as a web `ReadableStream` (a chunk is fetched only when the reader asks). */
export const readableFor = (s: IncomingStream, run: Run): ReadableStream<Uint8Array> =>
  new ReadableStream<Uint8Array>({
    pull: async (controller) => {
      const chunk = await run(s.read)
      if (Option.isSome(chunk)) controller.enqueue(chunk.value)
      else controller.close()
    },
    cancel: (reason: unknown) => run(s.abort(reasonText(reason, "cancelled")))
  }, { highWaterMark: 0 })

/** The name, size, type and bytes of a file source. */
export const fileParts = (file: FileSource): Required<Pick<StreamOptions, "name">> & StreamOptions & { readonly stream: ReadableStream<Uint8Array> } => {
  if (typeof Blob !== "undefined" && file instanceof Blob) {
    const name = "name" in file && typeof file.name === "string" ? file.name : "blob"
    return { name, size: file.size, ...(file.type === "" ? {} : { type: file.type }), stream: file.stream() }
  }
  const source = file as Exclude<FileSource, Blob>
  if (source === null || typeof source !== "object" || !(source.stream instanceof ReadableStream)) {
    throw new TypeError("a file is a Blob, a File, or { name, size?, type?, stream: ReadableStream }")
  }
  return source
}

type StreamEventNames = "streamProgress" | "streamCompleted" | "streamAborted"

/** The facade event of a stream event. */
export const streamEventOf = (
  event: StreamEvent
): { [K in StreamEventNames]: { readonly name: K; readonly data: PeerPigeonMeshEvents[K] } }[StreamEventNames] => {
  switch (event._tag) {
    case "Progress": {
      const { _tag, ...data } = event
      return { name: "streamProgress", data }
    }
    case "Completed": {
      const { _tag, ...data } = event
      return { name: "streamCompleted", data }
    }
    case "Aborted": {
      const { _tag, ...data } = event
      return { name: "streamAborted", data }
    }
  }
}
