/**
 * The DHT's fixed numbers (the tunable ones are `DhtOptions`, services/Dht.ts).
 *
 * @since 2.0.0
 */

/**
 * Peers kept per bucket of the routing table. Larger than a lookup's width (`DhtOptions.k`,
 * default 8) on purpose: the table is a peer's memory of the network, the lookup width is how
 * many of the closest a query settles on.
 */
export const BUCKET_SIZE = 20

/** RPCs in a row a peer may leave unanswered before it leaves the routing table. */
export const FORGET_AFTER = 3

/** How long a peer that left the table that way is not taken back from the mesh's lists. */
export const UNRESPONSIVE_MS = 60_000

/** Answering a `find` refreshes the table from the mesh's lists at most this often. */
export const TABLE_REFRESH_MS = 1000

/** A subscriber waits this long for a missing version before delivering the next one. */
export const GAP_SKIP_MS = 2000

/**
 * Copies from this many different peers naming the same owner end a read early; otherwise a
 * read goes on until the lookup converges (so one fast peer answering with its own record
 * does not decide what a read returns).
 */
export const READ_QUORUM = 2

/** A holder keeps a key among its own records when it is among this many times `replicationFactor` closest peers it knows. */
export const NEAR_FACTOR = 2

/** How far ahead of a holder's clock a record's signing time may be (clock skew); later ones are refused. */
export const MAX_CLOCK_SKEW_MS = 300_000
