import { expect, it } from 'vitest';
import { ManualClock } from '../../lib/clock.js';
import { drain } from '../../lib/drain/drain.js';
import { useStack } from '../support/stack.js';
import { appOn, jobType, plenty, seed, statusCounts } from './helpers.js';

/*
 * The Data API bills and throttles by call, so calls per message is the drain's cost metric.
 * A clean batch costs a claim and a read; acks of many batches share calls. Counted, not timed.
 */

const stack = useStack();

it('drains 10,000 messages in batches of 100 with at most 0.03 Data API calls per message', async () => {
  const app = appOn(stack, {
    queues: [{ name: 'bulk', batchSize: 100, drainConcurrency: 100 }],
    jobTypes: [jobType('noop', async () => {}, { timeoutMs: 1_000 })],
    clock: new ManualClock('2026-01-01T00:00:00.000Z'),
  });
  await seed(
    app,
    Array.from({ length: 10_000 }, () => ({ queue: 'bulk', type: 'noop' })),
    2_000,
  );

  const summary = await drain(app, { remainingTimeMs: plenty });
  expect(summary).toMatchObject({ claimed: 10_000, done: 10_000, retried: 0, dead: 0, lostLeases: 0, errors: [] });
  expect(await statusCounts(stack)).toEqual({ done: 10_000 });

  const perMessage = summary.dataApiCalls / 10_000;
  console.log(
    `clean drain of 10,000 messages in batches of 100: ${summary.dataApiCalls} Data API calls ` +
      `(${JSON.stringify(app.db.stats.byOperation)}), ${perMessage.toFixed(4)} per message, ${summary.durationMs} ms`,
  );
  expect(perMessage).toBeLessThanOrEqual(0.03);
});
