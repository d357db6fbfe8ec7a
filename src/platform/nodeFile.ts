/**
 * Files by path for `sendFile` in Node: a pull-based web stream over a file handle (a read
 * only when the stream is pulled, the handle closed at the end, on error and on cancel).
 *
 * @since 2.0.0
 */
import { open } from "node:fs/promises"
import { basename } from "node:path"

const READ_BYTES = 64 * 1024

/** The file at `path` as `{ name, size, stream }`; rejects when it is not a readable file. */
export const openFilePath = async (path: string): Promise<{ name: string; size: number; stream: ReadableStream<Uint8Array> }> => {
  const handle = await open(path, "r")
  const info = await handle.stat().catch(async (error: unknown) => {
    await handle.close()
    throw error
  })
  if (!info.isFile()) {
    await handle.close()
    throw new TypeError(`sendFile: ${path} is not a file`)
  }
  let closed = false
  const close = async () => {
    if (closed) return
    closed = true
    await handle.close()
  }
  const stream = new ReadableStream<Uint8Array>({
    pull: async (controller) => {
      try {
        const buffer = new Uint8Array(READ_BYTES)
        const { bytesRead } = await handle.read(buffer, 0, READ_BYTES, null)
        if (bytesRead === 0) {
          await close()
          controller.close()
        } else {
          controller.enqueue(buffer.subarray(0, bytesRead))
        }
      } catch (error) {
        await close().catch(() => undefined)
        controller.error(error)
      }
    },
    cancel: close
  }, { highWaterMark: 0 })
  return { name: basename(path), size: info.size, stream }
}
