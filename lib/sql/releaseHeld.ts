import type { Db } from '../db/types.js';
import { heldAttempts, heldRows, settleHeldSql, type HeldMessage } from './heldMessage.js';

export interface HeldRelease extends HeldMessage {
  /** The attempts the claim counted (as read after the claim). */
  attempts: number;
}

/*
 * Gives back messages of any number of claims that were never dispatched (see markHeldDone):
 * due now, the attempt counted at claim returned, back to waiting or retrying. The new status and
 * attempts come from the claimed count the caller read, not from the row: MySQL does not promise
 * the order of assignments in a multiple-table UPDATE, so one SET must not read a column another
 * SET changes. The lease check makes the caller's count the row's.
 */
const RELEASE_HELD = settleHeldSql({
  rows: 'held',
  set: `m.status = IF(h.attempts <= 1, 'waiting', 'retrying'),
    m.attempts = GREATEST(h.attempts - 1, 0), m.available_at = :now, m.updated_at = :now`,
  statuses: ['running', 'waiting', 'retrying'],
});

/** Returns how many messages were still held under their lease and went back. */
export async function releaseHeld(db: Db, input: { held: readonly HeldRelease[]; now: Date }): Promise<number> {
  if (input.held.length === 0) return 0;
  const result = await db.execute(RELEASE_HELD, { held: heldRows(input.held, heldAttempts), now: input.now }, { idempotent: true });
  return result.numberOfRecordsUpdated;
}

export { RELEASE_HELD };
