import type { Db } from '../db/types.js';
import { MESSAGE_STATUSES, type MessageStatus } from './message.js';

export interface QueueStats {
  queue: string;
  counts: Record<MessageStatus, number>;
  /** Seconds the oldest due (waiting or retrying, available) message has been waiting; 0 when none. */
  oldestDueAgeSeconds: number;
  /** Live messages scheduled for later (delayed or backing off). */
  delayed: number;
}

const COUNT_BY_STATUS = `
SELECT status, COUNT(*) AS n FROM queue_messages WHERE queue = :queue GROUP BY status`;

/* Live rows only, through the claim index prefix, so finished history does not slow it down. */
const OLDEST_DUE = `
SELECT MIN(CASE WHEN available_at <= :now AND status <> 'running' THEN available_at END) AS oldest_due,
       SUM(CASE WHEN available_at > :now AND status <> 'running' THEN 1 ELSE 0 END) AS delayed_count
FROM queue_messages WHERE queue = :queue AND finished_at IS NULL`;

export async function queueStats(db: Db, queue: string, now: Date): Promise<QueueStats> {
  const [countRows, [due]] = await Promise.all([
    db.query(COUNT_BY_STATUS, { queue }, { idempotent: true }),
    db.query(OLDEST_DUE, { queue, now }, { idempotent: true }),
  ]);
  const counts = Object.fromEntries(MESSAGE_STATUSES.map((s) => [s, 0])) as Record<MessageStatus, number>;
  for (const row of countRows) counts[row.status as MessageStatus] = Number(row.n);
  const oldestDue = due?.oldest_due as Date | null | undefined;
  return {
    queue,
    counts,
    oldestDueAgeSeconds: oldestDue ? Math.max(0, (now.getTime() - oldestDue.getTime()) / 1000) : 0,
    delayed: Number(due?.delayed_count ?? 0),
  };
}
