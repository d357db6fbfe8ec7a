/**
 * The data half of `PeerPigeonMesh`'s 1.x API: binary messages, streams and files (over the
 * `Mesh` and `Streams` services; the web-stream adapters are in `facade/streams.ts`).
 *
 * @since 2.0.0
 */
import { Mesh } from "../services/Mesh.ts"
import { Streams } from "../services/Streams.ts"
import { MeshMediaBase } from "./media.ts"
import { isPeerIdString, type PeerId } from "../schema/PeerId.ts"
import * as FacadeStreams from "./streams.ts"

/** A valid peer id, in lower case; a TypeError otherwise. */
const peerOf = (peerId: string): PeerId => {
  if (!isPeerIdString(peerId)) throw new TypeError(`invalid peer id: ${JSON.stringify(peerId)}`)
  return peerId.toLowerCase() as PeerId
}

export abstract class MeshDataBase extends MeshMediaBase {
  /**
   * Sends bytes to one peer (raw on the wire, signed, acknowledged; at most `maxMessageSize`:
   * streams carry more). Resolves with the message id once sent; the target gets
   * `binaryMessageReceived`.
   */
  async sendBinaryData(peerId: string, data: FacadeStreams.BinaryData): Promise<string> {
    const to = peerOf(peerId)
    const bytes = await FacadeStreams.toBytes(data)
    return this.runEffect(Mesh.use((m) => m.sendBinaryData(to, bytes)))
  }

  /** Broadcasts bytes to every peer of the network (at most `maxMessageSize`); resolves with the message id. */
  async broadcastBinaryData(data: FacadeStreams.BinaryData): Promise<string> {
    const bytes = await FacadeStreams.toBytes(data)
    return this.runEffect(Mesh.use((m) => m.broadcastBinaryData(bytes)))
  }

  /**
   * Opens a stream to any peer of the network; resolves, once the peer accepted it, with a
   * web `WritableStream` (writes wait while the receiver has no room; `close()` resolves once
   * the receiver checked the checksum). The peer gets `streamReceived`.
   */
  async createStreamToPeer(peerId: string, options: FacadeStreams.StreamOptions = {}): Promise<WritableStream<Uint8Array | ArrayBuffer | ArrayBufferView | string>> {
    const to = peerOf(peerId)
    const out = await this.runEffect(Streams.use((s) => s.open(to, { ...options, name: options.name ?? "stream" })))
    return FacadeStreams.writableFor(out, (effect) => this.runEffect(effect))
  }

  /** Sends a web `ReadableStream` to a peer as one stream; resolves once it all arrived intact. */
  async sendStream(peerId: string, readable: ReadableStream<Uint8Array>, options: FacadeStreams.StreamOptions = {}): Promise<void> {
    await readable.pipeTo(await this.createStreamToPeer(peerId, options))
  }

  /**
   * Sends a file: a `Blob`/`File` (browsers), `{ name, size?, type?, stream }`, or in Node a
   * path. Resolves once it all arrived intact; `streamProgress` tells how far it got.
   */
  async sendFile(peerId: string, file: FacadeStreams.FileSource | string): Promise<void> {
    const { stream, ...options } = typeof file === "string" ? await this.openFile(file) : FacadeStreams.fileParts(file)
    await this.sendStream(peerId, stream, options)
  }

  /** Opens a file by path for `sendFile` (Node only; the Node entry point provides it). */
  protected openFile(path: string): Promise<Exclude<FacadeStreams.FileSource, Blob>> {
    return Promise.reject(new TypeError(`sendFile("${path}"): file paths need Node; give a File, a Blob or a stream`))
  }
}
