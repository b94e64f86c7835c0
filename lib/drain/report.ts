import type { App } from '../app.js';
import type { QueueMetricValues } from '../observability.js';
import { queueBacklog, type QueueBacklog } from '../sql/queueBacklog.js';
import type { DrainSummary } from './drain.js';

/**
 * The live backlog of every queue the run looked at, paused ones included: a paused queue's
 * oldest due age keeps growing, which is what its alarm is for. One index-only call per queue.
 */
export async function readBacklogs(app: App, summary: DrainSummary): Promise<Map<string, QueueBacklog>> {
  const queues = [...summary.queues.map((queue) => queue.queue), ...summary.pausedQueues];
  const now = app.clock.now();
  const backlogs = await Promise.all(queues.map((queue) => queueBacklog(app.db, queue, now)));
  return new Map(queues.map((queue, i) => [queue, backlogs[i]!]));
}

/** The per-queue metrics of a run (see lib/observability.ts), by queue. */
export function drainMetrics(summary: DrainSummary, backlogs: ReadonlyMap<string, QueueBacklog>): Map<string, QueueMetricValues> {
  const metrics = new Map<string, QueueMetricValues>();
  for (const queue of summary.queues) {
    metrics.set(queue.queue, {
      Dispatched: queue.dispatched,
      Succeeded: queue.done,
      Retried: queue.retried,
      DeadLettered: queue.dead,
      DrainDurationMs: summary.durationMs,
      ...(summary.wakes === undefined ? {} : { WakeFailures: summary.wakes.failedQueues.includes(queue.queue) ? 1 : 0 }),
    });
  }
  for (const [queue, backlog] of backlogs) {
    metrics.set(queue, { ...metrics.get(queue), QueueDepth: backlog.live, OldestDueAgeSeconds: backlog.oldestDueAgeSeconds });
  }
  return metrics;
}
