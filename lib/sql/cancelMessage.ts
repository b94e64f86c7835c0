import { randomUUID } from 'node:crypto';
import type { Db } from '../db/types.js';

/*
 * Only a message no drainer holds can be cancelled; a running one may already be half done. Each
 * call marks the row with a token of its own (in lease_token, which no lease uses once a message
 * is finished), and the row also matches in the state this call put it in, so a call re-sent
 * after a lost reply (lib/db re-sends idempotent statements) answers as the first did, as the
 * settle statements do (lib/sql/markHeldDone.ts), while another cancel still finds it cancelled already.
 */
const CANCEL_MESSAGE = `
UPDATE queue_messages
SET status = 'cancelled', finished_at = :now, group_head = NULL, lease_token = :cancelToken, updated_at = :now
WHERE id = :id AND (status IN ('waiting', 'retrying') OR (status = 'cancelled' AND lease_token = :cancelToken))`;

/** True when the message was waiting or retrying and is now cancelled. */
export async function cancelMessage(db: Db, id: string, now: Date): Promise<boolean> {
  const result = await db.execute(CANCEL_MESSAGE, { id, now, cancelToken: randomUUID() }, { idempotent: true });
  return result.numberOfRecordsUpdated > 0;
}
