import type { Db } from '../db/types.js';
import { namedList } from './namedList.js';

/*
 * Queue-wide limits as permit rows (schema/migrations/006): a claim on a limited queue first takes
 * one permit of each limited kind per message it may claim, in one statement, and then claims at
 * most that many messages. Rows, not a counter, because the Data API returns no values from an
 * UPDATE: the statement's affected-row count is the grant. And rows are what SKIP LOCKED is good
 * at: concurrent drains take disjoint permits without waiting on each other.
 *
 * - 'rate' permits: ceil(ratePerSecond) of them, each reusable `windowMs` after it was taken
 *   (1 s for a whole rate), so no window of that length starts more than the rate allows, however
 *   many drains run. A permit taken and not used is given back (returnUnusedPermits).
 * - 'run' permits: `concurrency` of them, held by a claim (held_by: its lease token) until its
 *   handlers end (releaseRunPermits), and never past its lease (free_at), so a crashed drain holds
 *   the queue's capacity no longer than its lease.
 *
 * The number of a kind's permits is the config's: rows beyond it (a limit lowered) are never
 * taken (`slot < :slots`), missing rows (a limit raised) are added by ensurePermits.
 */

export interface PermitLimits {
  /** 'rate' permits (ceil of the rate) and how long each stays taken. */
  rate?: { slots: number; windowMs: number };
  /** 'run' permits: the queue-wide concurrency. */
  run?: { slots: number };
}

/**
 * Added to every rate permit's window: a message starts a fixed delay after its permit was taken
 * (lib/drain/claim.ts RATE_START_DELAY_MS), but a starved process can start it later than that,
 * and the permit's next use must still come a full window after. The price: a queue at its rate
 * runs at 1000 / 1050 of it (about 95 %), never above it.
 */
export const RATE_WINDOW_SLACK_MS = 50;

/** How long a rate permit stays taken: `slots` permits then start at most `ratePerSecond` a second. */
export function ratePermits(ratePerSecond: number): { slots: number; windowMs: number } {
  const slots = Math.ceil(ratePerSecond);
  return { slots, windowMs: Math.ceil((slots * 1_000) / ratePerSecond) + RATE_WINDOW_SLACK_MS };
}

const ENSURE_PERMITS = `
INSERT INTO queue_permits (queue, kind, slot, free_at)
SELECT :queue, j.kind, j.slot, :now
FROM JSON_TABLE(:permits, '$[*]' COLUMNS (
  kind VARCHAR(4) CHARACTER SET ascii COLLATE ascii_bin PATH '$.kind',
  slot INT UNSIGNED                                     PATH '$.slot'
)) AS j
ON DUPLICATE KEY UPDATE slot = queue_permits.slot`;

/** Adds the permit rows a queue's limits need and does not have yet (existing rows are left as they are). */
export async function ensurePermits(db: Db, input: { queue: string; limits: PermitLimits; now: Date }): Promise<void> {
  const permits: { kind: string; slot: number }[] = [];
  for (const kind of ['rate', 'run'] as const) {
    const slots = input.limits[kind]?.slots ?? 0;
    for (let slot = 0; slot < slots; slot++) permits.push({ kind, slot });
  }
  if (permits.length === 0) return;
  await db.execute(ENSURE_PERMITS, { queue: input.queue, permits, now: input.now }, { idempotent: true });
}

/**
 * The free permits of one kind, longest free first, locked without waiting on other drains' picks.
 * Read in ix_queue_permits_free order (as the claim reads its index), so only free permits are
 * read, and SKIP LOCKED skips rows instead of waiting on them.
 */
const freePermits = (kind: 'rate' | 'run') => `
    SELECT slot FROM queue_permits FORCE INDEX (ix_queue_permits_free)
    WHERE queue = :queue AND kind = '${kind}' AND free_at <= :now AND slot < :${kind}Slots
    ORDER BY free_at
    LIMIT :want
    FOR UPDATE SKIP LOCKED`;

/*
 * One kind: the derived table picks and locks up to :want free permits, the join updates exactly
 * those (the same shape as the claim, lib/sql/claimBatch.ts, for the same reasons).
 */
const takeOneKind = (kind: 'rate' | 'run') => `
UPDATE (${freePermits(kind)}
) AS free
STRAIGHT_JOIN queue_permits AS p FORCE INDEX (PRIMARY) ON p.queue = :queue AND p.kind = '${kind}' AND p.slot = free.slot
SET p.free_at = :${kind}FreeAt, p.held_by = :leaseToken`;

/*
 * Both kinds: the free permits of each kind are numbered and paired by number, so the statement
 * takes k of each where k is the smaller count, and reports 2k rows. Rows one side picked beyond k
 * stay as they were (their locks end with the statement).
 */
const TAKE_BOTH = `
UPDATE (
  SELECT r.slot AS rate_slot, c.slot AS run_slot
  FROM (SELECT slot, ROW_NUMBER() OVER (ORDER BY slot) AS n FROM (${freePermits('rate')}) AS a) AS r
  STRAIGHT_JOIN (SELECT slot, ROW_NUMBER() OVER (ORDER BY slot) AS n FROM (${freePermits('run')}) AS b) AS c ON c.n = r.n
) AS pair
STRAIGHT_JOIN queue_permits AS pr FORCE INDEX (PRIMARY) ON pr.queue = :queue AND pr.kind = 'rate' AND pr.slot = pair.rate_slot
STRAIGHT_JOIN queue_permits AS pc FORCE INDEX (PRIMARY) ON pc.queue = :queue AND pc.kind = 'run' AND pc.slot = pair.run_slot
SET pr.free_at = :rateFreeAt, pr.held_by = :leaseToken, pc.free_at = :runFreeAt, pc.held_by = :leaseToken`;

const TAKE_RATE = takeOneKind('rate');
const TAKE_RUN = takeOneKind('run');

export interface TakePermitsInput {
  queue: string;
  limits: PermitLimits;
  /** Permits of each limited kind wanted: the messages the claim would take. */
  want: number;
  /** The claim's lease token: it holds the permits. */
  leaseToken: string;
  now: Date;
  /** The claim's lease deadline: run permits are free again then at the latest. */
  leaseUntil: Date;
}

/** Takes up to `want` permits of each limited kind (one call); returns how many messages they allow. */
export async function takePermits(db: Db, input: TakePermitsInput): Promise<number> {
  const { rate, run } = input.limits;
  if (input.want <= 0 || (rate === undefined && run === undefined)) return input.want;
  const params = {
    queue: input.queue,
    want: input.want,
    leaseToken: input.leaseToken,
    now: input.now,
    rateSlots: rate?.slots ?? 0,
    rateFreeAt: new Date(input.now.getTime() + (rate?.windowMs ?? 0)),
    runSlots: run?.slots ?? 0,
    runFreeAt: input.leaseUntil,
  };
  const sql = rate !== undefined && run !== undefined ? TAKE_BOTH : rate !== undefined ? TAKE_RATE : TAKE_RUN;
  const { numberOfRecordsUpdated } = await db.execute(sql, params);
  return rate !== undefined && run !== undefined ? numberOfRecordsUpdated / 2 : numberOfRecordsUpdated;
}

/*
 * A claim gives permits back in two ways: unused ones right after its claim, and run permits as its
 * handlers end. Either statement may be sent twice (lib/db/retry.ts re-sends an idempotent
 * statement whose reply was lost after it ran), so it names the state to reach, not an amount to
 * free: of the claim's permits still held, the first `keep` of each kind by slot stay held and the
 * rest are freed. A second run finds only `keep` held and frees nothing; releases of one claim that
 * overlap or arrive out of order leave the smallest `keep` held, since they all keep the same
 * lowest slots. (An amount, `LIMIT :count`, would free `count` more on a re-send: permits that
 * other handlers of the claim still hold.)
 */
const keepHeld = (kinds: string) => `
UPDATE (
  SELECT kind, slot FROM (
    SELECT kind, slot, ROW_NUMBER() OVER (PARTITION BY kind ORDER BY slot) AS n
    FROM queue_permits FORCE INDEX (ix_queue_permits_holder)
    WHERE queue = :queue AND held_by = :leaseToken AND kind IN (${kinds}) AND free_at > :now
  ) AS held
  WHERE n > :keep
) AS spare
STRAIGHT_JOIN queue_permits AS p FORCE INDEX (PRIMARY) ON p.queue = :queue AND p.kind = spare.kind AND p.slot = spare.slot
SET p.free_at = :now, p.held_by = NULL`;

/** Unused permits of every kind a claim took: it keeps as many of each as messages it claimed. */
const RETURN_UNUSED = keepHeld("'rate', 'run'");

/** Run permits only: rate permits stay taken until their window passes, for the messages did start. */
const RELEASE_RUN_PERMITS = keepHeld("'run'");

/** Which of a claim's permits to give back: `keep`, how many of each kind it still needs (safe to re-send). */
export type GiveBackInput = { queue: string; leaseToken: string; keep: number; now: Date };

/** Gives back the permits a claim took and could not use (the queue had fewer due messages). */
export async function returnUnusedPermits(db: Db, input: GiveBackInput): Promise<void> {
  await giveBack(db, input, RETURN_UNUSED);
}

/**
 * Some of a claim's handlers ended: its run permits beyond `keep` are free again. Returns how
 * many this call freed (0 when a re-send found them freed by its first run).
 */
export async function releaseRunPermits(db: Db, input: GiveBackInput): Promise<number> {
  return giveBack(db, input, RELEASE_RUN_PERMITS);
}

async function giveBack(db: Db, input: GiveBackInput, sql: string): Promise<number> {
  const params = { queue: input.queue, leaseToken: input.leaseToken, now: input.now, keep: Math.max(0, input.keep) };
  const { numberOfRecordsUpdated } = await db.execute(sql, params, { idempotent: true });
  return numberOfRecordsUpdated;
}

/*
 * A rate permit vouches for starts a window apart from its free_at back: a message started later
 * than its start time (a claim whose round trips outlasted the start delay, lib/drain/claim.ts)
 * needs its permit taken for a window from its actual start, or the permit's next use comes less
 * than a window after it. This moves the claim's rate permits' free_at to :freeAt (never earlier):
 * a time, not an amount, so a re-send after a lost reply finds them set and matches them again.
 * Only the claim's own permits (held_by): one another drain took meanwhile (its window had passed)
 * is not matched, and the count falls short.
 */
const EXTEND_RATE_PERMITS = `
UPDATE queue_permits FORCE INDEX (ix_queue_permits_holder) SET free_at = GREATEST(free_at, :freeAt)
WHERE queue = :queue AND held_by = :leaseToken AND kind = 'rate'`;

/**
 * Keeps a claim's rate permits taken until `freeAt`, before its late messages start. Returns how
 * many the claim still held (rows matched: the Data API counts found rows, not only changed ones);
 * fewer than its messages means some were another drain's by then, and the messages must not start.
 */
export async function extendRatePermits(db: Db, input: { queue: string; leaseToken: string; freeAt: Date }): Promise<number> {
  const { numberOfRecordsUpdated } = await db.execute(EXTEND_RATE_PERMITS, input, { idempotent: true });
  return numberOfRecordsUpdated;
}

/** Permits taken at `now`, by queue and kind: what the dashboard and stats show as in use. */
const permitsInUseSql = (queueParams: string) => `
SELECT queue, kind, COUNT(*) AS taken FROM queue_permits FORCE INDEX (ix_queue_permits_free)
WHERE queue IN (${queueParams}) AND free_at > :now
GROUP BY queue, kind`;

/** Permits in use of each queue given, in one call (none for no queues); a queue without permits counts 0 of each. */
export async function permitsInUse(db: Db, input: { queues: readonly string[]; now: Date }): Promise<Map<string, { rate: number; run: number }>> {
  const taken = new Map(input.queues.map((queue) => [queue, { rate: 0, run: 0 }]));
  if (input.queues.length === 0) return taken;
  const { placeholders, params } = namedList('queue', input.queues);
  const rows = await db.query(permitsInUseSql(placeholders), { ...params, now: input.now }, { idempotent: true });
  for (const row of rows) taken.get(row.queue as string)![row.kind as 'rate' | 'run'] = Number(row.taken);
  return taken;
}

export { ENSURE_PERMITS, EXTEND_RATE_PERMITS, RELEASE_RUN_PERMITS, RETURN_UNUSED, TAKE_BOTH, TAKE_RATE, TAKE_RUN };
