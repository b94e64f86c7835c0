import type { Db } from '../db/types.js';
import { namedList } from './namedList.js';

/** Messages of one queue that reached an outcome in one minute. */
export interface ThroughputMinute {
  queue: string;
  /** Whole minutes from `since`: 0 is the minute that starts at `since`. */
  minute: number;
  done: number;
  retried: number;
  dead: number;
}

export interface QueueThroughputInput {
  queues: readonly string[];
  /** The window's start, minute-aligned: minute 0. Retries are counted from here. */
  since: Date;
  /**
   * Finished messages are counted from here (minute-aligned, default `since`): a caller that
   * already holds the earlier minutes, which no longer change, reads only the later ones.
   */
  finishedSince?: Date;
  /** The window's end, exclusive. */
  until: Date;
}

/*
 * The table keeps each message's latest state, not its history, so a minute's outcomes are read
 * from what the rows say now:
 *   - done and dead: rows whose finished_at falls in the minute. Each queue is one range of the
 *     claim index (queue, finished_at, ...), so only the window's finished rows are read, never
 *     the older history or the live backlog; a redriven dead letter is no longer dead.
 *   - retried: live rows in `retrying`, by the minute of their last failure (updated_at). A
 *     message that failed and has since been claimed again no longer shows as a retry. These are
 *     live rows of the queue (the claim index's `finished_at IS NULL` prefix); a retrying row's
 *     available_at is not before its failure (its backoff starts there; only a settle written
 *     late, after an outage, can land a little before), so `available_at >= :since`, a column
 *     of the same index, lets older backlog be skipped in the index before any row is read.
 * The queues are a list of named parameters, one per queue (`IN (:queue0, :queue1, ...)`), not a
 * JSON_TABLE joined to the table: with constants the optimizer reads one index range per queue,
 * where a join from a table function would walk each queue's whole index (history included).
 */
export function queueThroughputSql(queueParams: string): string {
  return `
SELECT m.queue, TIMESTAMPDIFF(MINUTE, :since, m.finished_at) AS minute,
       SUM(m.status = 'done') AS done, 0 AS retried, SUM(m.status = 'dead') AS dead
FROM queue_messages AS m FORCE INDEX (ix_queue_messages_claim)
WHERE m.queue IN (${queueParams}) AND m.finished_at >= :finishedSince AND m.finished_at < :until
GROUP BY m.queue, minute
UNION ALL
SELECT m.queue, TIMESTAMPDIFF(MINUTE, :since, m.updated_at) AS minute,
       0 AS done, COUNT(*) AS retried, 0 AS dead
FROM queue_messages AS m FORCE INDEX (ix_queue_messages_claim)
WHERE m.queue IN (${queueParams}) AND m.finished_at IS NULL AND m.available_at >= :since
  AND m.status = 'retrying' AND m.updated_at >= :since AND m.updated_at < :until
GROUP BY m.queue, minute`;
}

/**
 * Done, retried and dead messages per queue and minute since `since` (minute 0), in one
 * call. Minutes with no outcome are left out; a queue and minute may come back as two entries
 * (finished and retried), to be added up.
 */
export async function queueThroughput(db: Db, input: QueueThroughputInput): Promise<ThroughputMinute[]> {
  if (input.queues.length === 0) return [];
  const { placeholders, params } = namedList('queue', input.queues);
  const rows = await db.query(
    queueThroughputSql(placeholders),
    { ...params, since: input.since, finishedSince: input.finishedSince ?? input.since, until: input.until },
    { idempotent: true },
  );
  return rows.map((row) => ({
    queue: row.queue as string,
    minute: Number(row.minute),
    done: Number(row.done),
    retried: Number(row.retried),
    dead: Number(row.dead),
  }));
}
