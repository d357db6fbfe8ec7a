/**
 * The signaling wire protocol (PROTOCOL.md): every frame a client may send, in one union
 * discriminated on `type`, and every frame the server sends, in another. A PeerPigeon 1.x
 * client speaks this protocol unchanged; the identity fields are our optional extension.
 *
 * @since 2.0.0
 */
import { Exit, Schema } from "effect"
import { deeperThan, MAX_FRAME_DEPTH, parseBounded } from "../internal/jsonLimits.ts"
import { PeerId } from "./PeerId.ts"

/** A network (namespace) name: 1 to 128 characters; `"global"` when a client sends none. */
export const NetworkName = Schema.String.check(Schema.isBetweenLength(1, 128))
export const DEFAULT_NETWORK = "global"

/** Any JSON object; the open parts of the protocol (SDP, candidates, announce extras). */
export const JsonObject = Schema.Record(Schema.String, Schema.Json)
export type JsonObject = typeof JsonObject.Type

const envelope = {
  networkName: Schema.optionalKey(NetworkName),
  maxPeers: Schema.optionalKey(Schema.Number)
} as const

/** `announce.data`: the peer id, optional identity proof, and any extras to pass on. */
export const AnnounceData = Schema.StructWithRest(
  Schema.Struct({
    peerId: Schema.optionalKey(PeerId),
    /** Raw 32-byte Ed25519 public key, base64url without padding. */
    publicKey: Schema.optionalKey(Schema.String),
    /** Ed25519 signature over `announceChallenge(...)`, base64url without padding. */
    signature: Schema.optionalKey(Schema.String)
  }),
  [JsonObject]
)

export const Announce = Schema.Struct({
  type: Schema.tag("announce"),
  data: AnnounceData,
  ...envelope
})
export const Offer = Schema.Struct({
  type: Schema.tag("offer"),
  data: JsonObject,
  targetPeerId: PeerId,
  ...envelope
})
export const Answer = Schema.Struct({
  type: Schema.tag("answer"),
  data: JsonObject,
  targetPeerId: PeerId,
  ...envelope
})
export const IceCandidate = Schema.Struct({
  type: Schema.tag("ice-candidate"),
  /** `null` marks the end of candidates. */
  data: Schema.NullOr(JsonObject),
  targetPeerId: PeerId,
  ...envelope
})
export const Goodbye = Schema.Struct({
  type: Schema.tag("goodbye"),
  data: Schema.optionalKey(JsonObject),
  ...envelope
})
export const Ping = Schema.Struct({
  type: Schema.tag("ping"),
  data: Schema.optionalKey(Schema.Json),
  ...envelope
})
export const Cleanup = Schema.Struct({
  type: Schema.tag("cleanup"),
  data: Schema.optionalKey(JsonObject),
  targetPeerId: Schema.optionalKey(PeerId),
  ...envelope
})

/** Every frame a client sends. A client-supplied `fromPeerId` is stripped on decode. */
export const ClientMessage = Schema.Union([Announce, Offer, Answer, IceCandidate, Goodbye, Ping, Cleanup]).pipe(
  Schema.toTaggedUnion("type")
)
export type ClientMessage = typeof ClientMessage.Type
export type ClientMessageType = ClientMessage["type"]
export const clientMessageTypes: ReadonlySet<string> = new Set<ClientMessageType>([
  "announce",
  "offer",
  "answer",
  "ice-candidate",
  "goodbye",
  "ping",
  "cleanup"
])

/** The relayed signaling kinds. */
export type RelayType = "offer" | "answer" | "ice-candidate"

// ---------------------------------------------------------------------------------------------
// Server -> client

const SYSTEM = Schema.Literal("system")
const serverEnvelope = {
  timestamp: Schema.Number,
  networkName: Schema.optionalKey(NetworkName)
} as const

export const Connected = Schema.Struct({
  type: Schema.tag("connected"),
  data: Schema.Struct({
    peerId: PeerId,
    /** Fresh per connection; sign `announceChallenge(...)` with it to prove an identity. */
    nonce: Schema.optionalKey(Schema.String)
  }),
  fromPeerId: SYSTEM,
  ...serverEnvelope
})
export const PeerDiscovered = Schema.Struct({
  type: Schema.tag("peer-discovered"),
  data: Schema.StructWithRest(
    Schema.Struct({
      peerId: PeerId,
      isHub: Schema.optionalKey(Schema.Boolean),
      /** True when the peer proved that its id derives from its public key. */
      verified: Schema.optionalKey(Schema.Boolean)
    }),
    [JsonObject]
  ),
  fromPeerId: SYSTEM,
  targetPeerId: PeerId,
  ...serverEnvelope
})
export const PeerDisconnected = Schema.Struct({
  type: Schema.tag("peer-disconnected"),
  data: Schema.Struct({
    peerId: PeerId,
    reason: Schema.optionalKey(Schema.String),
    timestamp: Schema.Number
  }),
  fromPeerId: SYSTEM,
  targetPeerId: PeerId,
  ...serverEnvelope
})
const relayed = <T extends RelayType, D extends Schema.Top>(type: T, data: D) =>
  Schema.Struct({
    type: Schema.tag(type),
    data,
    fromPeerId: PeerId,
    targetPeerId: PeerId,
    ...serverEnvelope
  })
export const RelayedOffer = relayed("offer", JsonObject)
export const RelayedAnswer = relayed("answer", JsonObject)
export const RelayedIceCandidate = relayed("ice-candidate", Schema.NullOr(JsonObject))
export const Pong = Schema.Struct({
  type: Schema.tag("pong"),
  data: Schema.Struct({ timestamp: Schema.Number }),
  fromPeerId: SYSTEM,
  ...serverEnvelope
})
export const ErrorReply = Schema.Struct({
  type: Schema.tag("error"),
  /** Human-readable description of what was wrong. */
  error: Schema.String,
  /** Machine-readable cause, e.g. `invalid-frame`, `unknown-type`, `unknown-peer`. */
  code: Schema.optionalKey(Schema.String),
  fromPeerId: SYSTEM,
  ...serverEnvelope
})

/** Every frame the server sends. */
export const ServerMessage = Schema.Union([
  Connected,
  PeerDiscovered,
  PeerDisconnected,
  RelayedOffer,
  RelayedAnswer,
  RelayedIceCandidate,
  Pong,
  ErrorReply
]).pipe(Schema.toTaggedUnion("type"))
export type ServerMessage = typeof ServerMessage.Type

export type ErrorCode =
  | "invalid-json"
  | "invalid-frame"
  | "unknown-type"
  | "not-announced"
  | "unknown-peer"
  | "cross-network"
  | "identity-required"
  | "identity-invalid"
  | "peer-id-mismatch"
  | "rate-limited"
  | "announce-too-large"

// ---------------------------------------------------------------------------------------------
// Decoding

/** Why a client frame was refused; the text becomes the `error` reply. */
export interface FrameProblem {
  readonly code: "invalid-json" | "invalid-frame" | "unknown-type"
  readonly message: string
}

const decodeClient = Schema.decodeUnknownExit(ClientMessage)

/**
 * Decodes one client text frame: the message, or the problem to report. Pure and synchronous,
 * since it runs once per frame on the server's hot path.
 */
export const decodeClientFrame = (frame: string): ClientMessage | FrameProblem => {
  let json: unknown
  try {
    json = JSON.parse(frame)
  } catch {
    return { code: "invalid-json", message: "Invalid JSON" }
  }
  if (deeperThan(json, MAX_FRAME_DEPTH)) {
    return { code: "invalid-frame", message: `A frame may nest at most ${MAX_FRAME_DEPTH} levels` }
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return { code: "invalid-frame", message: "A frame must be a JSON object" }
  }
  const type = (json as { type?: unknown }).type
  if (typeof type !== "string") return { code: "invalid-frame", message: "Missing message type" }
  if (!clientMessageTypes.has(type)) {
    return { code: "unknown-type", message: `Unknown message type: ${type.slice(0, 64)}` }
  }
  const exit = decodeClient(json)
  return Exit.isSuccess(exit) ? exit.value : { code: "invalid-frame", message: `Invalid ${type} message: ${describe(exit)}` }
}

const describe = (exit: Exit.Exit<unknown, Schema.SchemaError>): string => {
  if (Exit.isSuccess(exit)) return ""
  const reason = exit.cause.reasons[0]
  const text = (reason?._tag === "Fail" ? reason.error.message : String(exit.cause)).replace(/\s+/g, " ")
  return text.length > 300 ? text.slice(0, 300) + "..." : text
}

export const isFrameProblem = (x: ClientMessage | FrameProblem): x is FrameProblem => "code" in x && !("type" in x)

const decodeServer = Schema.decodeUnknownExit(ServerMessage)

/**
 * Decodes one server frame (used by clients and tests). Invalid JSON, or JSON nested deeper
 * than `MAX_FRAME_DEPTH`, fails as `undefined` would: the schema never walks it.
 */
export const decodeServerFrame = (frame: string): Exit.Exit<ServerMessage, Schema.SchemaError> => decodeServer(parseBounded(frame))
