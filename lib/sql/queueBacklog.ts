import type { Db } from '../db/types.js';
import { namedList } from './namedList.js';

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

export interface QueueOverview extends QueueBacklog {
  /** Whether a message is due now (waiting or retrying, or leased past its lease's end). */
  dueNow: boolean;
  /** When the earliest live message comes due (a lease's end for a running one); absent with none live. */
  nextDueAt: Date | undefined;
  /** Whether a finished message is older than the queue's retention cutoff: retention has work. */
  hasExpired: boolean;
}

/*
 * What a drain run needs to know of each of its queues, in one call for all of them: the backlog
 * above (its metrics), when the next live message comes due (its timed wake), and whether retention
 * has anything to delete. Per queue, COUNT and both MINs read the claim index's live range once;
 * the retention check is one dive into its finished range (finished_at < the later cutoff, as
 * deleteFinished's range). A scheduled run over idle queues makes this call instead of a claim, a
 * retention delete and a backlog read per queue. The live range's MINs cost what the backlog's
 * COUNT already did: a read of the queue's live index entries, never its history.
 */
const queueOverviewSql = (queues: readonly { queue: string; rangeEnd: string }[]) =>
  queues
    .map(
      ({ queue, rangeEnd }) => `SELECT ${queue} AS queue, live.live, live.oldest_due, live.next_due,
  EXISTS (SELECT 1 FROM queue_messages FORCE INDEX (ix_queue_messages_claim)
          WHERE queue = ${queue} AND finished_at < ${rangeEnd}) AS has_expired
FROM (SELECT COUNT(*) AS live, MIN(CASE WHEN available_at <= :now THEN available_at END) AS oldest_due, MIN(available_at) AS next_due
      FROM queue_messages FORCE INDEX (ix_queue_messages_claim)
      WHERE queue = ${queue} AND finished_at IS NULL) AS live`,
    )
    .join('\nUNION ALL\n');

export interface QueueOverviewInput {
  queue: string;
  /** Retention's later cutoff (deleteFinished's range end): finished before it may be deleted. */
  expiredBefore: Date;
}

export async function queueOverview(db: Db, queues: readonly QueueOverviewInput[], now: Date): Promise<Map<string, QueueOverview>> {
  const overview = new Map<string, QueueOverview>();
  if (queues.length === 0) return overview;
  const names = namedList(
    'queue',
    queues.map((q) => q.queue),
  ).params;
  const params: Record<string, string | Date> = { ...names, now };
  const placeholders = Object.keys(names).map((name, i) => {
    params[`rangeEnd${i}`] = queues[i]!.expiredBefore;
    return { queue: `:${name}`, rangeEnd: `:rangeEnd${i}` };
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

export { queueOverviewSql };
