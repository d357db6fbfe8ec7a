/**
 * Checking a storage record that came from anywhere (a DHT holder's store request, a read, a
 * change notice): shape and bounds first, then the rules of `rules.ts`, then both
 * signatures (the owner's over the access list, the writer's over the rest) and that both
 * peer ids derive from the keys they carry. Holders run it on records they cannot read.
 *
 * @since 2.0.0
 */
import { Effect, Schema } from "effect"
import { tryDecode } from "../crypto/keys.ts"
import { peerIdMatchesKey, verifySignature } from "../services/Identity.ts"
import { aclBytes, MAX_READERS, recordBytes, StorageRecord } from "./record.ts"
import { checkRecord, type Refusal } from "./rules.ts"

export type Invalid = "malformed" | "bad-signature" | "bad-acl-signature" | Refusal

const decode = Schema.decodeUnknownOption(StorageRecord)

/** The record, or why it is refused. Never fails, never throws. */
export const verifyRecord = (
  input: unknown,
  maxReaders: number = MAX_READERS
): Effect.Effect<{ readonly ok: true; readonly record: StorageRecord } | { readonly ok: false; readonly why: Invalid }> =>
  Effect.gen(function*() {
    const record = tryDecode(decode, input)
    if (record === undefined) return { ok: false, why: "malformed" } as const
    const refusal = checkRecord(record, maxReaders)
    if (refusal !== undefined) return { ok: false, why: refusal } as const
    const { acl } = record
    const aclOk = (yield* peerIdMatchesKey(acl.owner, acl.ownerKey)) &&
      (yield* verifySignature(acl.ownerKey, acl.sig, aclBytes(record.key, record.space, record.crdt, acl)))
    if (!aclOk) return { ok: false, why: "bad-acl-signature" } as const
    const byOk = (yield* peerIdMatchesKey(record.by, record.byKey)) && (yield* verifySignature(record.byKey, record.sig, recordBytes(record)))
    if (!byOk) return { ok: false, why: "bad-signature" } as const
    return { ok: true, record } as const
  })
