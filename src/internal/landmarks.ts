/**
 * Landmarks: the few peers whose presence every peer hears (pure rules and a bounded table).
 *
 * Presence from every peer costs each peer O(N) messages a second; presence from about
 * `2 * sqrt(N)` landmarks, each every `presenceInterval * max(1, landmarks / 4)`, costs each
 * peer about `4 * (degree - 1) / presenceInterval` messages a second whatever N is (1.6 per
 * second with the defaults and three links). Every peer still learns a route to every
 * landmark (the first arrival of its presence, as before), and every other peer registers with
 * its home landmark (the landmark XOR-closest to its id) once per interval: the registration is
 * a routed message, so every hop on its way learns the route back. A message to a peer no hop
 * knows a route to goes towards the target's home landmark, and leaves that way for the target
 * at the first hop that knows the target's route (at the latest, at the home landmark).
 *
 * Who is a landmark: a peer that estimates the network at `n` peers is one when the low 32 bits
 * of its id, as a fraction, are below `landmarkShare(n)` (ids derive from keys, so they are
 * spread evenly). Between `share` and `1.5 * share` a peer stays what it was, so a changing
 * estimate does not make it flip. The estimate comes from how close the XOR-closest known ids
 * are (`estimateNetworkSize`).
 *
 * @since 2.0.0
 */
import { BoundedMap } from "./boundedMap.ts"

/** Most landmarks a peer keeps track of (beyond this the least recently heard are forgotten). */
export const LANDMARKS_LIMIT = 2048

/** A landmark's presence within this many of its intervals keeps it live. */
export const LANDMARK_GRACE = 3

/** The fraction of peers that are landmarks in a network of `n` peers: all of up to 4, then 2 / sqrt(n). */
export const landmarkShare = (n: number): number => (n <= 4 ? 1 : Math.min(1, 2 / Math.sqrt(n)))

/** The expected number of landmarks among `n` peers. */
export const expectedLandmarks = (n: number): number => Math.max(1, n * landmarkShare(n))

/**
 * How often a landmark sends its presence in a network of `n` peers: `presenceInterval` while
 * there are at most 4 landmarks, then in proportion to their number (so the presence a peer
 * hears and forwards stays about 4 per `presenceInterval`).
 */
export const beaconInterval = (presenceInterval: number, n: number): number =>
  Math.round(presenceInterval * Math.max(1, expectedLandmarks(n) / 4))

/** The low 32 bits of a 40-hex id as a fraction in [0, 1). */
export const rankOf = (id: string): number => parseInt(id.slice(32, 40), 16) / 2 ** 32

/** Whether `self` is a landmark in a network of about `n` peers (`was`: whether it is one now). */
export const isLandmark = (self: string, n: number, was: boolean): boolean => {
  const share = landmarkShare(n)
  const rank = rankOf(self)
  return rank < share || (was && rank < 1.5 * share)
}

const clampInterval = (interval: number) => Math.min(3_600_000, Math.max(1000, interval))

const xorDistance = (a: string, b: string): bigint => BigInt(`0x${a}`) ^ BigInt(`0x${b}`)
const SPACE = 2n ** 160n

/**
 * The network size that the ids `self` knows suggest: with the k XOR-closest known ids within a
 * distance d of `self`, about `k * 2^160 / d` peers (k up to 8). The peer itself counts; with no
 * other id known, 1.
 */
export const estimateNetworkSize = (self: string, known: Iterable<string>): number => {
  const distances: Array<bigint> = []
  for (const id of known) if (id !== self) distances.push(xorDistance(self, id))
  if (distances.length === 0) return 1
  distances.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  const k = Math.min(8, distances.length)
  const d = distances[k - 1]!
  if (d === 0n) return distances.length + 1
  const estimate = Number((BigInt(k) * SPACE) / d)
  // never fewer peers than are known
  return Math.max(distances.length + 1, estimate)
}

export interface LandmarkInfo {
  /** When its presence last arrived. */
  readonly at: number
  /** The interval it said it sends its presence at. */
  readonly interval: number
  /** Only a neighbour's word so far (`hearsay`): live for one interval, not its own presence. */
  readonly provisional?: boolean
}

/** Intervals a landmark stays live: `LANDMARK_GRACE` once heard, one while only hearsay. */
const graceOf = (e: LandmarkInfo): number => (e.provisional === true ? 1 : LANDMARK_GRACE)

/** Landmarks heard over the mesh, bounded; each live while its presence keeps coming. */
export class LandmarkTable {
  readonly #entries = new BoundedMap<string, LandmarkInfo>(LANDMARKS_LIMIT)

  /** Notes a landmark's presence (interval clamped to [1 s, 1 h]: it comes from the network). */
  heard(id: string, at: number, interval: number): void {
    this.#entries.set(id, { at, interval: clampInterval(interval) })
  }

  /**
   * Notes a landmark a neighbour says it hears: taken only for one not known yet (or known
   * only so), live for one interval. True when it was taken.
   */
  hearsay(id: string, at: number, interval: number): boolean {
    const known = this.#entries.get(id)
    if (known !== undefined && known.provisional !== true && at - known.at <= LANDMARK_GRACE * known.interval) return false
    this.#entries.set(id, { at, interval: clampInterval(interval), provisional: true })
    return true
  }

  forget(id: string): void {
    this.#entries.delete(id)
  }

  /** Whether `id`'s presence is overdue (undefined: never heard as a landmark). */
  overdue(id: string, now: number): boolean | undefined {
    const e = this.#entries.get(id)
    return e === undefined || e.provisional === true ? undefined : now - e.at > LANDMARK_GRACE * e.interval
  }

  /** The live landmarks heard themselves (not hearsay), with their intervals, at most `limit`, freshest first. */
  handoff(now: number, limit: number): Array<readonly [string, number]> {
    const out: Array<readonly [string, number, number]> = []
    for (const [id, e] of this.#entries) {
      if (e.provisional !== true && now - e.at <= LANDMARK_GRACE * e.interval) out.push([id, e.interval, e.at])
    }
    return out.sort((a, b) => b[2] - a[2]).slice(0, limit).map(([id, interval]) => [id, interval] as const)
  }

  /** The live landmarks. */
  live(now: number): Array<string> {
    const out: Array<string> = []
    for (const [id, e] of this.#entries) if (now - e.at <= graceOf(e) * e.interval) out.push(id)
    return out
  }

  /** The live landmark XOR-closest to `target` (not `target` itself), if any. */
  home(target: string, now: number): string | undefined {
    let best: string | undefined
    let bestDistance = 0n
    for (const [id, e] of this.#entries) {
      if (id === target || now - e.at > graceOf(e) * e.interval) continue
      const d = xorDistance(id, target)
      if (best === undefined || d < bestDistance) {
        best = id
        bestDistance = d
      }
    }
    return best
  }

  /** The longest interval among live landmarks (0 when none). */
  longestInterval(now: number): number {
    let longest = 0
    for (const [, e] of this.#entries) if (now - e.at <= graceOf(e) * e.interval) longest = Math.max(longest, e.interval)
    return longest
  }

  get size(): number {
    return this.#entries.size
  }
}
