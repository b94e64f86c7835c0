import { DatabaseError } from '../db/errors.js';
import type { Db } from '../db/types.js';
import { LEASE_SET } from './claimBatch.js';
import { RATE_WINDOW_SLACK_MS } from './permits.js';

/*
 * The claim of a queue declared with `groups` (keyed flow control, schema/migrations/013): per
 * group at most `concurrency` messages in flight and `ratePerSecond` starts a second, across every
 * drain, optionally fair across groups; per-group overrides and pause live in queue_groups.
 *
 * Two statements, for the reasons the FIFO claim gives (lib/sql/claimGroupHeads.ts): a plain read
 * that picks the candidates (a consistent read: it waits on no producer's open transaction), then
 * one UPDATE that leases those its groups' limits allow.
 *
 * The read numbers each group's unfinished messages in id (enqueue) order from the group index
 * (queue, group_head, id) alone, keeps each group's first :perGroup, and orders the due ones by
 * priority, then (fair) by their number within the group, so a claim takes every group's first
 * message before any group's second: a backlog of 50,000 in one group puts the next group's first
 * message behind at most one message of it. Its cost follows the queue's unfinished messages (an
 * index-only scan), not the finished history. The numbering holds ids only (the temporary table
 * it fills is as narrow as it can be), a paused group's messages are left out before they are
 * numbered, and the groups' settings are read for the :limit candidates kept, not for every row.
 *
 * Fair, only the first levels (every group's first message, then every group's second, ...) are
 * read by primary key, as many as hold :limit rows plus every unfinished message that is not due (running,
 * retrying, delayed: counted index-only on the claim index). Those levels hold at least :limit due
 * messages, if the queue has them, wherever its not-due ones sit; with a thousand groups, that is
 * their first level or two, not every message of every group. Not fair, every group's first
 * :perGroup are read, so the oldest due come first whatever their group.
 */
/** Each group's unfinished messages, numbered in enqueue order within their group (paused groups left out). */
const NUMBERED = `
    SELECT r.id, r.n
    FROM (
      SELECT id, ROW_NUMBER() OVER (PARTITION BY group_head ORDER BY id) AS n
      FROM queue_messages FORCE INDEX (ix_queue_messages_group)
      WHERE queue = :queue AND group_head IS NOT NULL AND group_head NOT IN (
        SELECT pg.group_key FROM queue_groups AS pg FORCE INDEX (ix_queue_groups_paused) WHERE pg.queue = :queue AND pg.paused = 1
      )
    ) AS r
    WHERE r.n <= :perGroup`;

/** Of `numbered`, the first levels that hold :limit rows plus every unfinished message not due. */
const firstLevels = (numbered: string) => `
    SELECT l.id, l.n
    FROM (
      SELECT v.id, v.n,
             COUNT(*) OVER (ORDER BY v.n RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - COUNT(*) OVER (PARTITION BY v.n) AS before_level
      FROM (${numbered}
      ) AS v
    ) AS l
    WHERE l.before_level < :limit + (
      SELECT COUNT(*) FROM queue_messages FORCE INDEX (ix_queue_messages_claim)
      WHERE queue = :queue AND finished_at IS NULL AND available_at > :now
    )`;

const findGroupCandidatesSql = (fair: boolean) => `
SELECT t.id, t.group_key, g.concurrency, g.rate_per_second, (g.queue IS NOT NULL) AS known,
       (SELECT COUNT(*) FROM queue_group_permits AS p FORCE INDEX (PRIMARY)
        WHERE p.queue = :queue AND p.group_key = t.group_key) AS rate_slots
FROM (
  SELECT m.id, m.group_head AS group_key, c.n, m.priority, m.available_at
  FROM (${fair ? firstLevels(NUMBERED) : NUMBERED}
  ) AS c
  STRAIGHT_JOIN queue_messages AS m FORCE INDEX (PRIMARY) ON m.id = c.id
  WHERE m.finished_at IS NULL AND m.available_at <= :now
  ORDER BY m.priority DESC, ${fair ? 'c.n, ' : ''}m.available_at, m.id
  LIMIT :limit
) AS t
LEFT JOIN queue_groups AS g FORCE INDEX (PRIMARY) ON g.queue = :queue AND g.group_key = t.group_key
ORDER BY t.priority DESC, ${fair ? 't.n, ' : ''}t.available_at, t.id`;

const FIND_GROUP_CANDIDATES = findGroupCandidatesSql(false);
const FIND_FAIR_GROUP_CANDIDATES = findGroupCandidatesSql(true);

export interface GroupCandidate {
  id: string;
  groupKey: string;
  /** The group's row exists (queue_groups); a claim adds the missing ones first. */
  known: boolean;
  /** The group's overrides (null: the queue's declaration). */
  concurrency: number | null;
  ratePerSecond: number | null;
  /** Rate permit rows the group has. */
  rateSlots: number;
}

export interface FindGroupCandidatesInput {
  queue: string;
  now: Date;
  /** Candidates returned at most. */
  limit: number;
  /** Of each group, its first `perGroup` unfinished messages are looked at. */
  perGroup: number;
  fair: boolean;
}

/** Due messages of a grouped queue not paused, in claim order; locks nothing, waits on nothing. */
export async function findGroupCandidates(db: Db, input: FindGroupCandidatesInput): Promise<GroupCandidate[]> {
  const rows = await db.query(
    input.fair ? FIND_FAIR_GROUP_CANDIDATES : FIND_GROUP_CANDIDATES,
    { queue: input.queue, now: input.now, limit: input.limit, perGroup: input.perGroup },
    { idempotent: true },
  );
  return rows.map((row) => ({
    id: row.id as string,
    groupKey: row.group_key as string,
    known: Number(row.known) === 1,
    concurrency: row.concurrency == null ? null : Number(row.concurrency),
    ratePerSecond: row.rate_per_second == null ? null : Number(row.rate_per_second),
    rateSlots: Number(row.rate_slots ?? 0),
  }));
}

/*
 * Group rows are added (INSERT IGNORE: an existing row, perhaps an operator's override, is left as
 * it is) before a claim can lock them; committed, so every drain sees them.
 */
const ENSURE_GROUPS = `
INSERT IGNORE INTO queue_groups (queue, group_key, updated_at)
SELECT :queue, j.group_key, :now
FROM JSON_TABLE(:groups, '$[*]' COLUMNS (group_key VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PATH '$')) AS j`;

/** Adds the rows of groups not seen before (safe to re-send). */
export async function ensureGroups(db: Db, input: { queue: string; groups: readonly string[]; now: Date }): Promise<void> {
  if (input.groups.length === 0) return;
  await db.execute(ENSURE_GROUPS, { queue: input.queue, groups: input.groups, now: input.now }, { idempotent: true });
}

/*
 * Rate permit rows, slots 0 to n-1 of each group given (a rate raised needs more; rows beyond a
 * lowered rate stay and are never taken: the claim pairs only slots below ceil(rate)).
 */
const ENSURE_GROUP_PERMITS = `
INSERT IGNORE INTO queue_group_permits (queue, group_key, slot, free_at)
SELECT :queue, j.group_key, s.slot, :now
FROM JSON_TABLE(:groups, '$[*]' COLUMNS (
  group_key VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PATH '$[0]',
  slots     INT UNSIGNED PATH '$[1]'
)) AS j
JOIN JSON_TABLE(:slots, '$[*]' COLUMNS (slot INT UNSIGNED PATH '$')) AS s ON s.slot < j.slots`;

/** Adds rate permits so each group has `slots` of them (safe to re-send). */
export async function ensureGroupPermits(db: Db, input: { queue: string; groups: ReadonlyMap<string, number>; now: Date }): Promise<void> {
  if (input.groups.size === 0) return;
  const most = Math.max(...input.groups.values());
  await db.execute(
    ENSURE_GROUP_PERMITS,
    { queue: input.queue, groups: [...input.groups], slots: Array.from({ length: most }, (_, slot) => slot), now: input.now },
    { idempotent: true },
  );
}

/**
 * A group's messages in flight: running under a live lease, read on the group-lease index (the
 * claim names it: see CLAIM_GROUP_MESSAGES). Also what operators see as a group's running count.
 */
export const groupRunning = (group: string, indexHint = '') => `(SELECT COUNT(*) FROM queue_messages AS r ${indexHint}
              WHERE r.queue = :queue AND r.group_lease = ${group} AND r.available_at > :now)`;

/** A group's rate as the claim computes it: the override, else the queue's (NULL: no limit). */
const GROUP_RATE = 'COALESCE(gr.rate_per_second, :ratePerSecond)';

/*
 * The lease. The derived table `g` locks the candidates' group rows FOR UPDATE SKIP LOCKED (a
 * paused group is not read): a group another drain is claiming from right now is passed over,
 * never waited on, and while this statement holds a group's row no other claim can lease from
 * it. Holding it, the statement counts the group's messages in flight (running under a live
 * lease, ix_queue_messages_group_lease: a locking read, so it sees every claim that held the row
 * before, committed), and takes the group's candidates in order while in flight stays within its
 * concurrency. A rate-limited group also needs one free rate permit per message: its free permits
 * (FOR UPDATE SKIP LOCKED, as queue_permits) are numbered and paired with its candidates by number,
 * as lib/sql/permits.ts pairs rate and run permits, and each permit taken is free again a window
 * later. :limit caps the whole claim, in the candidates' order (fair or not).
 *
 * The outer UPDATE re-checks each picked message on its locked row (unfinished, due, still of the
 * group): a candidate another claim took meanwhile is left, and its permit too (same joined row).
 * A candidate counted but not taken only makes the claim take fewer, never more.
 */
const claimGroupMessagesSql = (inFlightIndex: string) => `
UPDATE (
  SELECT c.id, c.group_key, rp.slot AS rate_slot, c.rate_window_ms
  FROM (
    SELECT cand.id, cand.group_key, cand.ord,
           ROW_NUMBER() OVER (PARTITION BY cand.group_key ORDER BY cand.ord) AS k,
           g.run_limit, g.in_flight, g.rate_slots, g.rate_window_ms
    FROM JSON_TABLE(:candidates, '$[*]' COLUMNS (
      ord       FOR ORDINALITY,
      id        CHAR(36) CHARACTER SET ascii COLLATE ascii_bin PATH '$[0]',
      group_key VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PATH '$[1]'
    )) AS cand
    STRAIGHT_JOIN (
      SELECT gr.group_key,
             COALESCE(gr.concurrency, :concurrency) AS run_limit,
             CEIL(${GROUP_RATE}) AS rate_slots,
             CEIL(CEIL(${GROUP_RATE}) * 1000 / ${GROUP_RATE}) + ${RATE_WINDOW_SLACK_MS} AS rate_window_ms,
             ${groupRunning('gr.group_key', inFlightIndex)} AS in_flight
      FROM queue_groups AS gr FORCE INDEX (PRIMARY)
      WHERE gr.queue = :queue AND gr.paused = 0 AND gr.group_key IN (
        SELECT j.group_key FROM JSON_TABLE(:groups, '$[*]' COLUMNS (group_key VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PATH '$')) AS j
      )
      FOR UPDATE SKIP LOCKED
    ) AS g ON g.group_key = cand.group_key
  ) AS c
  LEFT JOIN (
    SELECT f.group_key, f.slot, ROW_NUMBER() OVER (PARTITION BY f.group_key ORDER BY f.free_at, f.slot) AS k
    FROM (
      SELECT p.group_key, p.slot, p.free_at
      FROM queue_group_permits AS p FORCE INDEX (PRIMARY)
      STRAIGHT_JOIN queue_groups AS gs FORCE INDEX (PRIMARY) ON gs.queue = :queue AND gs.group_key = p.group_key
      WHERE p.queue = :queue AND p.free_at <= :now AND :rateLimited = 1
        AND p.slot < CEIL(COALESCE(gs.rate_per_second, :ratePerSecond)) AND p.group_key IN (
        SELECT j.group_key FROM JSON_TABLE(:groups, '$[*]' COLUMNS (group_key VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PATH '$')) AS j
      )
      FOR UPDATE SKIP LOCKED
    ) AS f
  ) AS rp ON rp.group_key = c.group_key AND rp.k = c.k
  WHERE (c.run_limit IS NULL OR c.k + c.in_flight <= c.run_limit)
    AND (c.rate_slots IS NULL OR rp.slot IS NOT NULL)
  ORDER BY c.ord
  LIMIT :limit
) AS due
STRAIGHT_JOIN queue_messages AS m FORCE INDEX (PRIMARY) ON m.id = due.id
LEFT JOIN queue_group_permits AS p FORCE INDEX (PRIMARY) ON p.queue = :queue AND p.group_key = due.group_key AND p.slot = due.rate_slot
${LEASE_SET},
    p.free_at = :now + INTERVAL due.rate_window_ms * 1000 MICROSECOND,
    p.held_by = :leaseToken,
    p.window_ms = due.rate_window_ms
WHERE m.queue = :queue AND m.finished_at IS NULL AND m.available_at <= :now AND m.group_head = due.group_key`;

/*
 * The in-flight count is a locking read, so its plan matters: on the group-lease index it reads
 * only the group's running rows; left to itself, the optimizer may scan a small table whole, and
 * that scan waits on any producer's uncommitted message (an open outbox transaction) until it
 * commits (test/drain/groupLimits.test.ts, the outbox case). Hence the hint. While a migration
 * rebuilds that index (as 010 did) the hinted statement fails with 1176, and the claim runs
 * unhinted until the index is back.
 */
const CLAIM_GROUP_MESSAGES = claimGroupMessagesSql('FORCE INDEX (ix_queue_messages_group_lease)');
const CLAIM_GROUP_MESSAGES_UNHINTED = claimGroupMessagesSql('');

/** MySQL 1176: an index named in a hint does not exist. */
const NO_SUCH_INDEX = 1176;

export interface ClaimGroupMessagesInput {
  queue: string;
  /** Candidates from findGroupCandidates, in claim order. */
  candidates: readonly Pick<GroupCandidate, 'id' | 'groupKey'>[];
  limit: number;
  /** The queue's declared per-group limits (a group's override wins); undefined: none. */
  concurrency: number | undefined;
  ratePerSecond: number | undefined;
  /** Any group may be rate-limited (the queue's rate, or an override among the candidates). */
  rateLimited: boolean;
  leaseToken: string;
  now: Date;
  leaseUntil: Date;
}

/**
 * Leases up to `limit` candidates that their groups' limits allow; returns how many rows changed
 * (messages plus the rate permits they took). The claim reads its messages back by lease token.
 */
export async function claimGroupMessages(db: Db, input: ClaimGroupMessagesInput): Promise<number> {
  if (input.candidates.length === 0 || input.limit <= 0) return 0;
  const groups = [...new Set(input.candidates.map((c) => c.groupKey))];
  const params = {
    queue: input.queue,
    candidates: input.candidates.map((c) => [c.id, c.groupKey]),
    groups,
    limit: input.limit,
    concurrency: input.concurrency ?? null,
    ratePerSecond: input.ratePerSecond ?? null,
    rateLimited: input.rateLimited ? 1 : 0,
    leaseToken: input.leaseToken,
    now: input.now,
    leaseUntil: input.leaseUntil,
  };
  try {
    return (await db.execute(CLAIM_GROUP_MESSAGES, params)).numberOfRecordsUpdated;
  } catch (error) {
    if (!(error instanceof DatabaseError) || error.mysqlCode !== NO_SUCH_INDEX) throw error;
    return (await db.execute(CLAIM_GROUP_MESSAGES_UNHINTED, params)).numberOfRecordsUpdated;
  }
}

/*
 * A group's rate permit vouches for starts a window apart from its free_at back. A claim that
 * reaches its drain after its messages' start time (slow round trips) moves its permits' free_at
 * to a window after `startAt`, their actual start (never earlier), before they start, as
 * lib/sql/permits.ts EXTEND_RATE_PERMITS does for a queue's. Each permit keeps the window it was
 * taken with (a group's own rate may differ from the queue's). Matched rows: a permit another
 * drain took meanwhile (its window had passed) is not matched, and the count falls short.
 */
const EXTEND_GROUP_RATE_PERMITS = `
UPDATE queue_group_permits FORCE INDEX (ix_queue_group_permits_holder)
SET free_at = GREATEST(free_at, :startAt + INTERVAL window_ms * 1000 MICROSECOND)
WHERE queue = :queue AND held_by = :leaseToken`;

/** Keeps a late claim's group rate permits until a window after `startAt`; returns how many it still held. */
export async function extendGroupRatePermits(db: Db, input: { queue: string; leaseToken: string; startAt: Date }): Promise<number> {
  const { numberOfRecordsUpdated } = await db.execute(EXTEND_GROUP_RATE_PERMITS, input, { idempotent: true });
  return numberOfRecordsUpdated;
}

export {
  CLAIM_GROUP_MESSAGES,
  EXTEND_GROUP_RATE_PERMITS,
  CLAIM_GROUP_MESSAGES_UNHINTED,
  ENSURE_GROUP_PERMITS,
  ENSURE_GROUPS,
  FIND_FAIR_GROUP_CANDIDATES,
  FIND_GROUP_CANDIDATES,
};
