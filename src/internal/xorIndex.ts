/**
 * An ordered index of peer ids that answers "the k ids XOR-closest to a target" in
 * O(log N + k log k) instead of scanning every member.
 *
 * Ids sharing the longest prefix with the target are XOR-closer than any id that does not,
 * and all ids sharing a given prefix form one contiguous range of the sorted order. So we
 * search for the longest prefix whose range still holds at least k ids, then sort only that
 * range by distance.
 *
 * @since 2.0.0
 */
import { toBigInt } from "../schema/PeerId.ts"

const BITS = 160
const ALL_ONES = (1n << BigInt(BITS)) - 1n

export class XorIndex<Id extends string = string> {
  #keys: Array<bigint> = []
  #ids = new Map<bigint, Id>()

  get size(): number {
    return this.#keys.length
  }

  has(id: Id): boolean {
    return this.#ids.has(toBigInt(id))
  }

  /** Adds `id`; false when it was already present. */
  add(id: Id): boolean {
    const key = toBigInt(id)
    if (this.#ids.has(key)) return false
    this.#ids.set(key, id)
    this.#keys.splice(this.#lowerBound(key), 0, key)
    return true
  }

  /** Removes `id`; false when it was absent. */
  remove(id: Id): boolean {
    const key = toBigInt(id)
    if (!this.#ids.delete(key)) return false
    this.#keys.splice(this.#lowerBound(key), 1)
    return true
  }

  /** Every id, in ascending numeric order. */
  values(): Array<Id> {
    return this.#keys.map((k) => this.#ids.get(k)!)
  }

  /** The id at a position of the sorted order (for uniform random picks). */
  at(index: number): Id | undefined {
    const key = this.#keys[index]
    return key === undefined ? undefined : this.#ids.get(key)
  }

  /**
   * The ids just below and just above `id` in numeric order, wrapping around (a ring of all
   * members); `id` itself need not be a member. Both are `undefined` when no other id exists,
   * and they are the same id when exactly one other exists.
   */
  ringNeighbours(id: string): { readonly pred: Id | undefined; readonly succ: Id | undefined } {
    const key = toBigInt(id)
    const n = this.#keys.length
    const lo = this.#lowerBound(key)
    const hi = this.#upperBound(key)
    const others = n - (hi - lo)
    if (others === 0) return { pred: undefined, succ: undefined }
    const pred = this.#keys[(lo - 1 + n) % n]!
    const succ = this.#keys[hi % n]!
    return { pred: this.#ids.get(pred)!, succ: this.#ids.get(succ)! }
  }

  /** The `k` ids closest to `target` by XOR distance, closest first; `target` itself is excluded. */
  closest(target: string, k: number): Array<Id> {
    if (k <= 0 || this.#keys.length === 0) return []
    const t = toBigInt(target)
    const want = k + (this.#ids.has(t) ? 1 : 0)
    // longest prefix length p whose range [lo, hi) still holds >= want ids
    let lo = 0
    let hi = this.#keys.length
    let low = 0
    let high = BITS
    while (low < high) {
      const p = (low + high + 1) >> 1
      const [a, b] = this.#prefixRange(t, p)
      if (b - a >= want) {
        low = p
        lo = a
        hi = b
      } else {
        high = p - 1
      }
    }
    if (low === 0) {
      lo = 0
      hi = this.#keys.length
    }
    const range = this.#keys.slice(lo, hi).filter((key) => key !== t)
    range.sort((x, y) => {
      const dx = x ^ t
      const dy = y ^ t
      return dx < dy ? -1 : dx > dy ? 1 : 0
    })
    return range.slice(0, k).map((key) => this.#ids.get(key)!)
  }

  #prefixRange(t: bigint, prefixBits: number): readonly [number, number] {
    const mask = prefixBits >= BITS ? 0n : ALL_ONES >> BigInt(prefixBits)
    const start = t & ~mask & ALL_ONES
    const end = t | mask
    return [this.#lowerBound(start), this.#upperBound(end)]
  }

  #lowerBound(key: bigint): number {
    let lo = 0
    let hi = this.#keys.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (this.#keys[mid]! < key) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  #upperBound(key: bigint): number {
    let lo = 0
    let hi = this.#keys.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (this.#keys[mid]! <= key) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}
