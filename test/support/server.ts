import { PeerPigeonServer, type PeerPigeonServerOptions } from "../../src/server/index.ts"

/** Starts a server on 127.0.0.1 and an OS-chosen port for one test; always stopped after. */
export const withServer = async <A>(
  options: PeerPigeonServerOptions,
  body: (server: PeerPigeonServer) => Promise<A>
): Promise<A> => {
  const server = new PeerPigeonServer({ host: "127.0.0.1", port: 0, ...options })
  await server.start()
  try {
    return await body(server)
  } finally {
    await server.stop()
  }
}
