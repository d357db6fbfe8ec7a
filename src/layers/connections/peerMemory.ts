/**
 * What a peer's `Connections` layer remembers about other peers beyond their links, each map
 * bounded (the least recently touched forgotten first): when each may be dialled again
 * (cooldowns after failures, with backoff), who is banned for exceeding its limits, whom the
 * signaling server verified, and the degrees peers told us.
 *
 * @since 2.0.0
 */
import { Clock, Effect, Random } from "effect"
import { backoffDelay } from "../../internal/backoff.ts"
import { BoundedMap } from "../../internal/boundedMap.ts"
import type { PeerId } from "../../schema/PeerId.ts"

/** Most peers whose cooldowns, bans, verification and degree are remembered (least recent forgotten). */
export const PEER_STATE_LIMIT = 4096

/**
 * A peer that refused us is full, and stays so for a while: asking again soon only costs
 * both sides (ring neighbours and first long links are never refused, so this only slows
 * the optional links).
 */
export const REFUSED_COOLDOWN_MS = 20_000

interface Cooldown {
  until: number
  attempts: number
}

export const makePeerMemory = () => {
  const cooldowns = new BoundedMap<PeerId, Cooldown>(PEER_STATE_LIMIT)
  /** Neighbours disconnected for exceeding their limits: refused until then. */
  const banned = new BoundedMap<PeerId, number>(PEER_STATE_LIMIT)
  const signalingVerified = new BoundedMap<PeerId, boolean>(PEER_STATE_LIMIT)
  const degrees = new BoundedMap<PeerId, number>(PEER_STATE_LIMIT)

  /** After a failed or ended link: not dialled again for a backoff that grows with each failure in a row (at least `minMs`, jittered). */
  const coolDown = Effect.fnUntraced(function*(peerId: PeerId, minMs = 0) {
    const now = yield* Clock.currentTimeMillis
    const r = yield* Random.next
    const previous = cooldowns.get(peerId)
    const attempts = (previous?.attempts ?? 0) + 1
    const wait = Math.max(backoffDelay(attempts - 1, { baseMs: 1000, maxMs: 30_000 }, () => r), minMs * (0.75 + r / 2))
    cooldowns.set(peerId, { attempts, until: now + wait })
  })

  /** Until when `peerId` is not dialled (its cooldown or its ban, the later), if at all. */
  const cooldownUntil = (peerId: PeerId): number | undefined => {
    const until = Math.max(cooldowns.get(peerId)?.until ?? 0, banned.get(peerId) ?? 0)
    return until === 0 ? undefined : until
  }

  return { cooldowns, banned, signalingVerified, degrees, coolDown, cooldownUntil }
}
