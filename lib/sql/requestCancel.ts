import type { Db } from '../db/types.js';

/*
 * Records a request to cancel a running message, under the lease it runs under (see migration
 * 012): the drain holding it finds the request (readCancelRequests) and settles it cancelled
 * (cancelHeld), unless its handler finishes first. Nothing is recorded for a message that is not
 * running. A request made again, or re-sent after a lost reply, names the current lease again and
 * is matched (counted) again: the answer is the same.
 */
const REQUEST_CANCEL = `
INSERT INTO queue_cancel_requests (message_id, lease_token, requested_at)
SELECT m.id, m.lease_token, :now
FROM queue_messages AS m
WHERE m.id = :id AND m.status = 'running' AND m.lease_token IS NOT NULL
ON DUPLICATE KEY UPDATE requested_at = VALUES(requested_at), lease_token = VALUES(lease_token)`;

/** True when the message is running and its cancel is now requested. */
export async function requestCancel(db: Db, id: string, now: Date): Promise<boolean> {
  const result = await db.execute(REQUEST_CANCEL, { id, now }, { idempotent: true });
  return result.numberOfRecordsUpdated > 0;
}

export { REQUEST_CANCEL };
