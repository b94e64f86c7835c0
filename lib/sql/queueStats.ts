import type { Db } from '../db/types.js';
import { MESSAGE_STATUSES, type MessageStatus } from './message.js';
import { namedList } from './namedList.js';

export interface QueueStats {
  queue: string;
  counts: Record<MessageStatus, number>;
  /** Seconds the oldest due (waiting or retrying, available) message has been waiting; 0 when none. */
  oldestDueAgeSeconds: number;
  /** Live messages scheduled for later (delayed or backing off). */
  delayed: number;
}

/*
 * Any number of queues in two statements, so a page of fifty queues costs two calls, not a
 * hundred. The queues are a list of named parameters (`IN (:queue0, ...)`), which the optimizer
 * reads as one index range per queue.
 */
function countByStatusSql(queueParams: string): string {
  return `
SELECT queue, status, COUNT(*) AS n FROM queue_messages WHERE queue IN (${queueParams}) GROUP BY queue, status`;
}

/* Live rows only, through the claim index prefix, so finished history does not slow it down. */
function oldestDueSql(queueParams: string): string {
  return `
SELECT queue,
       MIN(CASE WHEN available_at <= :now AND status <> 'running' THEN available_at END) AS oldest_due,
       SUM(CASE WHEN available_at > :now AND status <> 'running' THEN 1 ELSE 0 END) AS delayed_count
FROM queue_messages FORCE INDEX (ix_queue_messages_claim)
WHERE queue IN (${queueParams}) AND finished_at IS NULL
GROUP BY queue`;
}

/** Stats of each queue, in the order given. */
export async function queueStats(db: Db, queues: readonly string[], now: Date): Promise<QueueStats[]> {
  if (queues.length === 0) return [];
  const { placeholders, params } = namedList('queue', queues);
  const [countRows, dueRows] = await Promise.all([
    db.query(countByStatusSql(placeholders), params, { idempotent: true }),
    db.query(oldestDueSql(placeholders), { ...params, now }, { idempotent: true }),
  ]);
  const stats = new Map<string, QueueStats>(
    queues.map((queue) => [
      queue,
      { queue, counts: Object.fromEntries(MESSAGE_STATUSES.map((s) => [s, 0])) as Record<MessageStatus, number>, oldestDueAgeSeconds: 0, delayed: 0 },
    ]),
  );
  for (const row of countRows) {
    const queue = stats.get(row.queue as string);
    if (queue !== undefined) queue.counts[row.status as MessageStatus] = Number(row.n);
  }
  for (const row of dueRows) {
    const queue = stats.get(row.queue as string);
    if (queue === undefined) continue;
    const oldestDue = row.oldest_due as Date | null;
    queue.oldestDueAgeSeconds = oldestDue ? Math.max(0, (now.getTime() - oldestDue.getTime()) / 1000) : 0;
    queue.delayed = Number(row.delayed_count ?? 0);
  }
  return [...stats.values()];
}
