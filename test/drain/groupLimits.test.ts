/**
 * Keyed flow control on the real stack and the real clock: per-group concurrency and rate held
 * across drains running at once, judged from the handlers' own start and end times; fairness
 * across groups; a paused group waiting while others run.
 */
import { describe, expect, it } from 'vitest';
import { createApp, type App } from '../../lib/app.js';
import { systemClock } from '../../lib/clock.js';
import { defineConfig } from '../../lib/config.js';
import { drain } from '../../lib/drain/drain.js';
import { enqueue, enqueueInTransaction } from '../../lib/enqueue.js';
import type { GroupLimits } from '../../lib/queues.js';
import { pauseGroup, resumeGroup } from '../../lib/groups.js';
import { busiestWindow, mostAtOnce } from '../support/invariants/check.js';
import { useStack } from '../support/stack.js';
import { ensureGroupPermits, ensureGroups } from '../../lib/sql/groupLimits.js';
import { jobType, seed, statusCounts } from './helpers.js';

const stack = useStack();

interface Run {
  group: string;
  startMs: number;
  endMs: number;
}

function groupedApp(queue: string, groups: GroupLimits, runs: Run[], holdMs: number, extra: { drainConcurrency?: number } = {}): App {
  const handle = async (payload: unknown) => {
    const startMs = Date.now();
    await new Promise((resolve) => setTimeout(resolve, holdMs));
    runs.push({ group: (payload as { g: string }).g, startMs, endMs: Date.now() });
  };
  return createApp({
    db: stack.newDb(),
    env: {},
    config: defineConfig({ queues: [{ name: queue, groups, ...extra }], jobTypes: [jobType('work', handle, { timeoutMs: 5_000 })] }),
    clock: systemClock,
  });
}

/** The most runs of one group in flight at once, from their own start and end times. */
function mostInFlight(runs: readonly Run[], group: string): number {
  return mostAtOnce(runs.filter((run) => run.group === group).map((run) => ({ fromMs: run.startMs, toMs: run.endMs }))).count;
}

describe('a queue with per-group limits', () => {
  it('holds each group to its concurrency and rate with four drains at once', async () => {
    const queue = 'grouplimits';
    const runs: Run[] = [];
    const limits = { concurrency: 2, ratePerSecond: 5 };
    const apps = Array.from({ length: 4 }, () => groupedApp(queue, limits, runs, 60));
    const groups = Array.from({ length: 20 }, (_, g) => `tenant-${g}`);
    await seed(
      apps[0]!,
      groups.flatMap((g) => Array.from({ length: 8 }, () => ({ queue, type: 'work', groupKey: g, payload: { g } }))),
    );
    const summaries = await Promise.all(apps.map((app) => drain(app, { queue, remainingTimeMs: () => 60_000, linger: { idleMs: 1_500, woken: true } })));
    expect(await statusCounts(stack)).toMatchObject({ done: 160 });
    expect(runs).toHaveLength(160);
    for (const g of groups) {
      expect(mostInFlight(runs, g), g).toBeLessThanOrEqual(2);
      const starts = runs.filter((run) => run.group === g).map((run) => run.startMs);
      expect(busiestWindow(starts, 1_000).count, g).toBeLessThanOrEqual(Math.floor(1.2 * limits.ratePerSecond));
    }
    expect(summaries.reduce((sum, s) => sum + (s.queues[0]?.throttledClaims ?? 0), 0)).toBeGreaterThan(0);
  });

  it('starts the small groups’ messages beside one group’s backlog when fair', async () => {
    const queue = 'groupfair';
    const runs: Run[] = [];
    const app = groupedApp(queue, { fair: true }, runs, 20, { drainConcurrency: 10 });
    await seed(
      app,
      Array.from({ length: 400 }, () => ({ queue, type: 'work', groupKey: 'big', payload: { g: 'big' } })),
    );
    const small = Array.from({ length: 10 }, (_, g) => `small-${g}`);
    await seed(
      app,
      small.flatMap((g) => Array.from({ length: 3 }, () => ({ queue, type: 'work', groupKey: g, payload: { g } }))),
    );
    const summary = await drain(app, { queue, remainingTimeMs: () => 60_000 });
    expect(summary).toMatchObject({ claimed: 430, done: 430 });
    const order = [...runs].sort((a, b) => a.startMs - b.startMs);
    const lastSmall = Math.max(...order.map((run, i) => (run.group === 'big' ? -1 : i)));
    // Every small group's three messages ran among the first few claims, not after the 400.
    expect(lastSmall).toBeLessThan(100);
  });

  it('leaves a paused group waiting while the others run, and runs it once resumed', async () => {
    const queue = 'grouppause';
    const runs: Run[] = [];
    const app = groupedApp(queue, {}, runs, 1);
    await seed(app, [
      ...Array.from({ length: 3 }, () => ({ queue, type: 'work', groupKey: 'held', payload: { g: 'held' } })),
      ...Array.from({ length: 3 }, () => ({ queue, type: 'work', groupKey: 'free', payload: { g: 'free' } })),
    ]);
    await pauseGroup(app, queue, 'held');
    await drain(app, { queue, remainingTimeMs: () => 30_000 });
    expect(runs.map((run) => run.group)).toEqual(['free', 'free', 'free']);
    await resumeGroup(app, queue, 'held');
    await drain(app, { queue, remainingTimeMs: () => 30_000 });
    expect(runs.filter((run) => run.group === 'held')).toHaveLength(3);
  });
});

describe('a grouped queue and the outbox', () => {
  it('a run that starts just after another used its groups’ rate windows waits them out instead of stopping as if dry', async () => {
    const queue = 'groupwindows';
    const runs: Run[] = [];
    const app = groupedApp(queue, { concurrency: 2, ratePerSecond: 5 }, runs, 1);
    const groups = ['a', 'b', 'c'];
    await seed(
      app,
      groups.flatMap((g) => Array.from({ length: 2 }, () => ({ queue, type: 'work', groupKey: g, payload: { g } }))),
    );
    // The runs before this one took every rate permit of the groups, free again in half a second, and ended.
    const now = new Date();
    await ensureGroups(stack.db, { queue, groups, now });
    await ensureGroupPermits(stack.db, { queue, groups: new Map(groups.map((g) => [g, 5])), now });
    await stack.sql.query('UPDATE queue_group_permits SET free_at = ? WHERE queue = ?', [new Date(now.getTime() + 500), queue]);
    // No linger: a run that finds the queue dry stops at once.
    const summary = await drain(app, { queue, remainingTimeMs: () => 30_000 });
    expect(summary.queues[0]).toMatchObject({ done: 6, stoppedBecause: 'empty' });
    expect(runs).toHaveLength(6);
  });

  it('drains every other message while a producer transaction holds one open, and that one once it commits', async () => {
    const queue = 'groupoutbox';
    const runs: Run[] = [];
    const app = groupedApp(queue, { concurrency: 1 }, runs, 1);
    const work = (g: string) => ({ type: 'work', groupKey: g, payload: { g } });
    await stack.db.transaction(async (tx) => {
      await enqueueInTransaction(app, tx.transactionId!, queue, [work('a')]);
      await enqueue(app, queue, [work('a'), work('b'), work('b')]);
      const drainStartedMs = Date.now();
      await drain(app, { queue, remainingTimeMs: () => 30_000 });
      // Nothing waited for the open transaction: its group's committed message ran too.
      expect(runs.map((run) => run.group).sort()).toEqual(['a', 'b', 'b']);
      expect(runs[0]!.startMs - drainStartedMs).toBeLessThan(1_000);
    });
    await drain(app, { queue, remainingTimeMs: () => 30_000 });
    expect(runs).toHaveLength(4);
  });
});
