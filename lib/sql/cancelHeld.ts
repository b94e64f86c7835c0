import type { Db } from '../db/types.js';
import { heldAttempts, heldRows, settleHeldSql, type HeldMessage } from './heldMessage.js';

/*
 * Settles running messages whose cancel was requested (requestCancel) and whose handlers were
 * aborted for it: finished as `cancelled`, out of their FIFO group, never retried. Lease-guarded
 * and re-sendable as every settle statement (see markHeldDone). A handler that finished first has
 * its own outcome written instead: this statement is only sent for attempts the cancel ended.
 */
const CANCEL_HELD = settleHeldSql({
  rows: 'held',
  set: `m.status = 'cancelled', m.attempts = COALESCE(h.attempts, m.attempts), m.finished_at = :now, m.group_head = NULL, m.updated_at = :now`,
  statuses: ['running', 'cancelled'],
});

/** Marks held messages cancelled; returns how many were still held under their lease. */
export async function cancelHeld(db: Db, input: { held: readonly HeldMessage[]; now: Date }): Promise<number> {
  if (input.held.length === 0) return 0;
  const result = await db.execute(CANCEL_HELD, { held: heldRows(input.held, heldAttempts), now: input.now }, { idempotent: true });
  return result.numberOfRecordsUpdated;
}

export { CANCEL_HELD };
