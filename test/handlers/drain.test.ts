import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../lib/clock.js';
import { UnknownQueueError } from '../../lib/drain/drain.js';
import type { QueueMetricValues } from '../../lib/observability.js';
import { setQueuePaused } from '../../lib/sql/queueState.js';
import { createDrainHandler, DrainInputError } from '../../handlers/drain.js';
import { useStack } from '../support/stack.js';
import { appOn, jobType, seed } from '../drain/helpers.js';

const stack = useStack();

const scheduledEvent = {
  version: '0',
  id: '53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa',
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: '123456789012',
  time: '2026-01-01T00:01:00Z',
  region: 'us-east-1',
  resources: ['arn:aws:events:us-east-1:123456789012:rule/aurora-queue-dev-drain'],
  detail: {},
};
const minute = { getRemainingTimeInMillis: () => 60_000 };

function setUp(prefix: string) {
  const clock = new ManualClock('2026-01-01T00:00:00.000Z');
  const app = appOn(stack, {
    queues: [{ name: `${prefix}-a` }, { name: `${prefix}-b` }, { name: `${prefix}-paused` }],
    jobTypes: [
      jobType('noop', async () => {}),
      jobType('hang', (_p, context) => new Promise<void>((resolve) => context.signal.addEventListener('abort', () => resolve())), { timeoutMs: 10_000 }),
    ],
    clock,
  });
  const metrics: [string, QueueMetricValues][] = [];
  const logs: { level: string; message: string; attributes: Record<string, unknown> }[] = [];
  const log = {
    info: (message: string, attributes: Record<string, unknown>) => logs.push({ level: 'info', message, attributes }),
    warn: (message: string, attributes: Record<string, unknown>) => logs.push({ level: 'warn', message, attributes }),
    error: (message: string, attributes: Record<string, unknown>) => logs.push({ level: 'error', message, attributes }),
  };
  // No lingering: these tests run on a manual clock, and lingering is tested on its own below.
  const handler = createDrainHandler(() => app, { log, publishMetrics: (queue, values) => metrics.push([queue, values]), lingerMs: 0 });
  return { app, clock, handler, metrics, logs };
}

describe('drain handler', () => {
  it('drains every declared queue on the schedule, logs and returns the summary, writes per-queue metrics', async () => {
    const { app, clock, handler, metrics, logs } = setUp('sched');
    await seed(app, [
      ...Array.from({ length: 3 }, () => ({ queue: 'sched-a', type: 'noop' })),
      { queue: 'sched-b', type: 'noop' },
      { queue: 'sched-b', type: 'noop', availableAt: new Date('2026-01-01T01:00:00.000Z') },
      { queue: 'sched-paused', type: 'noop', availableAt: new Date('2025-12-31T23:59:00.000Z') },
    ]);
    await setQueuePaused(app.db, 'sched-paused', true, clock.now());

    const summary = await handler(scheduledEvent, minute);
    expect(summary).toMatchObject({ claimed: 4, done: 4, retried: 0, dead: 0, released: 0, lostLeases: 0, deleted: 0, pausedQueues: ['sched-paused'] });
    // pause list, every queue's overview; per queue: claim, read, ack (a: 3, b: 3), no retention
    // (nothing expired); the overview again as the run ends (the metrics' backlogs).
    expect(summary.dataApiCalls).toBe(1 + 1 + 3 + 3 + 1);
    expect(summary.durationMs).toBeGreaterThanOrEqual(0);
    expect(logs).toEqual([{ level: 'info', message: 'drain run finished', attributes: { ...summary } }]);
    expect(new Map(metrics)).toEqual(
      new Map([
        [
          'sched-a',
          {
            Dispatched: 3,
            Succeeded: 3,
            Retried: 0,
            DeadLettered: 0,
            Cancelled: 0,
            DrainDurationMs: summary.durationMs,
            QueueDepth: 0,
            OldestDueAgeSeconds: 0,
          },
        ],
        [
          'sched-b',
          {
            Dispatched: 1,
            Succeeded: 1,
            Retried: 0,
            DeadLettered: 0,
            Cancelled: 0,
            DrainDurationMs: summary.durationMs,
            QueueDepth: 1,
            OldestDueAgeSeconds: 0,
          },
        ],
        ['sched-paused', { QueueDepth: 1, OldestDueAgeSeconds: 60 }],
      ]),
    );
  });

  it('drains one queue, at most maxMessages, when invoked by hand', async () => {
    const { app, handler } = setUp('manual');
    await seed(app, [
      ...Array.from({ length: 5 }, () => ({ queue: 'manual-a', type: 'noop' })),
      ...Array.from({ length: 5 }, () => ({ queue: 'manual-b', type: 'noop' })),
    ]);
    const summary = await handler({ queue: 'manual-b', maxMessages: 2 }, minute);
    expect(summary).toMatchObject({ claimed: 2, done: 2 });
    expect(summary.queues.map((q) => q.queue)).toEqual(['manual-b']);
    expect((await handler({}, minute)).done).toBe(8);
  });

  it('refuses a malformed invoke and an undeclared queue', async () => {
    const { handler } = setUp('bad');
    await expect(handler({ queues: 'bad-a' }, minute)).rejects.toThrow(DrainInputError);
    await expect(handler({ maxMessages: 0 }, minute)).rejects.toThrow(/maxMessages/);
    await expect(handler({ queue: 7 }, minute)).rejects.toThrow(DrainInputError);
    await expect(handler('drain', minute)).rejects.toThrow(DrainInputError);
    await expect(handler({ queue: 'nope' }, minute)).rejects.toThrow(UnknownQueueError);
  });

  it('claims nothing when the Lambda has too little time left', async () => {
    const { app, handler, metrics } = setUp('late');
    await seed(app, [{ queue: 'late-a', type: 'noop' }]);
    const summary = await handler(scheduledEvent, { getRemainingTimeInMillis: () => 2_000 });
    expect(summary.claimed).toBe(0);
    // The queues with nothing due are not drained at all (the run's first read says so).
    expect(summary.queues.map((q) => q.stoppedBecause)).toEqual(['time', 'empty', 'empty']);
    // A run this short can never drain anything (a drainTimeoutSeconds below a handler's timeout): an error, logged
    // as one. noop sets no timeout, so it has the default 10 s, as long as hang's, and comes first.
    expect(summary.errors).toEqual(
      ['late-a', 'late-b', 'late-paused'].map(
        (queue) => `${queue}: not drained: the run has 2 s, too little for its longest handler (noop: timeout 10 s + margin 5 s + claim 2 s = 17 s)`,
      ),
    );
    // The backlogs are the run's first read (it changed nothing): no call more for the metrics.
    expect(new Map(metrics.map(([queue, values]) => [queue, values.QueueDepth]))).toEqual(
      new Map([
        ['late-a', 1],
        ['late-b', 0],
        ['late-paused', 0],
      ]),
    );
  });

  it('aborts the run shortly before the Lambda ends, abandoning hung handlers', async () => {
    const { app } = setUp('stop');
    await seed(app, [{ queue: 'stop-a', type: 'hang' }]);
    const started = Date.now();
    // 16 s left: one 10 s handler fits the budget; the hard stop comes 15.9 s early, i.e. after 100 ms.
    const context = { getRemainingTimeInMillis: () => 16_000 - (Date.now() - started) };
    const handler = createDrainHandler(() => app, { hardStopMs: 15_900, log: { info() {}, warn() {}, error() {} }, publishMetrics() {} });
    const summary = await handler({ queue: 'stop-a' }, context);
    expect(summary).toMatchObject({ claimed: 1, retried: 1 });
    expect(summary.queues[0]!.stoppedBecause).toBe('aborted');
  });
});
