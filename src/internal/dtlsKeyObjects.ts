/**
 * A CPU fix for werift's DTLS record layer on Node.
 *
 * werift 0.25 encrypts and decrypts every DTLS record (every SCTP packet of a data channel)
 * with a fresh `createCipheriv`/`createDecipheriv` given its AES-GCM write key as a `Buffer`.
 * For a `Buffer` key, Node (22 and later) first asks whether it is a `KeyObject`, then
 * whether it is a `CryptoKey`, each time by catching a thrown `TypeError`: two exceptions,
 * with their stack traces, per record. Measured on a 2-core machine, that is about 45% of the
 * CPU a data channel spends on 1 KB messages. Given `KeyObject`s instead, Node takes them as
 * they are; the ciphertext is the same.
 *
 * `useKeyObjects` swaps the write keys of a connected werift `RTCPeerConnection` for
 * `KeyObject`s. It reads werift's internals by shape (`dtlsTransports[].dtls.cipher.cipher`
 * with `clientWriteKey`/`serverWriteKey` byte arrays), touches nothing that does not have that
 * shape, and so does nothing on other werift versions or on a browser's connection. Should
 * werift derive new keys later (a new handshake), they are byte arrays again: merely slower.
 *
 * @since 2.0.0
 */

/** The write keys of a werift AEAD cipher, as werift leaves them (or as swapped here). */
interface AeadKeys {
  clientWriteKey?: unknown
  serverWriteKey?: unknown
}

const field = (u: unknown, key: string): unknown =>
  typeof u === "object" && u !== null ? (u as Record<string, unknown>)[key] : undefined

/** werift's AEAD ciphers of `pc`'s DTLS transports (those that have write keys). */
const aeadCiphers = (pc: unknown): Array<AeadKeys> => {
  let transports: unknown
  try {
    transports = field(pc, "dtlsTransports")
  } catch {
    return []
  }
  if (!Array.isArray(transports)) return []
  const ciphers: Array<AeadKeys> = []
  for (const transport of transports) {
    const cipher = field(field(field(transport, "dtls"), "cipher"), "cipher")
    if (typeof cipher === "object" && cipher !== null && "clientWriteKey" in cipher && "serverWriteKey" in cipher) {
      ciphers.push(cipher as AeadKeys)
    }
  }
  return ciphers
}

/**
 * Replaces the byte-array DTLS write keys of `pc` (a werift `RTCPeerConnection`) with
 * `createSecretKey(key)`; returns how many keys it replaced. Never throws: a key it cannot
 * convert stays as it was.
 */
export const useKeyObjects = (pc: unknown, createSecretKey: (key: Uint8Array) => object): number => {
  let replaced = 0
  for (const cipher of aeadCiphers(pc)) {
    for (const name of ["clientWriteKey", "serverWriteKey"] as const) {
      const key = cipher[name]
      if (!(key instanceof Uint8Array) || key.length === 0) continue
      try {
        cipher[name] = createSecretKey(key)
        replaced++
      } catch {
        // keep the byte array: slower, still correct
      }
    }
  }
  return replaced
}
