import type { Db } from '../db/types.js';
import type { QueueConfig } from '../queues.js';
import { deleteFinished } from '../sql/deleteFinished.js';

export interface RetentionInput {
  now: Date;
  batchSize: number;
  maxCalls: number;
  /** Checked before each call: a run out of time stops deleting (the next run carries on). */
  hasTime: () => boolean;
}

/** Finished before `before` (done, cancelled) or `deadBefore` (dead letters, when they expire) goes. */
export function retentionCutoffs(queue: QueueConfig, now: Date): { before: Date; deadBefore: Date | undefined } {
  const nowMs = now.getTime();
  const before = new Date(nowMs - queue.retentionSeconds * 1_000);
  const deadBefore = queue.deadRetentionSeconds === undefined ? undefined : new Date(nowMs - queue.deadRetentionSeconds * 1_000);
  return { before, deadBefore };
}

/**
 * Deletes a queue's finished messages past their retention, `batchSize` at a time and at most
 * `maxCalls` calls, so one run never holds locks for long and a backlog of history is worked off
 * over several runs. Dead letters go only when the queue sets `deadRetentionSeconds`.
 */
export async function deleteExpiredMessages(db: Db, queue: QueueConfig, input: RetentionInput): Promise<number> {
  const { before, deadBefore } = retentionCutoffs(queue, input.now);
  let deleted = 0;
  for (let call = 0; call < input.maxCalls && input.hasTime(); call++) {
    const n = await deleteFinished(db, { queue: queue.name, before, deadBefore, limit: input.batchSize });
    deleted += n;
    if (n < input.batchSize) break;
  }
  return deleted;
}
