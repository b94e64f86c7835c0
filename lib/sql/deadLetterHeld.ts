import type { Db } from '../db/types.js';
import { ERROR_COLUMN, heldAttempts, heldRows, settleHeldSql, type HeldMessage } from './heldMessage.js';
import { clip } from '../clip.js';
import { LAST_ERROR_MAX_BYTES } from './message.js';

export interface HeldDeadLetter extends HeldMessage {
  error: string;
}

/*
 * Dead-letters messages still held under their claims' leases, any number of claims in one
 * statement (see markHeldDone). Listing, purging and redriving dead letters is lib/sql/deadLetters.ts.
 */
const DEAD_LETTER_HELD = settleHeldSql({
  rows: 'dead',
  columns: [ERROR_COLUMN],
  set: `m.status = 'dead', m.attempts = COALESCE(h.attempts, m.attempts), m.last_error = h.error, m.finished_at = :now, m.group_head = NULL, m.updated_at = :now`,
  statuses: ['running', 'dead'],
});

/** Returns how many messages were still held under their lease and changed. */
export async function deadLetterHeld(db: Db, input: { dead: readonly HeldDeadLetter[]; now: Date }): Promise<number> {
  if (input.dead.length === 0) return 0;
  const dead = heldRows(input.dead, (d) => ({ ...heldAttempts(d), error: clip(d.error, { bytes: LAST_ERROR_MAX_BYTES }) }));
  const result = await db.execute(DEAD_LETTER_HELD, { dead, now: input.now }, { idempotent: true });
  return result.numberOfRecordsUpdated;
}

export { DEAD_LETTER_HELD };
