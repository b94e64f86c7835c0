import type { QueueMetricValues } from '../observability.js';
import type { QueueBacklog } from '../sql/queueOverview.js';
import type { DrainSummary } from './drain.js';

/** The per-queue metrics of a run (see lib/observability.ts), by queue. */
export function drainMetrics(summary: Omit<DrainSummary, 'overview'>, backlogs: ReadonlyMap<string, QueueBacklog>): Map<string, QueueMetricValues> {
  const metrics = new Map<string, QueueMetricValues>();
  for (const queue of summary.queues) {
    metrics.set(queue.queue, {
      Dispatched: queue.dispatched,
      Succeeded: queue.done,
      Retried: queue.retried,
      DeadLettered: queue.dead,
      Cancelled: queue.cancelled,
      ...(queue.throttledClaims === undefined ? {} : { ThrottledClaims: queue.throttledClaims }),
      DrainDurationMs: summary.durationMs,
      ...(summary.wakes === undefined ? {} : { WakeFailures: summary.wakes.failedQueues.includes(queue.queue) ? 1 : 0 }),
    });
  }
  for (const [queue, backlog] of backlogs) {
    metrics.set(queue, { ...metrics.get(queue), QueueDepth: backlog.live, OldestDueAgeSeconds: backlog.oldestDueAgeSeconds });
  }
  return metrics;
}
