/**
 * A `Map` with a size cap: adding a key to a full map evicts the least recently set (or,
 * with `touch`, used) entry. For every map whose keys a remote peer chooses (peer ids,
 * message ids, routes, keys, cooldowns): a flood of made-up ids evicts old entries instead
 * of growing memory.
 *
 * @since 2.0.0
 */
export class BoundedMap<K, V> {
  readonly #map = new Map<K, V>()
  readonly maxEntries: number
  /** Called with each entry evicted to make room (not for `delete`). */
  readonly #onEvict: ((key: K, value: V) => void) | undefined

  constructor(maxEntries: number, onEvict?: (key: K, value: V) => void) {
    this.maxEntries = Number.isFinite(maxEntries) ? Math.max(1, Math.floor(maxEntries)) : 1
    this.#onEvict = onEvict
  }

  get size(): number {
    return this.#map.size
  }

  has(key: K): boolean {
    return this.#map.has(key)
  }

  get(key: K): V | undefined {
    return this.#map.get(key)
  }

  /** Like `get`, and marks the entry as recently used (it is evicted last). */
  touch(key: K): V | undefined {
    const value = this.#map.get(key)
    if (value === undefined && !this.#map.has(key)) return undefined
    this.#map.delete(key)
    this.#map.set(key, value as V)
    return value
  }

  /** Sets `key` (as the most recent entry), evicting the oldest entries beyond the cap. */
  set(key: K, value: V): this {
    this.#map.delete(key)
    this.#map.set(key, value)
    while (this.#map.size > this.maxEntries) {
      const oldest = this.#map.entries().next().value!
      this.#map.delete(oldest[0])
      this.#onEvict?.(oldest[0], oldest[1])
    }
    return this
  }

  delete(key: K): boolean {
    return this.#map.delete(key)
  }

  clear(): void {
    this.#map.clear()
  }

  keys(): MapIterator<K> {
    return this.#map.keys()
  }

  values(): MapIterator<V> {
    return this.#map.values()
  }

  entries(): MapIterator<[K, V]> {
    return this.#map.entries()
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.#map.entries()
  }
}
