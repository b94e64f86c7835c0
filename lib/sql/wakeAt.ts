import type { Db } from '../db/types.js';

/*
 * Takes the right to set the queue's timed wake for :at (lib/timedWakes.ts): when no wake is
 * pending, the pending one has passed, or it is later than :at. The row count alone says whether
 * this caller won (it changes wake_at whenever it matches), so concurrent setters race on the row
 * lock and the earlier time wins. Not re-sent: a second run would find its own :at and report 0.
 */
const CLAIM_WAKE_AT = `
UPDATE queue_state SET wake_at = :at, updated_at = :now
WHERE queue = :queue AND (wake_at IS NULL OR wake_at <= :now OR wake_at > :at)`;

/** True when this caller should set the queue's schedule to `at`. */
export async function claimWakeAt(db: Db, input: { queue: string; at: Date; now: Date }): Promise<boolean> {
  const result = await db.execute(CLAIM_WAKE_AT, { ...input });
  return result.numberOfRecordsUpdated > 0;
}

/*
 * Gives back a wake that could not be set, so the next run or enqueue tries again: only while the
 * row still holds this caller's time, not one another caller has set since.
 */
const RELEASE_WAKE_AT = `
UPDATE queue_state SET wake_at = NULL, updated_at = :now WHERE queue = :queue AND wake_at = :at`;

export async function releaseWakeAt(db: Db, input: { queue: string; at: Date; now: Date }): Promise<void> {
  await db.execute(RELEASE_WAKE_AT, { ...input }, { idempotent: true });
}
