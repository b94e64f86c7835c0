/** FIFO followers (lib/sql/claimGroupHeads.ts): claimed with their head, started only once its outcome is written. */
import { expect, it } from 'vitest';
import { ManualClock } from '../../lib/clock.js';
import { drain } from '../../lib/drain/drain.js';
import { useStack } from '../support/stack.js';
import { appOn, jobType, plenty, readRows, seed } from './helpers.js';

const stack = useStack();

it('a follower claimed more often than it may be tried is dead-lettered when its turn comes, never run', async () => {
  const queue = 'fifo-exhausted';
  const ran: number[] = [];
  const app = appOn(stack, {
    queues: [{ name: queue, fifo: true }],
    jobTypes: [jobType('work', async (payload) => void ran.push((payload as { n: number }).n))],
    clock: new ManualClock('2026-03-01T12:00:00.000Z'),
  });
  const [head, follower, last] = await seed(
    app,
    [1, 2, 3].map((n) => ({ queue, type: 'work', groupKey: 'g', payload: { n }, maxAttempts: 2 })),
  );
  // Both of the follower's attempts were leases that ended without an outcome (their drains crashed).
  await stack.sql.query('UPDATE queue_messages SET attempts = 2 WHERE id = ?', [follower]);

  const summary = await drain(app, { queue, remainingTimeMs: plenty });

  expect(ran).toEqual([1, 3]);
  expect(summary).toMatchObject({ done: 2, dead: 1 });
  const rows = await readRows(stack, queue);
  expect(rows.get(head!)!.status).toBe('done');
  expect(rows.get(follower!)).toMatchObject({ status: 'dead', attempts: 3 });
  expect(rows.get(follower!)!.last_error).toMatch(/attempts exhausted \(2\)/);
  expect(rows.get(last!)!.status).toBe('done');
});
