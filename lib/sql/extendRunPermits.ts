import type { Db } from '../db/types.js';

/*
 * A heartbeat's second statement, on a queue with a queue-wide concurrency: the run permits of the
 * claims whose messages it kept (lib/drain/leaseKeeper.ts) stay taken until the new lease end, as
 * their messages' leases do. A run permit frees itself at its claim's lease end (free_at), so a
 * crashed drain holds the queue's capacity no longer than a lease; without this, a handler kept
 * alive past its first lease would no longer count against the concurrency, and another drain
 * could start one more. Each claim's permits are reached by their holder (ix_queue_permits_holder)
 * from the JSON list of lease tokens; a permit given back (held_by NULL) or taken by another claim
 * is not matched. GREATEST: a time, not an amount, so a re-send sets it again.
 */
const EXTEND_RUN_PERMITS = `
UPDATE JSON_TABLE(:leaseTokens, '$[*]' COLUMNS (
  lease_token CHAR(36) CHARACTER SET ascii COLLATE ascii_bin PATH '$'
)) AS t
STRAIGHT_JOIN queue_permits AS p FORCE INDEX (ix_queue_permits_holder) ON p.queue = :queue AND p.held_by = t.lease_token
SET p.free_at = GREATEST(p.free_at, :freeAt)
WHERE p.kind = 'run'`;

/** Keeps the run permits these claims still hold taken until `freeAt`; returns how many matched. */
export async function extendRunPermits(db: Db, input: { queue: string; leaseTokens: readonly string[]; freeAt: Date }): Promise<number> {
  if (input.leaseTokens.length === 0) return 0;
  const result = await db.execute(
    EXTEND_RUN_PERMITS,
    { queue: input.queue, leaseTokens: [...new Set(input.leaseTokens)], freeAt: input.freeAt },
    { idempotent: true },
  );
  return result.numberOfRecordsUpdated;
}

export { EXTEND_RUN_PERMITS };
