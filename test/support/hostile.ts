/**
 * A hostile neighbour for adversarial tests: a node of a `MemoryNetwork` built from the same
 * library (so it opens real links, with a real handshake), that also writes hand-made frames
 * straight onto its links. Builders for the frames an attacker would send: validly signed by
 * its own key or by throwaway keys, or junk.
 */
import { Context, Effect, type Schema } from "effect"
import { makeNonce } from "../../src/internal/identityProof.ts"
import { type DirectFrame, type GossipFrame, signedBytes } from "../../src/schema/PeerFrames.ts"
import type { PeerId } from "../../src/schema/PeerId.ts"
import { Connections } from "../../src/services/Connections.ts"
import { Gossip } from "../../src/services/Gossip.ts"
import * as IdentityModule from "../../src/services/Identity.ts"
import { Router } from "../../src/services/Router.ts"
import { connectedOf, type TestNode, waitFor } from "./memoryMesh.ts"

type Identity = IdentityModule.Identity["Service"]

export const identityOf = (node: TestNode): Identity => Context.get(node.context, IdentityModule.Identity)

/** A fresh key pair and the id that derives from it (free to make: any attacker has thousands). */
export const throwawayIdentity = IdentityModule.make().pipe(Effect.orDie)

/** Writes `text` as one link message to the neighbour `to`; false when not linked. */
export const sendRaw = (from: TestNode, to: PeerId, text: string) => from.run(Connections.use((c) => c.send(to, text)))

/** A gossip frame signed by `signer` (claiming `origin`, its own id by default). */
export const gossipFrame = (
  signer: Identity,
  content: Schema.Json,
  options: { readonly origin?: PeerId; readonly id?: string; readonly kind?: string; readonly ttl?: number; readonly hops?: number } = {}
) =>
  Effect.gen(function*() {
    const id = options.id ?? makeNonce()
    const origin = options.origin ?? signer.peerId
    const kind = options.kind ?? "message"
    const ts = Date.now()
    const sig = yield* signer.sign(signedBytes({ t: "gossip", kind, id, origin, ts, content }))
    const frame: GossipFrame = { t: "gossip", kind, id, origin, key: signer.publicKey, ts, ttl: options.ttl ?? 16, hops: options.hops ?? 0, content, sig }
    return frame
  })

/** A direct frame signed by `signer` for `to` (its attempt signed too, as retransmissions are). */
export const directFrame = (
  signer: Identity,
  to: PeerId,
  content: Schema.Json,
  options: { readonly id?: string; readonly kind?: string; readonly flood?: boolean; readonly attempt?: number } = {}
) =>
  Effect.gen(function*() {
    const id = options.id ?? makeNonce()
    const kind = options.kind ?? "message"
    const ts = Date.now()
    const attempt = options.attempt ?? 0
    const sig = yield* signer.sign(signedBytes({ t: "direct", kind, id, origin: signer.peerId, to, ts, content, attempt }))
    const frame: DirectFrame = {
      t: "direct",
      kind,
      to,
      flood: options.flood ?? false,
      ...(attempt > 0 ? { attempt } : {}),
      ack: false,
      id,
      origin: signer.peerId,
      key: signer.publicKey,
      ts,
      ttl: 64,
      hops: 0,
      content,
      sig
    }
    return frame
  })

/** A random 40-hex id nobody has. */
export const madeUpId = (): PeerId =>
  Array.from(globalThis.crypto.getRandomValues(new Uint8Array(20)), (b) => b.toString(16).padStart(2, "0")).join("") as PeerId

/** Waits until `hostile` has at least one link; returns its neighbours. */
export const neighboursOf = (hostile: TestNode) =>
  Effect.gen(function*() {
    yield* waitFor("the hostile node has a neighbour", Effect.map(connectedOf(hostile), (peers) => peers.length > 0))
    return yield* connectedOf(hostile)
  })

/** Router and gossip counters summed over `nodes`. */
export const relayed = (nodes: ReadonlyArray<TestNode>) =>
  Effect.gen(function*() {
    let forwarded = 0
    let flooded = 0
    let forged = 0
    let gossipForwarded = 0
    for (const n of nodes) {
      const r = yield* n.run(Router.use((r) => r.stats))
      const g = yield* n.run(Gossip.use((g) => g.stats))
      forwarded += r.forwarded
      flooded += r.flooded
      forged += r.forged
      gossipForwarded += g.forwarded
    }
    return { forwarded, flooded, forged, gossipForwarded }
  })
