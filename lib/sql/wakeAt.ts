import type { Db } from '../db/types.js';
import { namedList } from './namedList.js';

/*
 * Takes the right to set the queue's timed wake for :at (lib/timedWakes.ts): when no wake is
 * pending, the pending one has passed, or it is later than :at. The row count alone says whether
 * this caller won (it changes wake_at whenever it matches), so concurrent setters race on the row
 * lock and the earlier time wins. Not re-sent: a second run would find its own :at and report 0.
 */
const CLAIM_WAKE_AT = `
UPDATE queue_state SET wake_at = :at, updated_at = :now
WHERE queue = :queue AND (wake_at IS NULL OR wake_at <= :now OR wake_at > :at)`;

/** True when this caller should set the queue's schedule to `at`. */
export async function claimWakeAt(db: Db, input: { queue: string; at: Date; now: Date }): Promise<boolean> {
  const result = await db.execute(CLAIM_WAKE_AT, { ...input });
  return result.numberOfRecordsUpdated > 0;
}

/*
 * Gives back a wake that could not be set, so the next run or enqueue tries again: only while the
 * row still holds this caller's time, not one another caller has set since.
 */
const RELEASE_WAKE_AT = `
UPDATE queue_state SET wake_at = NULL, updated_at = :now WHERE queue = :queue AND wake_at = :at`;

export async function releaseWakeAt(db: Db, input: { queue: string; at: Date; now: Date }): Promise<void> {
  await db.execute(RELEASE_WAKE_AT, { ...input }, { idempotent: true });
}

/*
 * When each queue's earliest live message comes due: waiting and retrying messages at their
 * available_at, leased ones at their lease's end (a crashed drain's). Reads the claim index's live
 * range of each queue (queue, finished_at IS NULL, …), index only, never the finished history; all
 * queues in one call. The priority before available_at in that index makes MIN read the queue's
 * live entries rather than one (neither engine skips through the priorities here): cheap for the
 * live set a drained queue keeps, a scan for a large backlog of future messages. A queue with no
 * live message answers nothing. Due times in the past mean "now".
 */
const nextDueAtByQueueSql = (queues: readonly string[]) =>
  queues
    .map(
      (queue) => `SELECT ${queue} AS queue,
  (SELECT MIN(available_at) FROM queue_messages FORCE INDEX (ix_queue_messages_claim)
   WHERE queue = ${queue} AND finished_at IS NULL) AS due_at`,
    )
    .join('\nUNION ALL\n');

export async function nextDueAtByQueue(db: Db, queues: readonly string[]): Promise<Map<string, Date>> {
  const due = new Map<string, Date>();
  if (queues.length === 0) return due;
  const { params } = namedList('queue', queues);
  const rows = await db.query(nextDueAtByQueueSql(Object.keys(params).map((name) => `:${name}`)), params, { idempotent: true });
  for (const row of rows) if (row.due_at instanceof Date) due.set(row.queue as string, row.due_at);
  return due;
}

export { nextDueAtByQueueSql };
