import type { Db } from '../db/types.js';

/*
 * Settles successes. The lease token proves the claim is still held: once a lease has expired
 * and another drainer has claimed the message, this drainer's write matches nothing. FIND_IN_SET
 * over the lease's own rows (found through the lease index) keeps the SQL constant for any batch.
 */
const ACK = `
UPDATE queue_messages
SET status = 'done', finished_at = :now, updated_at = :now, lease_token = NULL
WHERE lease_token = :leaseToken AND status = 'running' AND FIND_IN_SET(id, :ids)`;

/** Marks messages done; returns how many were still held by this lease and changed. */
export async function ack(db: Db, input: { leaseToken: string; ids: readonly string[]; now: Date }): Promise<number> {
  if (input.ids.length === 0) return 0;
  const result = await db.execute(ACK, { leaseToken: input.leaseToken, ids: input.ids.join(','), now: input.now }, { idempotent: true });
  return result.numberOfRecordsUpdated;
}

export { ACK };
