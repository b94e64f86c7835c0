import type { Db } from '../db/types.js';

/*
 * Only a message no drainer holds can be cancelled; a running one may already be half done. The
 * row also matches in the state this call puts it in (cancelled at this very :now), so a call
 * re-sent after a lost reply (lib/db re-sends idempotent statements) answers as the first did, as
 * the settle statements do (lib/sql/ack.ts), instead of "already cancelled" for its own cancel.
 */
const CANCEL_MESSAGE = `
UPDATE queue_messages
SET status = 'cancelled', finished_at = :now, group_head = NULL, updated_at = :now
WHERE id = :id AND (status IN ('waiting', 'retrying') OR (status = 'cancelled' AND finished_at = :now))`;

/** True when the message was waiting or retrying and is now cancelled. */
export async function cancelMessage(db: Db, id: string, now: Date): Promise<boolean> {
  const result = await db.execute(CANCEL_MESSAGE, { id, now }, { idempotent: true });
  return result.numberOfRecordsUpdated > 0;
}
