/**
 * Values as the bytes a record body holds: UTF-8 JSON for plain records; for CRDT records,
 * a Yjs document whose `Y.Map` "value" holds the JSON object's fields (each field a plain
 * JSON value: concurrent writes of different fields merge, of the same field the later
 * Yjs client wins), encoded as one Yjs update (`encodeStateAsUpdate`).
 *
 * @since 2.0.0
 */
import { Effect, type Schema } from "effect"
import * as Y from "yjs"
import { deeperThan, MAX_CONTENT_DEPTH } from "../internal/jsonLimits.ts"
import { ValueTooLarge } from "../services/Dht.ts"
import { MAX_VALUE_BYTES } from "./record.ts"
import { StorageError } from "./StorageError.ts"

type Bytes = Uint8Array<ArrayBuffer>

const encoder = new TextEncoder()
const decoder = new TextDecoder("utf-8", { fatal: true })

/** The Y.Map of a CRDT record's fields. */
export const MAP_NAME = "value"

/** The bytes of a JSON value; `invalid` when it is not JSON, `ValueTooLarge` over `MAX_VALUE_BYTES`. */
export const encodeJson = (key: string, value: Schema.Json): Effect.Effect<Bytes, StorageError | ValueTooLarge> => {
  let text: string | undefined
  try {
    text = deeperThan(value, MAX_CONTENT_DEPTH) ? undefined : JSON.stringify(value)
  } catch {
    text = undefined
  }
  if (typeof text !== "string") {
    return Effect.fail(new StorageError({ reason: "invalid", key, message: `the value is not JSON nested at most ${MAX_CONTENT_DEPTH} deep` }))
  }
  const bytes = encoder.encode(text)
  return bytes.length > MAX_VALUE_BYTES ? Effect.fail(new ValueTooLarge({ key, size: bytes.length, limit: MAX_VALUE_BYTES })) : Effect.succeed(bytes)
}

/** A JSON value from body bytes; undefined for bytes that are not (bounded) JSON. */
export const decodeJson = (bytes: Uint8Array): Schema.Json | undefined => {
  try {
    const value = JSON.parse(decoder.decode(bytes)) as Schema.Json
    return deeperThan(value, MAX_CONTENT_DEPTH) ? undefined : value
  } catch {
    return undefined
  }
}

const isObject = (v: Schema.Json): v is { readonly [k: string]: Schema.Json } => typeof v === "object" && v !== null && !Array.isArray(v)

/** Sets the fields of `value` (an object; anything else is refused) on the document's map, in one transaction. */
export const setFields = (key: string, doc: Y.Doc, value: Schema.Json, origin: unknown): Effect.Effect<void, StorageError> =>
  Effect.suspend(() => {
    if (!isObject(value)) {
      return Effect.fail(new StorageError({ reason: "invalid", key, message: "a CRDT record holds a JSON object (its fields merge)" }))
    }
    const map = doc.getMap<Schema.Json>(MAP_NAME)
    doc.transact(() => {
      for (const [field, v] of Object.entries(value)) {
        if (JSON.stringify(map.get(field)) !== JSON.stringify(v)) map.set(field, v)
      }
    }, origin)
    return Effect.void
  })

/** The JSON value of a document: its map's fields (shared types inside it as their JSON). */
export const docValue = (doc: Y.Doc): Schema.Json => doc.getMap(MAP_NAME).toJSON() as Schema.Json

/** Applies update bytes to `doc`; false when they are not a Yjs update (the document is left as it was). */
export const applyUpdate = (doc: Y.Doc, update: Uint8Array, origin: unknown): boolean => {
  try {
    Y.applyUpdate(doc, update, origin)
    return true
  } catch {
    return false
  }
}

/** The whole document as one update, or `ValueTooLarge`. */
export const encodeDoc = (key: string, doc: Y.Doc): Effect.Effect<Bytes, ValueTooLarge> => {
  const bytes = Y.encodeStateAsUpdate(doc) as Bytes
  return bytes.length > MAX_VALUE_BYTES ? Effect.fail(new ValueTooLarge({ key, size: bytes.length, limit: MAX_VALUE_BYTES })) : Effect.succeed(bytes)
}

/**
 * True when `doc` holds something (an insert or a deletion) the document encoded in `theirs`
 * lacks: their snapshots (state vector and delete set) differ once theirs is merged into ours.
 */
export const hasMoreThan = (doc: Y.Doc, theirs: Uint8Array): boolean => {
  const other = new Y.Doc()
  if (!applyUpdate(other, theirs, null)) return true
  return !Y.equalSnapshots(Y.snapshot(doc), Y.snapshot(other))
}
