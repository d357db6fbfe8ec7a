/**
 * What a Router hop knows about where peers are, and how it uses it (see `internal/nextHop.ts`
 * for the choice itself and `internal/landmarks.ts` for the scheme):
 *
 * - reverse-path routes from broadcasts: the neighbour an origin's latest broadcast first came
 *   through (arrival order decides, not the unsigned `hops` field, so a neighbour cannot capture
 *   routes by lying about its distance; one broadcast's first arrivals form a tree, so they make
 *   no loops);
 * - reverse-path routes from routed messages (registrations, acks, any direct message): the
 *   neighbour a verified routed message first came through, kept only where no fresh route is
 *   known (a broadcast's tree is never overwritten by them);
 * - landmarks, from their presence (`{ l: interval }`): their live set gives every target a
 *   home landmark to head for when no route to the target itself is known.
 *
 * Routes stay fresh for `LANDMARK_GRACE` times the longest landmark interval heard (at least
 * `repairWindow`): landmarks and registrations renew them at that pace.
 *
 * @since 2.0.0
 */
import { BoundedMap } from "../../internal/boundedMap.ts"
import { LANDMARK_GRACE, LandmarkTable } from "../../internal/landmarks.ts"
import { type HopChoice, nextHops } from "../../internal/nextHop.ts"
import type { DirectFrame } from "../../schema/PeerFrames.ts"
import type { PeerId } from "../../schema/PeerId.ts"
import type { Delivered } from "../../services/Gossip.ts"

/** Most reverse-path routes remembered (one per origin heard), least recently learned forgotten first. */
export const ROUTES_LIMIT = 8192

interface Route {
  readonly via: PeerId
  readonly at: number
}

export interface RoutingOptions {
  readonly self: PeerId
  readonly repairWindow: number
  readonly xorRouting: () => boolean
}

export const makeRouting = (options: RoutingOptions) => {
  const { self } = options
  const routes = new BoundedMap<PeerId, Route>(ROUTES_LIMIT)
  const landmarks = new LandmarkTable()

  // the longest landmark interval changes slowly: looked up at most once a second, not per frame
  let freshness = { at: Number.NEGATIVE_INFINITY, ms: options.repairWindow }
  const freshFor = (now: number) => {
    if (now - freshness.at >= 1000) {
      freshness = { at: now, ms: Math.max(options.repairWindow, LANDMARK_GRACE * landmarks.longestInterval(now)) }
    }
    return freshness.ms
  }
  const fresh = (to: PeerId, now: number): PeerId | undefined => {
    const r = routes.get(to)
    return r !== undefined && now - r.at < freshFor(now) ? r.via : undefined
  }

  return {
    /** A broadcast's first arrival here: its origin's route, and a landmark's presence. */
    fromBroadcast: (m: Delivered, now: number): void => {
      if (m.via === undefined || m.origin === self) return
      routes.set(m.origin, { via: m.via, at: now })
      if (m.kind === "presence" && typeof m.content === "object" && m.content !== null && !Array.isArray(m.content)) {
        const interval = (m.content as { readonly l?: unknown }).l
        if (typeof interval === "number" && Number.isFinite(interval)) landmarks.heard(m.origin, now, interval)
      }
    },

    /**
     * A new neighbour's list of the landmarks it hears: each one not known yet becomes a
     * provisional landmark (for one interval, until its own presence comes), reached through
     * that neighbour where no fresh route is known.
     */
    fromHandoff: (via: PeerId, entries: ReadonlyArray<readonly [PeerId, number]>, now: number): void => {
      for (const [id, interval] of entries) {
        if (id === self || id === via || !landmarks.hearsay(id, now, interval)) continue
        if (fresh(id, now) === undefined) routes.set(id, { via, at: now })
      }
    },

    /** The landmarks to tell a new neighbour about (heard themselves, freshest first). */
    handoff: (now: number, limit: number): ReadonlyArray<readonly [string, number]> => landmarks.handoff(now, limit),

    /**
     * A verified routed message's first arrival here from `via`: kept where no fresh route over
     * a current neighbour is known.
     */
    fromRouted: (origin: PeerId, via: PeerId, now: number, neighbours: ReadonlyArray<PeerId>): void => {
      if (origin === self || origin === via) return
      const known = fresh(origin, now)
      if (known !== undefined && neighbours.includes(known)) return
      routes.set(origin, { via, at: now })
    },

    /**
     * The next hops for `frame` from here, best first, with the home landmark the copy heads
     * for (set by the first hop that chose it, kept by the others).
     */
    choices: (
      frame: DirectFrame,
      neighbours: ReadonlyArray<PeerId>,
      from: PeerId | undefined,
      avoid: PeerId | undefined,
      now: number
    ): { readonly hops: ReadonlyArray<HopChoice>; readonly home: PeerId | undefined; readonly homeRoute: PeerId | undefined } => {
      const ring = frame.ring === true
      const route = frame.flood || ring ? undefined : fresh(frame.to, now)
      let home: PeerId | undefined
      let homeRoute: PeerId | undefined
      if (!frame.flood && !ring && route === undefined) {
        home = frame.home ?? (landmarks.home(frame.to, now) as PeerId | undefined)
        if (home === self) home = undefined
        homeRoute = home === undefined ? undefined : neighbours.includes(home) ? home : fresh(home, now)
      }
      const hops = nextHops({
        self,
        to: frame.to,
        neighbours,
        flood: frame.flood,
        ring,
        xorRouting: options.xorRouting(),
        from,
        avoid,
        route,
        homeRoute
      })
      return { hops, home: homeRoute === undefined ? undefined : home, homeRoute }
    },

    /** The live landmark XOR-closest to `target`. */
    homeOf: (target: PeerId, now: number): PeerId | undefined => landmarks.home(target, now) as PeerId | undefined,

    /** Whether `id` is a landmark whose presence is overdue (undefined: never heard as one). */
    landmarkOverdue: (id: PeerId, now: number): boolean | undefined => landmarks.overdue(id, now),

    liveLandmarks: (now: number): ReadonlyArray<PeerId> => landmarks.live(now) as Array<PeerId>,

    /** Routes known (for stats). */
    get size(): number {
      return routes.size
    }
  }
}

export type Routing = ReturnType<typeof makeRouting>
