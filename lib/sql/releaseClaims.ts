import type { Db } from '../db/types.js';

/*
 * Gives back claimed messages that were never dispatched (the run ran out of time or was
 * stopped): they become due now and the attempt counted at claim is returned. A message that was
 * waiting goes back to waiting; one that had failed before goes back to retrying.
 */
const RELEASE_CLAIMS = `
UPDATE queue_messages
SET status = IF(attempts <= 1, 'waiting', 'retrying'),
    attempts = attempts - 1, available_at = :now, updated_at = :now, lease_token = NULL
WHERE lease_token = :leaseToken AND status = 'running' AND FIND_IN_SET(id, :ids)`;

export async function releaseClaims(db: Db, input: { leaseToken: string; ids: readonly string[]; now: Date }): Promise<number> {
  if (input.ids.length === 0) return 0;
  const result = await db.execute(RELEASE_CLAIMS, { leaseToken: input.leaseToken, ids: input.ids.join(','), now: input.now }, { idempotent: true });
  return result.numberOfRecordsUpdated;
}
