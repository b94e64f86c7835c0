import type { Db } from '../db/types.js';

/*
 * The earliest moment a live message of the queue becomes due, up to :horizon. Reads only the
 * claim index (queue, finished_at IS NULL, priority, available_at): the live rows of one queue,
 * never its finished history. Leased rows count too (their available_at is the lease's end).
 */
const NEXT_DUE_AT = `
SELECT MIN(available_at) AS due_at
FROM queue_messages FORCE INDEX (ix_queue_messages_claim)
WHERE queue = :queue AND finished_at IS NULL AND available_at > :now AND available_at <= :horizon`;

export async function nextDueAt(db: Db, input: { queue: string; now: Date; horizon: Date }): Promise<Date | undefined> {
  const [row] = await db.query(NEXT_DUE_AT, { ...input }, { idempotent: true });
  const dueAt = row?.due_at;
  return dueAt instanceof Date ? dueAt : undefined;
}

export { NEXT_DUE_AT };
