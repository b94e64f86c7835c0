import type { Db } from '../db/types.js';
import { clipError, sqlTimestamp } from './message.js';

export interface Retry {
  id: string;
  /** When the next attempt may start (backoff, or the handler's retryAfter). */
  availableAt: Date;
  error: string;
}

/*
 * Settles failures that will be tried again, each with its own next available_at, in one
 * statement: the retries travel as one JSON parameter. The lease check is the same as ack's.
 */
const RESCHEDULE = `
UPDATE queue_messages AS m
JOIN JSON_TABLE(:retries, '$[*]' COLUMNS (
  id           CHAR(36) CHARACTER SET ascii COLLATE ascii_bin PATH '$.id',
  available_at DATETIME(3)                                  PATH '$.availableAt',
  error        TEXT     CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PATH '$.error'
)) AS r ON r.id = m.id
SET m.status = 'retrying', m.available_at = r.available_at, m.last_error = r.error,
    m.lease_token = NULL, m.updated_at = :now
WHERE m.lease_token = :leaseToken AND m.status = 'running'`;

/** Returns how many messages were still held by this lease and changed. */
export async function reschedule(db: Db, input: { leaseToken: string; retries: readonly Retry[]; now: Date }): Promise<number> {
  if (input.retries.length === 0) return 0;
  const retries = input.retries.map((r) => ({ id: r.id, availableAt: sqlTimestamp(r.availableAt), error: clipError(r.error) }));
  const result = await db.execute(RESCHEDULE, { leaseToken: input.leaseToken, retries, now: input.now }, { idempotent: true });
  return result.numberOfRecordsUpdated;
}

export { RESCHEDULE };
