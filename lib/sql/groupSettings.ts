import type { Db } from '../db/types.js';
import { groupRunning } from './groupLeaseIndex.js';

/*
 * Per-group runtime settings of a queue with `groups` (queue_groups, schema/migrations/013): an
 * override of the queue's per-group concurrency or rate, and pause. Stored, so every drain's next
 * claim sees them (lib/sql/groupLimits.ts reads them in the claim itself).
 */

/*
 * One upsert per change. A NULL parameter for a setting not being changed keeps the row's value
 * (:setConcurrency = 0); a setting changed to NULL goes back to the queue's declaration.
 */
const SET_GROUP_SETTINGS = `
INSERT INTO queue_groups (queue, group_key, concurrency, rate_per_second, paused, updated_at)
VALUES (:queue, :groupKey, :concurrency, :ratePerSecond, COALESCE(:paused, 0), :now)
ON DUPLICATE KEY UPDATE
  concurrency     = IF(:setConcurrency = 1, :concurrency, concurrency),
  rate_per_second = IF(:setRate = 1, :ratePerSecond, rate_per_second),
  paused          = COALESCE(:paused, paused),
  updated_at      = :now`;

export interface GroupSettingsChange {
  queue: string;
  groupKey: string;
  /** A number: this group's own limit; null: back to the queue's; absent: unchanged. */
  concurrency?: number | null;
  ratePerSecond?: number | null;
  paused?: boolean;
  now: Date;
}

/** Changes a group's settings (its row is made if missing). Safe to re-send: it sets, never adds. */
export async function setGroupSettings(db: Db, change: GroupSettingsChange): Promise<void> {
  await db.execute(
    SET_GROUP_SETTINGS,
    {
      queue: change.queue,
      groupKey: change.groupKey,
      concurrency: change.concurrency ?? null,
      setConcurrency: change.concurrency === undefined ? 0 : 1,
      ratePerSecond: change.ratePerSecond ?? null,
      setRate: change.ratePerSecond === undefined ? 0 : 1,
      paused: change.paused === undefined ? null : change.paused ? 1 : 0,
      now: change.now,
    },
    { idempotent: true },
  );
}

/** A group as the operator sees it. */
export interface GroupRow {
  groupKey: string;
  /** Messages not finished: waiting, delayed, retrying or running. */
  unfinished: number;
  /** Running under a live lease (in flight). */
  running: number;
  paused: boolean;
  /** This group's own limits (null: the queue's). */
  concurrency: number | null;
  ratePerSecond: number | null;
}

/** A group's unfinished messages: a range of the group index. */
const groupUnfinished = (group: string) => `(SELECT COUNT(*) FROM queue_messages AS u FORCE INDEX (ix_queue_messages_group)
        WHERE u.queue = :queue AND u.group_head = ${group})`;

/*
 * The groups with the most unfinished messages, from the group index alone (GROUP BY over
 * (queue, group_head): the cost follows the queue's unfinished messages), then each one's running
 * count (ix_queue_messages_group_lease) and settings. No locks.
 */
const TOP_GROUPS = `
SELECT b.group_key, b.unfinished,
       ${groupRunning('b.group_key')} AS running,
       g.paused, g.concurrency, g.rate_per_second
FROM (
  SELECT group_head AS group_key, COUNT(*) AS unfinished
  FROM queue_messages FORCE INDEX (ix_queue_messages_group)
  WHERE queue = :queue AND group_head IS NOT NULL
  GROUP BY group_head
  ORDER BY unfinished DESC, group_head
  LIMIT :limit
) AS b
LEFT JOIN queue_groups AS g FORCE INDEX (PRIMARY) ON g.queue = :queue AND g.group_key = b.group_key
ORDER BY b.unfinished DESC, b.group_key`;

/** Paused groups and groups with an override, whatever their backlog, with their counts. */
const SET_GROUPS = `
SELECT g.group_key,
       ${groupUnfinished('g.group_key')} AS unfinished,
       ${groupRunning('g.group_key')} AS running,
       g.paused, g.concurrency, g.rate_per_second
FROM queue_groups AS g FORCE INDEX (PRIMARY)
WHERE g.queue = :queue AND (g.paused = 1 OR g.concurrency IS NOT NULL OR g.rate_per_second IS NOT NULL)
ORDER BY g.group_key
LIMIT :limit`;

/** One group, whether or not it has a row. */
const READ_GROUP = `
SELECT :groupKey AS group_key,
       ${groupUnfinished(':groupKey')} AS unfinished,
       ${groupRunning(':groupKey')} AS running,
       g.paused, g.concurrency, g.rate_per_second
FROM (SELECT 1 AS one) AS one
LEFT JOIN queue_groups AS g FORCE INDEX (PRIMARY) ON g.queue = :queue AND g.group_key = :groupKey`;

function toGroupRow(row: Record<string, unknown>): GroupRow {
  return {
    groupKey: row.group_key as string,
    unfinished: Number(row.unfinished ?? 0),
    running: Number(row.running ?? 0),
    paused: Number(row.paused ?? 0) === 1,
    concurrency: row.concurrency == null ? null : Number(row.concurrency),
    ratePerSecond: row.rate_per_second == null ? null : Number(row.rate_per_second),
  };
}

/** The `limit` groups with the most unfinished messages, most first. */
export async function readTopGroups(db: Db, input: { queue: string; now: Date; limit: number }): Promise<GroupRow[]> {
  const rows = await db.query(TOP_GROUPS, input, { idempotent: true });
  return rows.map(toGroupRow);
}

/** Up to `limit` groups that are paused or have their own limits, by key. */
export async function readSetGroups(db: Db, input: { queue: string; now: Date; limit: number }): Promise<GroupRow[]> {
  const rows = await db.query(SET_GROUPS, input, { idempotent: true });
  return rows.map(toGroupRow);
}

/** One group's counts and settings (defaults when it has no row). */
export async function readGroup(db: Db, input: { queue: string; groupKey: string; now: Date }): Promise<GroupRow> {
  const [row] = await db.query(READ_GROUP, input, { idempotent: true });
  return toGroupRow(row!);
}

export { READ_GROUP, SET_GROUP_SETTINGS, SET_GROUPS, TOP_GROUPS };
