/**
 * A connection's inbound frames, in order: liveness, counters and the rate limit as each
 * arrives, then decoding (size was bounded by the socket's `maxPayload`, depth and shape by
 * `decodeClientFrame`, before anything else reads the frame) and one handler per type. Bad
 * frames get an `error` reply; the connection stays.
 *
 * Steps that touch the `Registry` run as short fibers with the server's context. With the
 * in-memory registry those finish at once; a step that has to wait (identity verification,
 * an async registry backend) holds the connection's later frames in a queue until it is
 * done, so nothing overtakes it.
 *
 * @since 2.0.0
 */
import { Effect, Exit } from "effect"
import { decodeClientFrame, isFrameProblem } from "../schema/Signaling.ts"
import { announce } from "./Announce.ts"
import { awaitAnnounce, type Connection, OPEN, replyError, report, reportError } from "./Connection.ts"
import { leaveNetwork } from "./Membership.ts"
import { relay } from "./Relay.ts"
import { pongFrame } from "./ServerFrames.ts"

/**
 * Runs one step with the server's context. Done at once (the in-memory registry): nothing
 * more. Otherwise the connection's later frames wait in its queue until the step ends.
 */
export const run = (c: Connection, effect: Effect.Effect<void>): void => {
  const fiber = Effect.runForkWith(c.hub.context)(effect)
  const exit = fiber.pollUnsafe()
  if (exit !== undefined) {
    if (Exit.isFailure(exit)) report(c, exit.cause)
    return
  }
  if (c.done) {
    // finalizing: nothing waits behind it
    fiber.addObserver((exit) => {
      if (Exit.isFailure(exit)) report(c, exit.cause)
    })
    return
  }
  c.inflight = fiber
  fiber.addObserver((exit) => {
    if (c.inflight !== fiber) return // interrupted by the close
    c.inflight = undefined
    if (Exit.isFailure(exit)) report(c, exit.cause)
    drain(c)
  })
}

/** One frame as it arrives: liveness, counters and the rate limit, then in order. */
export const receive = (c: Connection, text: string): void => {
  if (c.done || c.ws.readyState !== OPEN) return
  const stats = c.hub.stats
  const ts = Date.now()
  c.lastSeen = ts
  stats.messagesReceived++
  if (!c.bucket.take(ts)) {
    stats.rateLimited++
    if (!c.abuse.take(ts)) return c.refuse("Rate limit exceeded", "rate-limit")
    if (c.refused++ % 100 === 0) replyError(c, "rate-limited", "Too many messages; slow down", ts)
    return
  }
  if (c.inflight !== undefined || !c.admitted || c.queue !== undefined) (c.queue ??= []).push(text)
  else handleSafely(c, text)
}

/** Handles queued frames until one has to wait. */
const drain = (c: Connection): void => {
  const queue = c.queue
  if (queue === undefined) return
  while (queue.length > 0 && c.inflight === undefined && !c.done && c.ws.readyState === OPEN) {
    handleSafely(c, queue.shift()!)
  }
  if (queue.length === 0 && c.queue === queue) c.queue = undefined
}

const handleSafely = (c: Connection, text: string): void => {
  try {
    handle(c, text)
  } catch (error) {
    reportError(c, error)
  }
}

const handle = (c: Connection, text: string): void => {
  const ts = Date.now()
  const message = decodeClientFrame(text)
  if (isFrameProblem(message)) return replyError(c, message.code, message.message, ts)
  switch (message.type) {
    case "announce":
      return run(c, announce(c, message, ts))
    case "offer":
    case "answer":
    case "ice-candidate":
      return run(c, relay(c, message, ts))
    case "goodbye": {
      const reason = typeof message.data?.reason === "string" ? message.data.reason.slice(0, 256) : "goodbye"
      c.hub.hooks.peerGoodbye?.({ peerId: c.peerId, reason })
      if (c.network !== undefined) {
        run(c, leaveNetwork(c, reason))
        // a connection that said goodbye announces again or goes
        awaitAnnounce(c, ts)
      }
      return
    }
    case "ping":
      return c.send(pongFrame(ts))
    case "cleanup":
      return
  }
}
