/** Chaos: a grouped claim slowed by the Data API reaches its drain after its messages' start time. */
import { expect, it } from 'vitest';
import { drain } from '../../lib/drain/index.js';
import { busiestWindow } from '../support/invariants/check.js';
import { useStack } from '../support/stack.js';
import { CHAOS_QUEUE, CHAOS_TUNING, chaosApp, chaosDb, chaosQueue, createDispatchLog, seedScripted, waitFor } from './harness.js';
import { scriptedJobType } from './scripts.js';

const stack = useStack();

it('a grouped claim that lands late keeps its group rate permits a window from its start: another drain claiming as they free stays within the rate', async () => {
  const log = await createDispatchLog(stack.sql);
  await seedScripted(
    stack.db,
    Array.from({ length: 10 }, () => ({ script: { steps: ['ok' as const] }, maxAttempts: 3, groupKey: 'g' })),
  );
  const queue = chaosQueue({ groups: { concurrency: 10, ratePerSecond: 5 } });
  const app = (runner: string) => chaosApp(chaosDb(stack.endpoint, stack.database), scriptedJobType({ record: log.record, runner, timeoutMs: 1_000 }), queue);
  stack.server.faults.inject({ kind: 'delay', count: 3, delayMs: 300, operations: ['Execute'] });
  const a = drain(app('a'), { queue: CHAOS_QUEUE, remainingTimeMs: () => 30_000, tuning: CHAOS_TUNING });
  await waitFor(async () => (await log.count()) >= 5, 10_000, 'a starting 5');
  const [[row]] = (await stack.sql.query("SELECT MAX(free_at) AS freeAt FROM queue_group_permits WHERE group_key = 'g'")) as unknown as [[{ freeAt: Date }]];
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, row.freeAt.getTime() - Date.now())));
  const b = await drain(app('b'), { queue: CHAOS_QUEUE, remainingTimeMs: () => 30_000, tuning: CHAOS_TUNING });
  await a;
  const dispatches = await log.all();
  const starts = dispatches.map((d) => d.startedMs!).sort((x, y) => x - y);

  expect(starts).toHaveLength(10);
  // 5 a second, with the suite's tolerance for the permits' slack: before the late claim kept its
  // permits, 10 started within one second.
  expect(busiestWindow(starts, 1_000).count).toBeLessThanOrEqual(6);
  expect(b.queues[0]?.claimed).toBeGreaterThan(0);
});
