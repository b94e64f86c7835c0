import type { Db } from '../db/types.js';

export interface QueueBacklog {
  /** Messages not finished: waiting, retrying (due or not) and running. */
  live: number;
  /** Seconds the oldest due message has waited; 0 when none is due. */
  oldestDueAgeSeconds: number;
}

/*
 * Read by every drain run for its metrics, so it must stay cheap: it reads only the claim index
 * (queue, finished_at, priority, available_at) over live rows, never the table and never the
 * finished history. A running message whose lease has expired counts as due, which it is.
 */
const QUEUE_BACKLOG = `
SELECT COUNT(*) AS live,
       MIN(CASE WHEN available_at <= :now THEN available_at END) AS oldest_due
FROM queue_messages
WHERE queue = :queue AND finished_at IS NULL`;

export async function queueBacklog(db: Db, queue: string, now: Date): Promise<QueueBacklog> {
  const [row] = await db.query(QUEUE_BACKLOG, { queue, now }, { idempotent: true });
  const oldestDue = row?.oldest_due as Date | null | undefined;
  return {
    live: Number(row?.live ?? 0),
    oldestDueAgeSeconds: oldestDue ? Math.max(0, (now.getTime() - oldestDue.getTime()) / 1_000) : 0,
  };
}
