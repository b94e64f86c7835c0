import type { App } from '../app.js';
import { nextSlot } from '../recurring.js';
import type { QueueOverview } from '../sql/queueOverview.js';
import type { LaneSummary, StopReason } from './laneTypes.js';

/** What a run's timed wakes did: set (a Scheduler call), already pending, or failed. */
export interface WakeCounts {
  set: number;
  pending: number;
  failed: number;
  /** The queues whose wake failed (a metric each). */
  failedQueues: string[];
}

/** Lanes that stopped with work left: a drain is needed again at once (within the Scheduler's minute). */
const STOPPED_WITH_WORK_LEFT: ReadonlySet<StopReason> = new Set(['time', 'max-messages', 'error', 'aborted']);

/**
 * As a run ends, each queue's timed wake (lib/timedWakes.ts) for the earliest time a drain is needed
 * again: at once when its lane stopped with due messages left; else the minute before its next
 * live message comes due (a delay, a retry, a lease's end; lib/sql/queueOverview.ts counts only
 * those still to come, so a due message nobody may claim yet wakes nothing) or its next recurring
 * slot, at the slot itself (the woken run enqueues the slot's message, which exists only from the
 * slot on). A call per queue that has something coming, and only then: an idle deployment ends
 * its run and stays idle.
 */
export async function setNextWakes(
  app: App,
  input: { overview: ReadonlyMap<string, QueueOverview>; lanes: readonly LaneSummary[]; queues: readonly string[] },
): Promise<WakeCounts | undefined> {
  const wakes = app.timedWakes;
  if (wakes === undefined || input.queues.length === 0) return undefined;
  const counts: WakeCounts = { set: 0, pending: 0, failed: 0, failedQueues: [] };
  const now = app.clock.now();
  const due = new Map<string, { at: Date; lead: boolean }>();
  const earlier = (queue: string, at: Date, lead: boolean) => {
    const known = due.get(queue);
    if (known === undefined || at < known.at) due.set(queue, { at, lead });
  };
  for (const queue of input.queues) {
    const overview = input.overview.get(queue);
    const lane = input.lanes.find((candidate) => candidate.queue === queue);
    if (overview?.dueNow === true && lane !== undefined && STOPPED_WITH_WORK_LEFT.has(lane.stoppedBecause)) earlier(queue, now, false);
    else if (overview?.nextDueAt !== undefined) earlier(queue, overview.nextDueAt, true);
  }
  for (const plan of app.recurring.plans) {
    if (!input.queues.includes(plan.queue)) continue;
    const slot = nextSlot(plan, now);
    if (slot !== undefined) earlier(plan.queue, slot, false);
  }
  await Promise.all(
    [...due].map(async ([queue, { at, lead }]) => {
      const result = await wakes.ensure(queue, at, { lead });
      counts[result]++;
      if (result === 'failed') counts.failedQueues.push(queue);
    }),
  );
  return counts;
}
