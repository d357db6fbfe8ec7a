/**
 * What is wrong with a set of mesh options, as plain sentences (pure). Options the mesh reads
 * as numbers must be finite and in range: `optimizeInterval: 0` would spin the optimizer,
 * `seenCacheSize: 0` would leave the de-duplication cache unusable, a NaN would pass every
 * comparison. Options this module does not know are left alone (1.x callers pass their own).
 *
 * @since 2.0.0
 */

/** A problem with one value, or undefined when it is acceptable. */
type Rule = (value: unknown) => string | undefined

const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v)

const integer = (lo: number, hi: number): Rule => (v) =>
  Number.isInteger(v) && (v as number) >= lo && (v as number) <= hi ? undefined : `an integer from ${lo} to ${hi}`

const atLeast = (lo: number, unit = ""): Rule => (v) => isNumber(v) && v >= lo ? undefined : `a finite number of at least ${lo}${unit}`

/** 0 (off) or at least `lo`. */
const offOrAtLeast = (lo: number, unit = ""): Rule => (v) => v === 0 || (isNumber(v) && v >= lo) ? undefined : `0 (off) or a finite number of at least ${lo}${unit}`

const finite: Rule = (v) => isNumber(v) ? undefined : "a finite number"

const boolean: Rule = (v) => typeof v === "boolean" ? undefined : "true or false"

const oneOf = (...values: ReadonlyArray<string>): Rule => (v) =>
  typeof v === "string" && values.includes(v) ? undefined : `one of ${values.map((s) => JSON.stringify(s)).join(", ")}`

const optional = (rule: Rule): Rule => (v) => v === undefined ? undefined : rule(v)

const networkName: Rule = (v) => typeof v === "string" && v.length >= 1 && v.length <= 128 ? undefined : "a string of 1 to 128 characters"

const iceServers: Rule = (v) => {
  if (!Array.isArray(v)) return "an array of { urls, username?, credential? }"
  const bad = v.findIndex((s: unknown) => {
    if (typeof s !== "object" || s === null) return true
    const urls = (s as { urls?: unknown }).urls
    return !(typeof urls === "string" || (Array.isArray(urls) && urls.length > 0 && urls.every((u) => typeof u === "string")))
  })
  return bad === -1 ? undefined : `an array of { urls, username?, credential? } (entry ${bad} has no string urls)`
}

const MS = " ms"

const top: Record<string, Rule> = {
  networkName,
  maxPeers: finite,
  minPeers: finite,
  autoDiscovery: boolean,
  evictionStrategy: boolean,
  xorRouting: boolean,
  enableWebDHT: boolean,
  allowUnverifiedPeers: boolean,
  iceServers,
  iceTransportPolicy: oneOf("all", "relay"),
  connectionTimeout: atLeast(10, MS),
  gossipTtl: integer(1, 255),
  seenCacheSize: integer(1, 10_000_000),
  seenCacheTtl: atLeast(1, MS),
  optimizeInterval: atLeast(10, MS),
  presenceInterval: offOrAtLeast(10, MS),
  repairInterval: offOrAtLeast(10, MS),
  repairWindow: atLeast(1, MS),
  maxMessageSize: integer(1, 64 * 1024 * 1024),
  rateLimitCooldown: atLeast(0, MS),
  maxHearsayDials: integer(0, 64)
}

const dht: Record<string, Rule> = {
  replicationFactor: integer(1, 20),
  k: integer(1, 64),
  alpha: integer(1, 16),
  rpcTimeout: atLeast(10, MS),
  ttl: atLeast(1, MS),
  republishInterval: optional(atLeast(1, MS)),
  replicateInterval: atLeast(10, MS),
  refreshInterval: optional(atLeast(10, MS)),
  maxValueSize: integer(1, 64 * 1024 * 1024),
  maxTtl: atLeast(1, MS),
  maxVersionStep: integer(1, 2 ** 32),
  maxRecords: integer(1, 10_000_000),
  maxStoreBytes: integer(1, Number.MAX_SAFE_INTEGER),
  maxRecordsPerPublisher: integer(1, 10_000_000),
  maxBytesPerPublisher: integer(1, Number.MAX_SAFE_INTEGER),
  farCacheSize: integer(0, 1_000_000),
  watchLease: optional(atLeast(1, MS)),
  maxWatchesPerPeer: integer(0, 1_000_000),
  maxWatches: integer(0, 10_000_000),
  maxConcurrentRpcs: integer(1, 1024),
  inboxCapacity: integer(1, 1_000_000),
  maxPendingRpcs: integer(1, 1_000_000),
  maxReplicatePerPass: integer(1, 1_000_000)
}

const streams: Record<string, Rule> = {
  window: integer(1, 1024),
  idleTimeout: atLeast(1, MS),
  maxIncoming: integer(0, 65_536),
  maxIncomingPerPeer: integer(0, 65_536),
  backlog: integer(0, 65_536)
}

const bucket: Rule = (v) => {
  if (typeof v !== "object" || v === null) return "{ perSecond, burst }"
  const { burst, perSecond } = v as { perSecond?: unknown; burst?: unknown }
  return isNumber(perSecond) && perSecond > 0 && isNumber(burst) && burst >= 1 ? undefined : "{ perSecond > 0, burst >= 1 }, both finite"
}

/** Checks the known fields of `value` (an object of options) against `rules`, prefixing names with `path`. */
const checkFields = (value: unknown, rules: Record<string, Rule> | Rule, path: string, out: Array<string>): void => {
  if (value === undefined) return
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    out.push(`${path} must be an object`)
    return
  }
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined) continue
    const rule = typeof rules === "function" ? rules : rules[key]
    const wrong = rule?.(v)
    if (wrong !== undefined) out.push(`${path}${key} must be ${wrong}, got ${describe(v)}`)
  }
}

const describe = (v: unknown): string => {
  if (typeof v === "number" || typeof v === "boolean" || v === null) return String(v)
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)
  return Array.isArray(v) ? "an array" : typeof v
}

/** Every problem with `options` (resolved or partial), as sentences naming the option; empty when none. */
export const meshOptionProblems = (options: Readonly<Record<string, unknown>>): ReadonlyArray<string> => {
  const out: Array<string> = []
  checkFields(options, top, "", out)
  checkFields(options["dht"], dht, "dht.", out)
  checkFields(options["streams"], streams, "streams.", out)
  checkFields(options["rateLimits"], bucket, "rateLimits.", out)
  return out
}
