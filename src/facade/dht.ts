/**
 * The DHT calls of `PeerPigeonMesh` with PeerPigeon 1.x's results, over the `Dht` service
 * (which keeps its typed errors for Effect users):
 *
 * - `get` resolves `null` for a missing key (and when `timeout` passes first);
 * - `update` of a missing key creates it (a put), so subscribe-then-update works;
 *   `{ merge: true }` merges an object into the current object, shallowly;
 * - `delete` resolves whether there was something to delete;
 * - `put` takes `{ ttl, space }`: `space: "public"` lets every peer update the key
 *   (`writable`), `"private"` (the default) keeps it to this peer. Values are readable by
 *   every peer in both: nothing is encrypted yet. `"frozen"` (immutable) is refused.
 *
 * @since 2.0.0
 */
import { Effect, type Schema } from "effect"
import { Dht, type DhtError, type DhtPutOptions } from "../services/Dht.ts"

export type DhtSpace = "private" | "public" | "frozen"

export interface DhtPutCompatOptions extends DhtPutOptions {
  /** Who may update the key: `"private"` (this peer; default) or `"public"` (anyone). `"frozen"` is not provided. */
  readonly space?: DhtSpace
}

export interface DhtGetOptions {
  /** Give up after this many ms and resolve `null`. Default: the DHT's own lookup limits. */
  readonly timeout?: number
}

export interface DhtUpdateOptions {
  /** Merge an object value into the current object (shallow), instead of replacing it. Default false. */
  readonly merge?: boolean
}

/** The `Dht.put` options for a 1.x `dhtPut`; a RangeError for a space this library does not provide. */
export const putOptions = (options: DhtPutCompatOptions = {}): DhtPutOptions => {
  const { space, ...rest } = options
  if (space === undefined) return rest
  if (space === "public") return { ...rest, writable: true }
  if (space === "private") return { ...rest, writable: false }
  throw new RangeError(`dhtPut: space ${JSON.stringify(space)} is not provided (only "private" and "public")`)
}

const isObject = (v: Schema.Json | null): v is { readonly [k: string]: Schema.Json } =>
  typeof v === "object" && v !== null && !Array.isArray(v)

export const put = (key: string, value: Schema.Json, options?: DhtPutCompatOptions): Effect.Effect<number, DhtError | RangeError, Dht> =>
  Effect.suspend(() => {
    try {
      const o = putOptions(options)
      return Dht.use((d) => d.put(key, value, o))
    } catch (error) {
      return Effect.fail(error as RangeError)
    }
  })

export const get = (key: string, options: DhtGetOptions = {}): Effect.Effect<Schema.Json | null, DhtError, Dht> => {
  const read = Dht.use((d) => d.get(key)).pipe(Effect.catchTag("NotFound", () => Effect.succeed(null)))
  return options.timeout === undefined
    ? read
    : read.pipe(Effect.timeoutOrElse({ duration: options.timeout, orElse: () => Effect.succeed(null) }))
}

export const update = (key: string, value: Schema.Json, options: DhtUpdateOptions = {}): Effect.Effect<number, DhtError, Dht> =>
  Effect.gen(function*() {
    const dht = yield* Dht
    let next = value
    if (options.merge === true && isObject(value)) {
      const current = yield* get(key)
      if (isObject(current)) next = { ...current, ...value }
    }
    // a key nobody wrote yet is created, as 1.x does (and its subscribers are told)
    return yield* dht.update(key, next).pipe(Effect.catchTag("NotFound", () => dht.put(key, next)))
  })

export const remove = (key: string): Effect.Effect<boolean, DhtError, Dht> =>
  Dht.use((d) => d.delete(key)).pipe(
    Effect.as(true),
    Effect.catchTag("NotFound", () => Effect.succeed(false))
  )
