/**
 * Where a direct message goes next from this hop: a pure choice over the neighbours, tried in
 * order by the Router (a send that fails falls through to the next choice). In order:
 * 1. the target itself, if it is a neighbour;
 * 2. the reverse-path route to the target (the neighbour its latest broadcast, or a routed
 *    message of its, first came through), unless the copy is already flooding or going up the ring;
 * 2b. with no route to the target: the route towards its home landmark (see
 *    `internal/landmarks.ts`), on the same terms;
 * 3. greedy XOR: the neighbour XOR-closest to the target, if strictly closer than this hop
 *    (the progress check rules out loops);
 * 4. up the ring: the neighbour with the least clockwise distance to the target, if less
 *    than this hop's (the copy is then marked `ring` for the rest of its way);
 * then, if none of these worked, flooding.
 *
 * `from` (the neighbour the copy came from) and `avoid` (a next hop that already failed this
 * message: a retransmission after a missed ack) are never chosen, except that the target
 * itself always is.
 *
 * @since 2.0.0
 */
import { distance, type PeerId } from "../schema/PeerId.ts"
import { clockwiseDistance } from "./ring.ts"

export interface HopChoice {
  readonly peer: PeerId
  /** The copy goes up the ring from here on. */
  readonly ring: boolean
}

export interface NextHopInput {
  readonly self: PeerId
  readonly to: PeerId
  readonly neighbours: ReadonlyArray<PeerId>
  readonly flood: boolean
  readonly ring: boolean
  readonly xorRouting: boolean
  readonly from?: PeerId | undefined
  readonly avoid?: PeerId | undefined
  /** The reverse-path route to `to`, if a fresh one is known. */
  readonly route?: PeerId | undefined
  /** The neighbour towards `to`'s home landmark (the landmark itself when linked), if known. */
  readonly homeRoute?: PeerId | undefined
}

/** The neighbour with the least `measure`, if it is less than `self`'s own (progress). */
const closer = (self: PeerId, neighbours: ReadonlyArray<PeerId>, measure: (id: PeerId) => bigint): PeerId | undefined => {
  let best: PeerId | undefined
  let bestDistance = measure(self)
  for (const n of neighbours) {
    const d = measure(n)
    if (d < bestDistance) {
      best = n
      bestDistance = d
    }
  }
  return best
}

/** The next hops to try, best first (possibly none: then the message floods). */
export const nextHops = (input: NextHopInput): ReadonlyArray<HopChoice> => {
  const { self, to, neighbours, from, avoid } = input
  const choices: Array<HopChoice> = []
  const add = (peer: PeerId | undefined, ring: boolean) => {
    if (peer !== undefined && !choices.some((c) => c.peer === peer)) choices.push({ peer, ring })
  }
  if (neighbours.includes(to)) add(to, input.ring)
  if (input.flood) return choices
  const usable = neighbours.filter((n) => n !== from && n !== avoid)
  if (!input.ring && input.route !== undefined && usable.includes(input.route)) add(input.route, false)
  if (!input.ring && input.homeRoute !== undefined && usable.includes(input.homeRoute)) add(input.homeRoute, false)
  if (!input.xorRouting) return choices
  if (!input.ring) add(closer(self, usable, (n) => distance(n, to)), false)
  // no XOR progress: up the ring for the rest of the way (mixing the two measures could lead
  // a copy in circles); ring links make sure some neighbour is closer this way. `from` may be
  // that neighbour (where the XOR leg stalls, the way up the ring may lead back), so only
  // `avoid` is left out here
  add(closer(self, neighbours.filter((n) => n !== avoid), (n) => clockwiseDistance(n, to)), true)
  return choices
}
