import type { Db } from '../db/types.js';
import { namedList } from './namedList.js';

/** A FIFO queue's live groups, read from each group's head. */
export interface GroupStats {
  queue: string;
  /** Groups with an unfinished message. */
  live: number;
  /** Groups whose head is running: the group's one message in flight. */
  inFlight: number;
  /** Groups whose head is retrying: held back by a failed attempt until the head's next try. */
  blocked: number;
}

/*
 * The heads are found as the FIFO claim finds them (lib/sql/claimGroupHeads.ts): a loose index
 * scan of ix_queue_messages_group, one dive per live group ("Using index for group-by"), then each
 * head's row by primary key for its status. So the cost follows the number of live groups, not
 * their backlogs or the queues' finished history. No locks: a head that changes meanwhile is
 * counted as it was.
 */
function groupStatsSql(queueParams: string): string {
  return `
SELECT heads.queue,
       COUNT(*) AS live,
       SUM(CASE WHEN h.status = 'running' THEN 1 ELSE 0 END) AS in_flight,
       SUM(CASE WHEN h.status = 'retrying' THEN 1 ELSE 0 END) AS blocked
FROM (
  SELECT queue, MIN(id) AS id FROM queue_messages FORCE INDEX (ix_queue_messages_group)
  WHERE queue IN (${queueParams}) AND group_head IS NOT NULL
  GROUP BY queue, group_head
) AS heads
STRAIGHT_JOIN queue_messages AS h FORCE INDEX (PRIMARY) ON h.id = heads.id
GROUP BY heads.queue`;
}

/** Group counts of each FIFO queue, in the order given, in one call (none for no queues). */
export async function groupStats(db: Db, queues: readonly string[]): Promise<GroupStats[]> {
  if (queues.length === 0) return [];
  const { placeholders, params } = namedList('queue', queues);
  const rows = await db.query(groupStatsSql(placeholders), params, { idempotent: true });
  const found = new Map(rows.map((row) => [row.queue as string, row]));
  return queues.map((queue) => {
    const row = found.get(queue);
    return { queue, live: Number(row?.live ?? 0), inFlight: Number(row?.in_flight ?? 0), blocked: Number(row?.blocked ?? 0) };
  });
}

export { groupStatsSql };
