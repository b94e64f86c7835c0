import type { Db } from '../db/types.js';
import { heldAttempts, heldRows, settleHeldSql, type HeldMessage } from './heldMessage.js';

/*
 * Settles successes of any number of claims in one statement: each message is sent under its
 * claim's lease token (heldRows), so a drain run can gather the outcomes of several batches into
 * one call (fewer calls per message), and each row still proves its own claim is held. A row whose
 * lease has expired and been claimed again matches nothing. The claims travel as one JSON
 * parameter, so the SQL text is the same for any number of rows.
 *
 * The lease token stays on a settled row, and the row also matches in the state this write puts
 * it in: a call re-sent because its first reply was lost (lib/db re-sends idempotent statements)
 * then matches its own rows again and changes nothing a second time. The rows' state is right
 * whichever way the Data API counts; only the count of such a re-sent call depends on it (matched
 * rows, as the local server and MySQL's CLIENT_FOUND_ROWS do, report the same count; changed rows
 * would count them as lost leases, a figure in the run's summary, never a state). `aurora-queue
 * doctor` reports which way a cluster counts. A claim replaces the token, so once another drainer
 * holds the message, nothing of this lease matches it any more.
 *
 * The join, its pinned order and the lease guard are settleHeldSql's (heldMessage.ts), shared by
 * every settle statement (rescheduleHeld, deadLetterHeld, releaseHeld).
 */
const MARK_HELD_DONE = settleHeldSql({
  rows: 'held',
  set: `m.status = 'done', m.attempts = COALESCE(h.attempts, m.attempts), m.finished_at = :now, m.group_head = NULL, m.updated_at = :now`,
  statuses: ['running', 'done'],
});

/** Marks messages done; returns how many were still held under their lease and changed. */
export async function markHeldDone(db: Db, input: { held: readonly HeldMessage[]; now: Date }): Promise<number> {
  if (input.held.length === 0) return 0;
  const result = await db.execute(MARK_HELD_DONE, { held: heldRows(input.held, heldAttempts), now: input.now }, { idempotent: true });
  return result.numberOfRecordsUpdated;
}

export { MARK_HELD_DONE };
