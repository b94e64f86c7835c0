import type { Db } from '../db/types.js';
import type { HeldMessage } from './heldMessage.js';
import { clipError, sqlTimestamp } from './message.js';

export interface HeldRetry extends HeldMessage {
  /** When the next attempt may start (backoff, or the handler's retryAfter). */
  availableAt: Date;
  error: string;
}

/* Retries of any number of claims in one statement, each with its own next available_at; see ack. */
const RESCHEDULE = `
UPDATE JSON_TABLE(:retries, '$[*]' COLUMNS (
  id           CHAR(36) CHARACTER SET ascii COLLATE ascii_bin PATH '$.id',
  lease_token  CHAR(36) CHARACTER SET ascii COLLATE ascii_bin PATH '$.leaseToken',
  attempts    INT                                          PATH '$.attempts',
  available_at DATETIME(3)                                  PATH '$.availableAt',
  error        TEXT     CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PATH '$.error'
)) AS r
STRAIGHT_JOIN queue_messages AS m FORCE INDEX (PRIMARY) ON m.id = r.id
SET m.status = 'retrying', m.attempts = COALESCE(r.attempts, m.attempts), m.available_at = r.available_at, m.last_error = r.error, m.updated_at = :now
WHERE m.lease_token = r.lease_token AND m.status IN ('running', 'retrying')`;

/** Returns how many messages were still held under their lease and changed. */
export async function reschedule(db: Db, input: { retries: readonly HeldRetry[]; now: Date }): Promise<number> {
  if (input.retries.length === 0) return 0;
  const retries = input.retries.map((r) => ({
    id: r.id,
    leaseToken: r.leaseToken,
    attempts: r.attempts ?? null,
    availableAt: sqlTimestamp(r.availableAt),
    error: clipError(r.error),
  }));
  const result = await db.execute(RESCHEDULE, { retries, now: input.now }, { idempotent: true });
  return result.numberOfRecordsUpdated;
}

export { RESCHEDULE };
