import type { Db } from '../db/types.js';
import { namedList } from './namedList.js';

/** A queue's backlog, for its metrics. */
export interface QueueBacklog {
  /** Messages not finished: waiting, retrying (due or not) and running. */
  live: number;
  /** Seconds the oldest due message has waited; 0 when none is due. */
  oldestDueAgeSeconds: number;
}

/** What a drain run reads of each of its queues, first and last. */
export interface QueueOverview extends QueueBacklog {
  /** Whether a message is due now (waiting or retrying, or leased past its lease's end). */
  dueNow: boolean;
  /**
   * When the earliest live message comes due after now (a delay, a retry, a lease's end); absent
   * with none. Messages due already are not counted: one a run left due is its own concern (a
   * queue it ran out of time for), and one nobody may claim yet (a FIFO follower behind its
   * retrying head) must not wake a drain over and over until its head comes due.
   */
  nextDueAt: Date | undefined;
  /** Whether retention has a message to delete (deleteFinished's conditions). */
  hasExpired: boolean;
}

/*
 * One call for every queue of a run. Per queue, COUNT and the MINs read the claim index's live
 * range (queue, finished_at IS NULL, priority, available_at) once, index only: a running message
 * whose lease has expired counts as due, which it is. The retention check is deleteFinished's
 * range and conditions (finished_at before the later cutoff, each status its own), stopping at the
 * first match. A scheduled run over idle queues makes this call instead of a claim, a retention
 * delete and a backlog read per queue.
 */
const queueOverviewSql = (queues: readonly { queue: string; n: number }[]) =>
  queues
    .map(
      ({ queue, n }) => `SELECT ${queue} AS queue, live.live, live.oldest_due, live.next_due,
  EXISTS (SELECT 1 FROM queue_messages FORCE INDEX (ix_queue_messages_claim)
          WHERE queue = ${queue} AND finished_at < :rangeEnd${n}
            AND ((status IN ('done', 'cancelled') AND finished_at < :before${n})
                 OR (status = 'dead' AND finished_at < :deadBefore${n}))) AS has_expired
FROM (SELECT COUNT(*) AS live,
             MIN(CASE WHEN available_at <= :now THEN available_at END) AS oldest_due,
             MIN(CASE WHEN available_at > :now THEN available_at END) AS next_due
      FROM queue_messages FORCE INDEX (ix_queue_messages_claim)
      WHERE queue = ${queue} AND finished_at IS NULL) AS live`,
    )
    .join('\nUNION ALL\n');

export interface QueueOverviewInput {
  queue: string;
  /** Done and cancelled messages finished before this may be deleted. */
  before: Date;
  /** Dead letters finished before this may be deleted; undefined keeps them. */
  deadBefore: Date | undefined;
}

export async function queueOverview(db: Db, queues: readonly QueueOverviewInput[], now: Date): Promise<Map<string, QueueOverview>> {
  const overview = new Map<string, QueueOverview>();
  if (queues.length === 0) return overview;
  const names = namedList(
    'queue',
    queues.map((q) => q.queue),
  ).params;
  const params: Record<string, string | Date> = { ...names, now };
  const placeholders = Object.keys(names).map((name, n) => {
    const { before, deadBefore = new Date(0) } = queues[n]!;
    params[`before${n}`] = before;
    params[`deadBefore${n}`] = deadBefore;
    params[`rangeEnd${n}`] = deadBefore > before ? deadBefore : before;
    return { queue: `:${name}`, n };
  });
  const rows = await db.query(queueOverviewSql(placeholders), params, { idempotent: true });
  for (const row of rows) {
    const oldestDue = row.oldest_due as Date | null;
    const nextDue = row.next_due as Date | null;
    overview.set(row.queue as string, {
      live: Number(row.live ?? 0),
      oldestDueAgeSeconds: oldestDue ? Math.max(0, (now.getTime() - oldestDue.getTime()) / 1_000) : 0,
      dueNow: oldestDue !== null,
      nextDueAt: nextDue ?? undefined,
      hasExpired: Number(row.has_expired) === 1,
    });
  }
  return overview;
}
