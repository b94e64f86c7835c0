import type { Db } from '../db/types.js';

/*
 * Retention: finished messages older than the cutoff are deleted a bounded batch at a time, so
 * one call never holds locks for long. The range `finished_at < :rangeEnd` (the later of the two
 * cutoffs) runs on the claim index's (queue, finished_at) prefix; each status then gets its own
 * cutoff. Dead letters are kept until redriven or purged unless a cutoff is given for them too.
 */
const DELETE_FINISHED = `
DELETE FROM queue_messages
WHERE queue = :queue AND finished_at < :rangeEnd
  AND ((status IN ('done', 'cancelled') AND finished_at < :before)
       OR (status = 'dead' AND finished_at < :deadBefore))
ORDER BY finished_at
LIMIT :limit`;

export interface DeleteFinishedInput {
  queue: string;
  /** Done and cancelled messages finished before this go. */
  before: Date;
  /** Dead letters finished before this go; omit to keep dead letters. */
  deadBefore?: Date;
  limit: number;
}

export async function deleteFinished(db: Db, input: DeleteFinishedInput): Promise<number> {
  const deadBefore = input.deadBefore ?? new Date(0);
  const rangeEnd = new Date(Math.max(input.before.getTime(), deadBefore.getTime()));
  const result = await db.execute(
    DELETE_FINISHED,
    { queue: input.queue, before: input.before, deadBefore, rangeEnd, limit: input.limit },
    { idempotent: true },
  );
  return result.numberOfRecordsUpdated;
}
