/**
 * The one error of the crypto modules. Every refusal (a tampered, forged, replayed, stale or
 * malformed envelope, a missing key, a group rule broken) is a `CryptoError` whose `reason`
 * says which; callers recover with `Effect.catchTag("CryptoError", ...)` and branch on
 * `reason`. Nothing in `src/crypto` throws on untrusted input.
 *
 * @since 2.0.0
 */
import { Schema } from "effect"

export const CryptoErrorReason = Schema.Literals([
  /** Not the shape of an envelope, announcement or key hand-off, or a field over its bound. */
  "malformed",
  /** Content too large to encrypt, or not JSON (a cycle, a bigint). */
  "invalid-content",
  /** The envelope is addressed to another peer. */
  "wrong-recipient",
  /** The envelope is not from the sender the caller expected. */
  "wrong-sender",
  /** The sender's peer id does not derive from the identity key it carries. */
  "bad-sender-key",
  /** The Ed25519 signature does not verify. */
  "bad-signature",
  /** This (sender, id) was accepted before, or its time is below the replay window. */
  "replay",
  /** Older than the accepted age. */
  "stale",
  /** Further in the future than the accepted clock skew. */
  "future",
  /** No key to open it: an unknown recipient key id, a peer without an announced key, a group epoch not received yet. */
  "unknown-key",
  /** AES-GCM refused the ciphertext (a wrong key, or header fields the sender re-signed). */
  "decrypt-failed",
  /** The group is not known here. */
  "unknown-group",
  /** The sender (or this peer) is not a member of the group. */
  "not-member",
  /** Only the group's owner may hand out its keys or change its members. */
  "not-owner",
  /** A group message or key of an epoch older than the current one (keys rotate when members change). */
  "old-epoch",
  /** A bound on the number of members or groups would be exceeded. */
  "limit",
  /** WebCrypto lacks X25519, HKDF or AES-GCM here. */
  "crypto-unavailable",
  /** The mesh was created with `enableCrypto: false`. */
  "disabled"
])
export type CryptoErrorReason = typeof CryptoErrorReason.Type

export class CryptoError extends Schema.TaggedError<CryptoError>()("CryptoError", {
  reason: CryptoErrorReason,
  message: Schema.String
}) {}

