import type { App } from '../app.js';
import { describeError } from '../errors.js';
import { nextSlot } from '../recurring.js';
import { nextDueAtByQueue } from '../sql/wakeAt.js';
import type { DrainLog } from './types.js';

/** What a run's timed wakes did: set (a Scheduler call), already pending, or failed. */
export interface WakeCounts {
  set: number;
  pending: number;
  failed: number;
  /** The queues whose wake failed (a metric each). */
  failedQueues: string[];
}

/**
 * As a run ends: for each queue it drained, the earliest time a drain is needed again (its
 * earliest live message, a retry, a delayed message, a lease that ends; or its next recurring
 * slot), and the queue's timed wake set for then (lib/timedWakes.ts). One read for every queue,
 * then a call per queue that has something coming; a queue with nothing live and no recurring
 * slot costs nothing more, so an idle deployment ends its run and stays idle.
 */
export async function setNextWakes(app: App, queues: readonly string[], log: DrainLog): Promise<WakeCounts | undefined> {
  const wakes = app.timedWakes;
  if (wakes === undefined || queues.length === 0) return undefined;
  const counts: WakeCounts = { set: 0, pending: 0, failed: 0, failedQueues: [] };
  let due: Map<string, Date>;
  try {
    due = await nextDueAtByQueue(app.db, queues);
  } catch (error) {
    counts.failed += queues.length;
    counts.failedQueues.push(...queues);
    log.warn('could not read when messages come due; the safety-net schedule drains them', { error: describeError(error) });
    return counts;
  }
  const now = app.clock.now();
  for (const plan of app.recurring.plans) {
    if (!queues.includes(plan.queue)) continue;
    const slot = nextSlot(plan, now);
    const known = due.get(plan.queue);
    if (slot !== undefined && (known === undefined || slot < known)) due.set(plan.queue, slot);
  }
  await Promise.all(
    [...due].map(async ([queue, at]) => {
      const result = await wakes.ensure(queue, at);
      counts[result]++;
      if (result === 'failed') counts.failedQueues.push(queue);
    }),
  );
  return counts;
}
