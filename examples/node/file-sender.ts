/**
 * Sending files between two terminals, over the mesh (any distance: the stream is routed).
 *
 *   node examples/node/file-sender.ts <signaling-url> receive <folder>          save what arrives in <folder>
 *   node examples/node/file-sender.ts <signaling-url> send <peer-id> <path>     send a file, with progress
 *
 * The receiver prints its peer id, then one JSON line per file saved
 * (`{"saved":"<path>","bytes":n}`); the sender prints progress on stderr and
 * `{"sent":"<name>","bytes":n}` once the receiver checked every byte. The receiver saves
 * under the name the sender gave (its base name only; never outside <folder>). Environment:
 * FILES_NETWORK (default "files").
 *
 * In an app, import from "peerpigeon" instead of the checkout's source.
 */
import { createWriteStream } from "node:fs"
import { stat } from "node:fs/promises"
import { basename, join } from "node:path"
import { Writable } from "node:stream"
import { PeerPigeonMesh } from "../../src/index.ts"

const usage = "usage: node examples/node/file-sender.ts <signaling-url> receive <folder> | send <peer-id> <path>"
const [url, command, a, b] = process.argv.slice(2)
const fail = (message: string): never => {
  console.error(message)
  process.exit(2)
}
if (url === undefined || (command !== "receive" && command !== "send") || a === undefined) fail(usage)

const mesh = new PeerPigeonMesh({ networkName: process.env["FILES_NETWORK"] ?? "files" })
await mesh.init()
await mesh.connect(url!)
const leave = async (code: number) => {
  await mesh.disconnect()
  process.exit(code)
}

if (command === "receive") {
  const folder = a!
  if (!(await stat(folder).catch(() => undefined))?.isDirectory()) fail(`not a folder: ${folder}`)
  mesh.addEventListener("streamReceived", (e) => {
    // the name comes from another peer: only its base name, never a path
    const name = basename(e.name).replace(/^\.+/, "") || "file"
    const path = join(folder, name)
    let bytes = 0
    const counted = new TransformStream<Uint8Array, Uint8Array>({
      transform: (chunk, controller) => {
        bytes += chunk.byteLength
        controller.enqueue(chunk)
      }
    })
    e.stream.pipeThrough(counted).pipeTo(Writable.toWeb(createWriteStream(path)) as WritableStream<Uint8Array>).then(
      () => console.log(JSON.stringify({ saved: path, bytes })),
      (error: unknown) => console.error(`receiving ${name} failed: ${error instanceof Error ? error.message : String(error)}`)
    )
  })
  console.log(JSON.stringify({ receiving: mesh.peerId }))
  process.once("SIGINT", () => void leave(0))
} else {
  const [peerId, path] = [a!, b]
  if (path === undefined) fail(usage)
  const size = (await stat(path!).catch(() => fail(`no such file: ${path}`))).size
  mesh.addEventListener("streamProgress", (p) => {
    if (p.direction === "out") console.error(`${p.bytes} / ${p.total ?? size} bytes`)
  })
  // the receiver may be a few hops away: wait until this peer is linked into the mesh
  const deadline = Date.now() + 15_000
  while (mesh.getConnectedPeerCount() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
  try {
    await mesh.sendFile(peerId, path!)
    console.log(JSON.stringify({ sent: basename(path!), bytes: size }))
    await leave(0)
  } catch (error) {
    console.error(`sending failed: ${error instanceof Error ? error.message : String(error)}`)
    await leave(1)
  }
}
