/**
 * PeerPigeon 1.x's peer-id statics. Ids are 40 hexadecimal characters (160 bits, as 1.x).
 * A generated id is random: it is not derived from a key, so a mesh given one as `peerId`
 * counts as unverified (see README, "custom peerId").
 *
 * @since 2.0.0
 */
import { isPeerIdString } from "../schema/PeerId.ts"

/** True for 40 hexadecimal characters (either case). */
export const validatePeerId = (peerId: unknown): boolean => isPeerIdString(peerId)

/** A random peer id from the platform's CSPRNG (`crypto.getRandomValues`). */
export const generatePeerId = (): string => {
  const bytes = crypto.getRandomValues(new Uint8Array(20))
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")
}

/** A random message id in the format of the mesh's own (16 random bytes, base64url). */
export const generateMessageId = (): string => {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  let text = ""
  for (const b of bytes) text += String.fromCharCode(b)
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")
}
