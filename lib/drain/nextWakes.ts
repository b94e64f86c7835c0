import type { App } from '../app.js';
import { nextSlot } from '../recurring.js';
import type { QueueOverview } from '../sql/queueBacklog.js';

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
 * earliest live message, a retry, a delayed message, a lease that ends, from the run's last read
 * of the queues; or its next recurring slot), and the queue's timed wake set for then
 * (lib/timedWakes.ts): a call per queue that has something coming, and only then. A queue with
 * nothing live and no recurring slot costs nothing, so an idle deployment ends its run and stays idle.
 */
export async function setNextWakes(app: App, overview: ReadonlyMap<string, QueueOverview>, queues: readonly string[]): Promise<WakeCounts | undefined> {
  const wakes = app.timedWakes;
  if (wakes === undefined || queues.length === 0) return undefined;
  const counts: WakeCounts = { set: 0, pending: 0, failed: 0, failedQueues: [] };
  const due = new Map<string, Date>();
  for (const queue of queues) {
    const at = overview.get(queue)?.nextDueAt;
    if (at !== undefined) due.set(queue, at);
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
