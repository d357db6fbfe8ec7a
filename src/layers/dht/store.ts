/**
 * What a DHT holder keeps for others, as plain data structures with their own limits:
 *
 * - `RecordStore`: the records, with a quota per publisher (records and bytes), a total cap
 *   (records and bytes), expiries cut to `maxTtl` from arrival and from signing, and a small cache for keys
 *   this holder is not among the closest peers to (kept, answered, never re-replicated).
 *   When the total cap is reached, the publisher holding the most bytes loses its oldest
 *   record first, so one publisher's flood cannot push out everyone else's records.
 * - `WatchLeases`: watches as leases that end unless renewed, capped per watcher and in all.
 *
 * @since 2.0.0
 */
import type { RecordHeader } from "../../internal/dhtRecords.ts"

export interface StoreLimits {
  readonly maxRecords: number
  readonly maxBytes: number
  readonly maxRecordsPerPublisher: number
  readonly maxBytesPerPublisher: number
  /** Records kept for keys this holder is not close to. */
  readonly farCacheSize: number
  /** Longest lifetime from arrival. */
  readonly maxTtl: number
}

interface Entry<R> {
  readonly record: R
  readonly bytes: number
  /** The record's expiry, cut to maxTtl from when it arrived. */
  readonly expiresAt: number
  /** Held as one of the key's closest peers (re-replicated), or only cached. */
  readonly near: boolean
}

interface Usage {
  records: number
  bytes: number
  /** This publisher's keys, oldest first. */
  readonly keys: Set<string>
}

export type PutResult = "ok" | "quota"

export class RecordStore<R extends RecordHeader> {
  readonly #entries = new Map<string, Entry<R>>()
  readonly #usage = new Map<string, Usage>()
  /** Keys of cached (far) entries, oldest first. */
  readonly #far = new Set<string>()
  #bytes = 0
  readonly limits: StoreLimits

  constructor(limits: StoreLimits) {
    this.limits = limits
  }

  get size(): number {
    return this.#entries.size
  }

  get bytes(): number {
    return this.#bytes
  }

  /** Records held only in the cache for keys this holder is not close to. */
  get cached(): number {
    return this.#far.size
  }

  /** Records and bytes held for `publisher`. */
  usage(publisher: string): { readonly records: number; readonly bytes: number } {
    const u = this.#usage.get(publisher)
    return { records: u?.records ?? 0, bytes: u?.bytes ?? 0 }
  }

  /** The live record under `key`. */
  get(key: string, now: number): R | undefined {
    const e = this.#entries.get(key)
    return e !== undefined && e.expiresAt > now ? e.record : undefined
  }

  /** When the record under `key` is dropped here. */
  expiryOf(key: string): number | undefined {
    return this.#entries.get(key)?.expiresAt
  }

  /** Live records held as one of their keys' closest peers: the ones to re-replicate. */
  nearRecords(now: number): Array<R> {
    const out: Array<R> = []
    for (const e of this.#entries.values()) if (e.near && e.expiresAt > now) out.push(e.record)
    return out
  }

  /**
   * Stores `record` (of `bytes` bytes) under its key, replacing what is there (the caller has
   * judged it). `near`: this holder is among the key's closest peers. Refused (`quota`) when
   * its publisher is over its quota, or the store is full of the records of publishers
   * holding no more than this one.
   */
  put(record: R, bytes: number, near: boolean, now: number): PutResult {
    const l = this.limits
    const old = this.#entries.get(record.key)
    const held = this.usage(record.publisher)
    const replacing = old !== undefined && old.record.publisher === record.publisher
    const records = held.records + (replacing ? 0 : 1)
    const publisherBytes = held.bytes - (replacing ? old.bytes : 0) + bytes
    if (records > l.maxRecordsPerPublisher || publisherBytes > l.maxBytesPerPublisher) return "quota"
    const keepNear = near || old?.near === true
    if (!keepNear && l.farCacheSize <= 0) return "quota"
    if (old !== undefined) this.#remove(record.key)
    // make room: the heaviest other publisher gives up its oldest record
    while (this.#entries.size + 1 > l.maxRecords || this.#bytes + bytes > l.maxBytes) {
      const victim = this.#heaviestOtherThan(record.publisher, publisherBytes)
      if (victim === undefined) {
        if (old !== undefined) this.#insert(old.record, old.bytes, old.near, old.expiresAt)
        return "quota"
      }
      this.#remove(victim)
    }
    if (!keepNear) {
      while (this.#far.size >= l.farCacheSize) this.#remove(this.#far.values().next().value!)
    }
    // from the signed time too: copies re-replicated between holders do not live on for ever
    this.#insert(record, bytes, keepNear, Math.min(record.expiresAt, record.ts + l.maxTtl, now + l.maxTtl))
    return "ok"
  }

  delete(key: string): boolean {
    if (!this.#entries.has(key)) return false
    this.#remove(key)
    return true
  }

  /** Drops expired records; returns how many. */
  sweep(now: number): number {
    let n = 0
    for (const [key, e] of this.#entries) {
      if (e.expiresAt <= now) {
        this.#remove(key)
        n++
      }
    }
    return n
  }

  /** The oldest key of the publisher (other than `publisher`) holding the most bytes, when more than `than`. */
  #heaviestOtherThan(publisher: string, than: number): string | undefined {
    let heaviest: Usage | undefined
    for (const [p, u] of this.#usage) {
      if (p !== publisher && u.records > 0 && (heaviest === undefined || u.bytes > heaviest.bytes)) heaviest = u
    }
    if (heaviest === undefined || heaviest.bytes <= than) return undefined
    return heaviest.keys.values().next().value
  }

  #insert(record: R, bytes: number, near: boolean, expiresAt: number) {
    this.#entries.set(record.key, { record, bytes, near, expiresAt })
    let u = this.#usage.get(record.publisher)
    if (u === undefined) this.#usage.set(record.publisher, u = { records: 0, bytes: 0, keys: new Set() })
    u.records++
    u.bytes += bytes
    u.keys.add(record.key)
    this.#bytes += bytes
    if (!near) this.#far.add(record.key)
  }

  #remove(key: string) {
    const e = this.#entries.get(key)
    if (e === undefined) return
    this.#entries.delete(key)
    this.#far.delete(key)
    this.#bytes -= e.bytes
    const u = this.#usage.get(e.record.publisher)
    if (u === undefined) return
    u.records--
    u.bytes -= e.bytes
    u.keys.delete(key)
    if (u.records <= 0) this.#usage.delete(e.record.publisher)
  }
}

export interface LeaseLimits {
  /** How long a watch lasts unless renewed. */
  readonly lease: number
  readonly maxPerPeer: number
  readonly maxTotal: number
}

/** Watches of keys by peers, as leases. */
export class WatchLeases<P extends string> {
  readonly #byKey = new Map<string, Map<P, number>>()
  readonly #perPeer = new Map<P, number>()
  #total = 0
  readonly limits: LeaseLimits

  constructor(limits: LeaseLimits) {
    this.limits = limits
  }

  get size(): number {
    return this.#total
  }

  /** Starts or renews `peer`'s watch of `key`; false when a cap refuses a new one. */
  watch(key: string, peer: P, now: number): boolean {
    const until = now + this.limits.lease
    const watchers = this.#byKey.get(key)
    if (watchers?.has(peer)) {
      watchers.set(peer, until)
      return true
    }
    if (this.#total >= this.limits.maxTotal) this.sweep(now)
    const count = this.#perPeer.get(peer) ?? 0
    if (count >= this.limits.maxPerPeer || this.#total >= this.limits.maxTotal) return false
    if (watchers === undefined) this.#byKey.set(key, new Map([[peer, until]]))
    else watchers.set(peer, until)
    this.#perPeer.set(peer, count + 1)
    this.#total++
    return true
  }

  unwatch(key: string, peer: P): void {
    const watchers = this.#byKey.get(key)
    if (watchers === undefined || !watchers.delete(peer)) return
    if (watchers.size === 0) this.#byKey.delete(key)
    const count = (this.#perPeer.get(peer) ?? 1) - 1
    if (count <= 0) this.#perPeer.delete(peer)
    else this.#perPeer.set(peer, count)
    this.#total--
  }

  /** The peers whose watch of `key` is current. */
  watchers(key: string, now: number): Array<P> {
    const out: Array<P> = []
    for (const [peer, until] of this.#byKey.get(key) ?? []) if (until > now) out.push(peer)
    return out
  }

  /** Ends the leases that ran out. */
  sweep(now: number): void {
    for (const [key, watchers] of this.#byKey) {
      for (const [peer, until] of watchers) if (until <= now) this.unwatch(key, peer)
    }
  }
}
