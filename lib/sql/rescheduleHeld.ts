import type { Db } from '../db/types.js';
import { AVAILABLE_AT_COLUMN, ERROR_COLUMN, heldAttempts, heldRows, settleHeldSql, type HeldMessage } from './heldMessage.js';
import { clip } from '../clip.js';
import { LAST_ERROR_MAX_BYTES, sqlTimestamp } from './message.js';

export interface HeldRetry extends HeldMessage {
  /** When the next attempt may start (backoff, or the handler's retryAfter). */
  availableAt: Date;
  error: string;
}

/* Retries of any number of claims in one statement, each with its own next available_at; see markHeldDone. */
const RESCHEDULE_HELD = settleHeldSql({
  rows: 'retries',
  columns: [AVAILABLE_AT_COLUMN, ERROR_COLUMN],
  set: `m.status = 'retrying', m.attempts = COALESCE(h.attempts, m.attempts), m.available_at = h.available_at, m.last_error = h.error, m.updated_at = :now`,
  statuses: ['running', 'retrying'],
});

/** Returns how many messages were still held under their lease and changed. */
export async function rescheduleHeld(db: Db, input: { retries: readonly HeldRetry[]; now: Date }): Promise<number> {
  if (input.retries.length === 0) return 0;
  const retries = heldRows(input.retries, (r) => ({
    ...heldAttempts(r),
    availableAt: sqlTimestamp(r.availableAt),
    error: clip(r.error, { bytes: LAST_ERROR_MAX_BYTES }),
  }));
  const result = await db.execute(RESCHEDULE_HELD, { retries, now: input.now }, { idempotent: true });
  return result.numberOfRecordsUpdated;
}

export { RESCHEDULE_HELD };
