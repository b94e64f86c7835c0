import type { Db } from '../db/types.js';

const SET_QUEUE_PAUSED = `
INSERT INTO queue_state (queue, paused_at, updated_at) VALUES (:queue, :pausedAt, :now)
ON DUPLICATE KEY UPDATE paused_at = :pausedAt, updated_at = :now`;

/** Pausing keeps accepting messages but stops drain runs from claiming them. */
export async function setQueuePaused(db: Db, queue: string, paused: boolean, now: Date): Promise<void> {
  await db.execute(SET_QUEUE_PAUSED, { queue, pausedAt: paused ? now : null, now }, { idempotent: true });
}

const LIST_PAUSED_QUEUES = `SELECT queue FROM queue_state WHERE paused_at IS NOT NULL`;

export async function listPausedQueues(db: Db): Promise<Set<string>> {
  const rows = await db.query(LIST_PAUSED_QUEUES, {}, { idempotent: true });
  return new Set(rows.map((row) => row.queue as string));
}
