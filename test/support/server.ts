import { randomBytes } from "node:crypto"
import { announceChallenge, peerIdFromPublicKey, toBase64Url } from "../../src/internal/identityProof.ts"
import { PeerPigeonServer, type PeerPigeonServerOptions } from "../../src/server/index.ts"

/**
 * Options every `withServer` of the current test file adds (test/support/redis.ts sets
 * `redisSocket` here to run a whole suite over the Redis registry).
 */
export const suiteOptions: { current: PeerPigeonServerOptions } = { current: {} }

/** Starts a server on 127.0.0.1 and an OS-chosen port for one test; always stopped after. */
export const withServer = async <A>(
  options: PeerPigeonServerOptions,
  body: (server: PeerPigeonServer) => Promise<A>
): Promise<A> => {
  const server = new PeerPigeonServer({ host: "127.0.0.1", port: 0, ...suiteOptions.current, ...options })
  await server.start()
  try {
    return await body(server)
  } finally {
    await server.stop()
  }
}

/** A random 40-hex peer id. */
export const randomId = (): string => randomBytes(20).toString("hex")

/** An Ed25519 identity as a client proves it at announce: its id, key, and a signer of the server's nonce. */
export const makeIdentity = async () => {
  const keys = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as unknown as import("node:crypto").webcrypto.CryptoKeyPair
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", keys.publicKey))
  const peerId = await peerIdFromPublicKey(raw)
  const sign = async (networkName: string, nonce: string) =>
    toBase64Url(new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, keys.privateKey, announceChallenge(networkName, peerId, nonce))))
  return { peerId, publicKey: toBase64Url(raw), sign }
}
export type AnnounceIdentity = Awaited<ReturnType<typeof makeIdentity>>

/** Resolves once the server no longer lists `peerId` (its release has run). */
export const released = async (server: PeerPigeonServer, peerId: string) => {
  for (let i = 0; i < 500; i++) {
    if (!server.getPeers().some((p) => p.peerId === peerId)) return
    await new Promise((r) => setImmediate(r))
  }
  throw new Error(`${peerId} still registered`)
}
