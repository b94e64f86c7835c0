import type { Db } from '../db/types.js';
import { LEASE_DUE, LEASE_SET, lease } from './claimBatch.js';
import { GROUP_LEASE_INDEX, groupRunning, withGroupLeaseIndex } from './groupLeaseIndex.js';
import { RATE_WINDOW_SLACK_MS } from './permits.js';

/** Whether any group of the queue has an override of its concurrency or rate (an index dive each, migration 014). */
const ANY_GROUP_OVERRIDE = `(EXISTS (
      SELECT 1 FROM queue_groups AS oc FORCE INDEX (ix_queue_groups_concurrency) WHERE oc.queue = :queue AND oc.concurrency IS NOT NULL
    ) OR EXISTS (
      SELECT 1 FROM queue_groups AS orr FORCE INDEX (ix_queue_groups_rate) WHERE orr.queue = :queue AND orr.rate_per_second IS NOT NULL
    ))`;

/** Leaves out the messages of the queue's paused groups (a short list, on its own index). */
const NOT_PAUSED = (groupHead: string) => `${groupHead} NOT IN (
        SELECT pg.group_key FROM queue_groups AS pg FORCE INDEX (ix_queue_groups_paused) WHERE pg.queue = :queue AND pg.paused = 1
      )`;

/**
 * The queue's groups with as many messages running under a live lease as their concurrency allows:
 * a range over running messages (group_lease NOT NULL), whatever the statistics say.
 */
const GROUPS_AT_CONCURRENCY = `
        SELECT f.group_key
        FROM (
          SELECT r.group_lease AS group_key, COUNT(*) AS running
          FROM queue_messages AS r ${GROUP_LEASE_INDEX}
          WHERE r.group_lease IS NOT NULL AND r.queue = :queue AND r.available_at > :now
          GROUP BY r.group_lease
        ) AS f
        LEFT JOIN queue_groups AS fg FORCE INDEX (PRIMARY) ON fg.queue = :queue AND fg.group_key = f.group_key
        WHERE f.running >= COALESCE(fg.concurrency, :concurrency)`;

/*
 * Leaves out the messages of the queue's paused groups (a short list, on its own index) and of its
 * groups at their concurrency (the queue's :concurrency or the group's override): those could not
 * be leased, and a read that kept them would fill itself with one capped group's backlog while
 * another group's messages wait behind it. Counted from the messages running under a live lease,
 * so its cost follows what is in flight, not the backlog; the lease re-checks every limit.
 */
const NOT_HELD_BACK = (groupHead: string) => `${NOT_PAUSED(groupHead)} AND ${groupHead} NOT IN (${GROUPS_AT_CONCURRENCY}
      )`;

/**
 * Whether a group at its concurrency has a due message: the queue is not dry, only held back (the
 * drain claims again as messages end). Per such group, its unfinished messages from the group index
 * until a due one.
 */
const HELD_BACK_DUE = `EXISTS (
    SELECT 1 FROM (${GROUPS_AT_CONCURRENCY}
    ) AS h
    STRAIGHT_JOIN queue_messages AS x FORCE INDEX (ix_queue_messages_group) ON x.queue = :queue AND x.group_head = h.group_key
    WHERE x.available_at <= :now
  )`;

/*
 * The claim of a queue declared with `groups` (keyed flow control, schema/migrations/013): per
 * group at most `concurrency` messages in flight and `ratePerSecond` starts a second, across every
 * drain, optionally fair across groups; per-group overrides and pause live in queue_groups.
 *
 * Two statements, for the reasons the FIFO claim gives (lib/sql/claimGroupHeads.ts): a plain read
 * that picks the candidates (a consistent read: it waits on no producer's open transaction), then
 * one UPDATE that leases those its groups' limits allow.
 *
 * Not fair, the read numbers each group's unfinished messages in id (enqueue) order from the group
 * index (queue, group_head, id) alone, keeps each group's first :perGroup, and orders the due ones
 * by priority, then due time, so the oldest due come first whatever their group. Its cost follows
 * the queue's unfinished messages (an index-only scan), not the finished history. The numbering
 * holds ids only (the temporary table it fills is as narrow as it can be), the messages of paused
 * groups and of groups at their concurrency are left out before they are numbered, and the groups'
 * settings are read for the :limit candidates kept, not for every row.
 *
 * Fair, each message has its turn within its group from its enqueue (lib/sql/fairRounds.ts), and
 * the read takes the first :limit due ones in (priority, turn) order from the fair index alone
 * (schema/migrations/014): every group's next message before any group's one after, so a backlog
 * of 50,000 in one group puts the next group's first message behind at most one message of it.
 * Its cost follows what it takes plus the queue's grouped messages that are not due yet and hold
 * an earlier turn (running, retrying, delayed: passed over in the index), not the backlog.
 */
/** Each group's unfinished messages, numbered in enqueue order within their group (groups held back left out). */
const NUMBERED = `
    SELECT r.id, r.n
    FROM (
      SELECT id, ROW_NUMBER() OVER (PARTITION BY group_head ORDER BY id) AS n
      FROM queue_messages FORCE INDEX (ix_queue_messages_group)
      WHERE queue = :queue AND group_head IS NOT NULL AND ${NOT_HELD_BACK('group_head')}
    ) AS r
    WHERE r.n <= :perGroup`;

/**
 * The candidates' group settings and rate permit count, for `picked` (id, group_key and its order
 * columns); and in every row, whether groups at their concurrency hold due messages back. Never
 * empty: without candidates, one row with a NULL id says that.
 */
const withGroupSettings = (picked: string, order: string) => `
SELECT hb.held_back, hb.overridden, t.id, t.group_key, g.concurrency, g.rate_per_second, (g.queue IS NOT NULL) AS known,
       (SELECT COUNT(*) FROM queue_group_permits AS p FORCE INDEX (PRIMARY)
        WHERE p.queue = :queue AND p.group_key = t.group_key) AS rate_slots
FROM (SELECT ${HELD_BACK_DUE} AS held_back, ${ANY_GROUP_OVERRIDE} AS overridden) AS hb
LEFT JOIN (${picked}
) AS t ON 1 = 1
LEFT JOIN queue_groups AS g FORCE INDEX (PRIMARY) ON g.queue = :queue AND g.group_key = t.group_key
ORDER BY ${order}`;

const FIND_GROUP_CANDIDATES = withGroupSettings(
  `
  SELECT m.id, m.group_head AS group_key, m.priority, m.available_at
  FROM (${NUMBERED}
  ) AS c
  STRAIGHT_JOIN queue_messages AS m FORCE INDEX (PRIMARY) ON m.id = c.id
  WHERE m.finished_at IS NULL AND m.available_at <= :now
  ORDER BY m.priority DESC, m.available_at, m.id
  LIMIT :limit`,
  't.priority DESC, t.available_at, t.id',
);

/** In the fair index's own order (schema/migrations/014), so a read stops at its :limit-th due row. */
export const FAIR_ORDER = (m: string) => `${m}.priority DESC, ${m}.fair_round, ${m}.fair_due_at, ${m}.group_head`;

const FIND_FAIR_GROUP_CANDIDATES = withGroupSettings(
  `
  SELECT m.id, m.group_head AS group_key, m.priority, m.fair_round, m.fair_due_at, m.group_head
  FROM queue_messages AS m FORCE INDEX (ix_queue_messages_fair)
  WHERE m.group_queue = :queue AND m.fair_due_at <= :now AND ${NOT_HELD_BACK('m.group_head')}
  ORDER BY ${FAIR_ORDER('m')}
  LIMIT :limit`,
  `${FAIR_ORDER('t')}, t.id`,
);

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

export type FindGroupCandidatesInput = {
  queue: string;
  now: Date;
  /** Candidates returned at most. */
  limit: number;
  /** The queue's declared concurrency per group (a group's override wins); undefined: none. */
  concurrency: number | undefined;
} & (
  | { fair: true }
  /** Not fair: of each group, its first `perGroup` unfinished messages are looked at. */
  | { fair: false; perGroup: number }
);

export interface GroupCandidates {
  /** In claim order. */
  candidates: GroupCandidate[];
  /** Groups at their concurrency have due messages: the queue is held back, not dry. */
  heldBack: boolean;
  /** Some group of the queue has an override of its concurrency or rate. */
  overridden: boolean;
}

/** Due messages of a grouped queue whose groups are neither paused nor at their concurrency; locks nothing, waits on nothing. */
export async function findGroupCandidates(db: Db, input: FindGroupCandidatesInput): Promise<GroupCandidates> {
  const params = { queue: input.queue, now: input.now, limit: input.limit, concurrency: input.concurrency ?? null };
  const [sql, sqlParams] = input.fair ? [FIND_FAIR_GROUP_CANDIDATES, params] : ([FIND_GROUP_CANDIDATES, { ...params, perGroup: input.perGroup }] as const);
  const rows = await withGroupLeaseIndex(sql, (text) => db.query(text, sqlParams, { idempotent: true }));
  const candidates = rows
    .filter((row) => row.id != null)
    .map((row) => ({
      id: row.id as string,
      groupKey: row.group_key as string,
      known: Number(row.known) === 1,
      concurrency: row.concurrency == null ? null : Number(row.concurrency),
      ratePerSecond: row.rate_per_second == null ? null : Number(row.rate_per_second),
      rateSlots: Number(row.rate_slots ?? 0),
    }));
  return { candidates, heldBack: Number(rows[0]?.held_back ?? 0) === 1, overridden: Number(rows[0]?.overridden ?? 0) === 1 };
}

/*
 * A fair queue without per-group limits (no concurrency or rate declared) needs none of the
 * lease's group locking while no group has an override: one statement claims the first due
 * messages in fair order, as the plain claim does (lib/sql/claimBatch.ts), skipping rows a
 * concurrent claim or an uncommitted producer holds. A paused group is left out. While any group
 * of the queue has an override (concurrency or rate), it takes nothing, and the claim goes the
 * two-statement way; the override counts from the very next claim.
 */
const CLAIM_FAIR_MESSAGES = `
UPDATE (
  SELECT id FROM queue_messages FORCE INDEX (ix_queue_messages_fair)
  WHERE group_queue = :queue AND fair_due_at <= :now AND ${NOT_PAUSED('group_head')} AND NOT ${ANY_GROUP_OVERRIDE}
  ORDER BY ${FAIR_ORDER('queue_messages')}
  LIMIT :limit
  FOR UPDATE SKIP LOCKED
) AS due
${LEASE_DUE}`;

/** Leases up to `limit` due messages of a fair queue without per-group limits; 0 also while any group has an override. */
export async function claimFairMessages(db: Db, input: { queue: string; limit: number; leaseToken: string; now: Date; leaseUntil: Date }): Promise<number> {
  return lease(db, CLAIM_FAIR_MESSAGES, { ...input });
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
const CLAIM_GROUP_MESSAGES = `
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
             ${groupRunning('gr.group_key', GROUP_LEASE_INDEX)} AS in_flight
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
  const { numberOfRecordsUpdated } = await withGroupLeaseIndex(CLAIM_GROUP_MESSAGES, (sql) => db.execute(sql, params));
  return numberOfRecordsUpdated;
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
  CLAIM_FAIR_MESSAGES,
  CLAIM_GROUP_MESSAGES,
  EXTEND_GROUP_RATE_PERMITS,
  ENSURE_GROUP_PERMITS,
  ENSURE_GROUPS,
  FIND_FAIR_GROUP_CANDIDATES,
  FIND_GROUP_CANDIDATES,
};
