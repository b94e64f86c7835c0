import type { Db } from '../db/types.js';

/*
 * Takes the right to set the queue's timed wake for :at (lib/timedWakes.ts): when no wake is
 * pending, the pending one is later than :at, or it is older than :firedBefore (its time passed
 * long enough ago that it has fired and its run, which clears it, must have failed). A wake whose
 * time has come but that has not fired yet (the Scheduler fires within its minute) still stands:
 * replacing it with a later one would leave its message waiting for the safety net. The row
 * count alone says whether this caller won (it changes wake_at whenever it matches), so
 * concurrent setters race on the row lock and the earlier time wins. Not re-sent: a second run
 * would find its own :at and report 0.
 */
const CLAIM_WAKE_AT = `
UPDATE queue_state SET wake_at = :at, updated_at = :now
WHERE queue = :queue AND (wake_at IS NULL OR wake_at < :firedBefore OR wake_at > :at)`;

/** True when this caller should set the queue's schedule to `at`. */
export async function claimWakeAt(db: Db, input: { queue: string; at: Date; now: Date; firedBefore: Date }): Promise<boolean> {
  const result = await db.execute(CLAIM_WAKE_AT, { ...input });
  return result.numberOfRecordsUpdated > 0;
}

/* The queue's pending wake as stored: what a setter re-reads once its Scheduler call is done. */
const READ_WAKE_AT = `SELECT wake_at FROM queue_state WHERE queue = :queue`;

export async function readWakeAt(db: Db, queue: string): Promise<Date | undefined> {
  const [row] = await db.query(READ_WAKE_AT, { queue }, { idempotent: true });
  return row?.wake_at instanceof Date ? row.wake_at : undefined;
}

/*
 * Gives back a wake: one that could not be set (the next run or enqueue tries again), or the one
 * that started a run (it has fired). Only while the row still holds that time, not one another
 * caller has set since.
 */
const RELEASE_WAKE_AT = `
UPDATE queue_state SET wake_at = NULL, updated_at = :now WHERE queue = :queue AND wake_at = :at`;

export async function releaseWakeAt(db: Db, input: { queue: string; at: Date; now: Date }): Promise<void> {
  await db.execute(RELEASE_WAKE_AT, { ...input }, { idempotent: true });
}

/*
 * Forgets every pending wake: for a Scheduler that lost its schedules (the local one keeps them in
 * memory, so `npm start` clears these as it starts); a wake left pending with no schedule behind
 * it would keep later ones from being set until it went stale.
 */
const CLEAR_ALL_WAKES = `UPDATE queue_state SET wake_at = NULL WHERE wake_at IS NOT NULL`;

export async function clearAllWakes(db: Db): Promise<number> {
  return (await db.execute(CLEAR_ALL_WAKES, {}, { idempotent: true })).numberOfRecordsUpdated;
}
