import type { Db } from '../db/types.js';

/*
 * A row per queue, so that claimWake is a single UPDATE whose row count alone says whether this
 * caller won the wake (an UPDATE that changes a column reports 1 whether the Data API counts
 * matched or changed rows; an INSERT … ON DUPLICATE KEY UPDATE would not). Run once per process.
 */
const ENSURE_QUEUE_STATES = `
INSERT INTO queue_state (queue, updated_at)
SELECT q.queue, :now
FROM JSON_TABLE(:queues, '$[*]' COLUMNS (queue VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin PATH '$')) AS q
ON DUPLICATE KEY UPDATE queue_state.queue = queue_state.queue`;

export async function ensureQueueStates(db: Db, queues: readonly string[], now: Date): Promise<void> {
  if (queues.length === 0) return;
  await db.execute(ENSURE_QUEUE_STATES, { queues: JSON.stringify(queues), now }, { idempotent: true });
}

/*
 * The queue's wake state, read before trying to take the wake: most checks find a promise or a
 * recent wake and end here, with one read and no row lock; a missing row shows as no row.
 */
const READ_WAKE_STATE = `
SELECT drain_active_until, woken_at FROM queue_state WHERE queue = :queue`;

export interface WakeState {
  /** A drain run promises to poll the queue until then. */
  drainActiveUntil: Date | null;
  /** The last wake taken. */
  wokenAt: Date | null;
}

/** The queue's row, or undefined when it has none (removed under a running process: a table reset). */
export async function readWakeState(db: Db, queue: string): Promise<WakeState | undefined> {
  const [row] = await db.query(READ_WAKE_STATE, { queue }, { idempotent: true });
  if (row === undefined) return undefined;
  return { drainActiveUntil: (row.drain_active_until as Date | null) ?? null, wokenAt: (row.woken_at as Date | null) ?? null };
}

/*
 * Takes the queue's wake when no drain run promises to poll it until at least :activeBefore and
 * no wake was taken since :wokenBefore. Concurrent callers race on the row lock; one wins.
 */
const CLAIM_WAKE = `
UPDATE queue_state
SET woken_at = :now, updated_at = :now
WHERE queue = :queue
  AND (drain_active_until IS NULL OR drain_active_until < :activeBefore)
  AND (woken_at IS NULL OR woken_at < :wokenBefore)`;

export interface ClaimWakeInput {
  queue: string;
  now: Date;
  /** A drain promising to poll until this moment or later makes a wake unnecessary. */
  activeBefore: Date;
  /** A wake taken after this moment is still on its way. */
  wokenBefore: Date;
}

/** True when this caller should invoke a drain for the queue. Not idempotent: a re-sent call could win twice. */
export async function claimWake(db: Db, input: ClaimWakeInput): Promise<boolean> {
  const result = await db.execute(CLAIM_WAKE, { ...input });
  return result.numberOfRecordsUpdated > 0;
}

/* Extends, never shortens, the promise of a drain run to poll the queue until :until. */
const EXTEND_DRAIN_ACTIVITY = `
INSERT INTO queue_state (queue, drain_active_until, updated_at) VALUES (:queue, :until, :now)
ON DUPLICATE KEY UPDATE
  drain_active_until = GREATEST(COALESCE(queue_state.drain_active_until, :until), :until),
  updated_at = :now`;

export async function extendDrainActivity(db: Db, input: { queue: string; until: Date; now: Date }): Promise<void> {
  await db.execute(EXTEND_DRAIN_ACTIVITY, { ...input }, { idempotent: true });
}

/*
 * Takes back a drain run's promise that it can no longer keep (it stopped claiming early): only
 * while the row still holds exactly that promise, not one another run has since made further.
 */
const WITHDRAW_DRAIN_ACTIVITY = `
UPDATE queue_state SET drain_active_until = :now, updated_at = :now
WHERE queue = :queue AND drain_active_until = :until`;

export async function withdrawDrainActivity(db: Db, input: { queue: string; until: Date; now: Date }): Promise<void> {
  await db.execute(WITHDRAW_DRAIN_ACTIVITY, { ...input }, { idempotent: true });
}
