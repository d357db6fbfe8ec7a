/**
 * A small static file server for the repository, used by `npm run dev` and the browser
 * tests: GET/HEAD only, files under `root` only, no caching (the bundle is rebuilt under it).
 *
 * When `signalingPort` is given, HTML pages get it in
 * `<meta name="peerpigeon-signaling" content="...">`, as `ws://<the host the page was asked
 * for>:<signalingPort>`, so the demo app finds the server the dev script started without a
 * `?api=` parameter.
 *
 * @since 2.0.0
 */
import { createReadStream } from "node:fs"
import { readFile, stat } from "node:fs/promises"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { extname, join, normalize, sep } from "node:path"

export interface StaticServerOptions {
  /** Folder served at `/`. */
  readonly root: string
  /** Default 8080; 0 lets the OS choose. */
  readonly port?: number
  /** Default `"localhost"`. */
  readonly host?: string
  /** The signaling server's port, announced to HTML pages (see the module comment). */
  readonly signalingPort?: number
}

export interface StaticServer {
  readonly port: number
  /** `http://host:port` */
  readonly origin: string
  close(): Promise<void>
}

const mimeTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".ts": "text/plain; charset=utf-8",
  ".md": "text/plain; charset=utf-8"
}

const send = (res: ServerResponse, status: number, body: string) => {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" })
  res.end(body)
}

export const startStaticServer = async (options: StaticServerOptions): Promise<StaticServer> => {
  const root = normalize(options.root + sep)
  const host = options.host ?? "localhost"

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "method not allowed")
    const url = new URL(req.url ?? "/", "http://x")
    let path: string
    try {
      path = normalize(join(root, decodeURIComponent(url.pathname)))
    } catch {
      return send(res, 400, "bad path")
    }
    if (!path.startsWith(root) && path + sep !== root) return send(res, 403, "forbidden")
    let info = await stat(path).catch(() => undefined)
    if (info?.isDirectory()) {
      // /examples/browser -> /examples/browser/ so the page's relative URLs resolve
      if (!url.pathname.endsWith("/")) {
        res.writeHead(301, { location: `${url.pathname}/${url.search}` })
        return res.end()
      }
      path = join(path, "index.html")
      info = await stat(path).catch(() => undefined)
    }
    if (info === undefined || !info.isFile()) return send(res, 404, `not found: ${url.pathname}`)
    const type = mimeTypes[extname(path)] ?? "application/octet-stream"
    const headers = { "content-type": type, "cache-control": "no-store" }
    if (extname(path) === ".html" && options.signalingPort !== undefined) {
      const hostname = new URL(`http://${req.headers.host ?? host}`).hostname
      const signaling = `ws://${hostname}:${options.signalingPort}`
      const html = (await readFile(path, "utf8")).replace(
        /(<meta name="peerpigeon-signaling" content=")[^"]*(")/,
        `$1${signaling}$2`
      )
      res.writeHead(200, headers)
      return res.end(req.method === "HEAD" ? undefined : html)
    }
    res.writeHead(200, { ...headers, "content-length": info.size })
    if (req.method === "HEAD") return res.end()
    createReadStream(path).pipe(res)
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, String(error))
      else res.destroy()
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(options.port ?? 8080, host, () => resolve())
  })
  const port = (server.address() as AddressInfo).port
  return {
    port,
    origin: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
  }
}
