/**
 * A hostile DHT peer for tests: a node of the memory network started with its own DHT off,
 * that speaks the DHT protocol by hand through its Router (`Router.send(to, rpc, "dht",
 * { ack: false })`), with records it signs with its own Identity. It answers `find` with no
 * nodes (and, when told to, its own forged record), and lets a test send requests and wait
 * for their answers (a barrier: the victim has handled the request).
 */
import { Deferred, Effect, PubSub, type Schema, type Scope } from "effect"
import { recordBytes } from "../../src/internal/dhtRecords.ts"
import { makeNonce } from "../../src/internal/identityProof.ts"
import type { DhtRecord } from "../../src/schema/DhtMessages.ts"
import type { PeerId } from "../../src/schema/PeerId.ts"
import { Identity } from "../../src/services/Identity.ts"
import { Router } from "../../src/services/Router.ts"
import type { TestNode } from "../support/memoryMesh.ts"

type Json = Schema.Json
type JsonObject = { readonly [k: string]: Json }

/** A DHT record signed by `signer` as its publisher: version 1, a minute to live, unless `fields` say otherwise. */
export const signRecord = (
  signer: { readonly peerId: string; readonly publicKey: string; readonly sign: (bytes: Uint8Array<ArrayBuffer>) => Effect.Effect<string> },
  fields: Partial<DhtRecord> & { readonly key: string; readonly value: Schema.Json }
) =>
  Effect.gen(function*() {
    const ts = fields.ts ?? Date.now()
    const header = {
      publisher: signer.peerId,
      publisherKey: signer.publicKey,
      version: 1,
      ts,
      expiresAt: ts + 60_000,
      writable: false,
      deleted: false,
      ...fields
    }
    return { ...header, sig: yield* signer.sign(recordBytes(header)) } as DhtRecord
  })

export interface Hostile {
  readonly node: TestNode
  readonly peerId: PeerId
  /** Sends any content as a DHT message, best effort. */
  readonly send: (to: PeerId, content: Json) => Effect.Effect<void>
  /** Sends a request with a fresh rid (again every 3 s) and waits, at most `timeoutMs`, for the answer from anyone. */
  readonly request: (to: PeerId, rpc: JsonObject, timeoutMs?: number) => Effect.Effect<{ from: PeerId; answer: JsonObject } | undefined>
  /** A record signed by the hostile peer. */
  readonly sign: (fields: Partial<Omit<DhtRecord, "sig">> & { readonly key: string; readonly value: Json }) => Effect.Effect<DhtRecord>
  /** Records its `find` answers carry, by key. */
  readonly forged: Map<string, DhtRecord>
  /** Every DHT request others sent it, in order. */
  readonly seen: Array<{ readonly from: PeerId; readonly content: JsonObject }>
  /** Called on each request before the default answer; return true to suppress that answer. */
  onRequest: ((from: PeerId, content: JsonObject) => Effect.Effect<boolean>) | undefined
}

export const startHostile = Effect.fnUntraced(function*(node: TestNode): Effect.fn.Return<Hostile, never, Scope.Scope> {
  const identity = yield* node.run(Identity.use((i) => Effect.succeed(i)))
  const router = yield* node.run(Router.use((r) => Effect.succeed(r)))
  const waiting = new Map<string, Deferred.Deferred<{ from: PeerId; answer: JsonObject }>>()
  const forged = new Map<string, DhtRecord>()
  const seen: Array<{ from: PeerId; content: JsonObject }> = []
  const send = (to: PeerId, content: Json) => router.send(to, content, "dht", { ack: false }).pipe(Effect.ignore)
  const hostile: Hostile = {
    node,
    peerId: identity.peerId,
    send,
    forged,
    seen,
    onRequest: undefined,
    request: (to, rpc, timeoutMs = 20_000) =>
      Effect.gen(function*() {
        const rid = makeNonce()
        const answer = yield* Deferred.make<{ from: PeerId; answer: JsonObject }>()
        waiting.set(rid, answer)
        // requests travel unacknowledged, as the DHT's own: sent again (same rid) until answered
        const resend = Effect.gen(function*() {
          while (true) {
            yield* send(to, { ...rpc, rid })
            yield* Effect.sleep(3000)
          }
        })
        return yield* Deferred.await(answer).pipe(
          Effect.raceFirst(resend),
          Effect.timeoutOrElse({ duration: timeoutMs, orElse: () => Effect.succeed(undefined) }),
          Effect.ensuring(Effect.sync(() => waiting.delete(rid)))
        )
      }),
    sign: (fields) => signRecord(identity, fields)
  }
  const inbox = yield* router.subscribe
  yield* Effect.gen(function*() {
    while (true) {
      const m = yield* PubSub.take(inbox)
      if (m.kind !== "dht" || typeof m.content !== "object" || m.content === null || Array.isArray(m.content)) continue
      const content = m.content as JsonObject
      const rid = typeof content.rid === "string" ? content.rid : undefined
      const op = content.op
      if (op === "found" || op === "stored" || op === "watched") {
        const w = rid === undefined ? undefined : waiting.get(rid)
        if (w !== undefined) yield* Deferred.succeed(w, { from: m.origin, answer: content })
        continue
      }
      seen.push({ from: m.origin, content })
      if (hostile.onRequest !== undefined && (yield* hostile.onRequest(m.origin, content))) continue
      if (op === "find" && rid !== undefined) {
        const record = typeof content.key === "string" ? forged.get(content.key) : undefined
        yield* send(m.origin, { op: "found", rid, nodes: [], ...(record === undefined ? {} : { record }) })
      } else if (op === "store" && rid !== undefined) {
        yield* send(m.origin, { op: "stored", rid, ok: true })
      } else if (op === "watch" && rid !== undefined) {
        yield* send(m.origin, { op: "watched", rid })
      }
    }
  }).pipe(Effect.forkScoped)
  return hostile
})
