/**
 * A lingering lane's promise to poll its queue (lib/drain/activity.ts), on the real stack and the
 * real clock: kept while the lane can still take what an enqueue brings, gone once it cannot.
 */
import { describe, expect, it } from 'vitest';
import { createApp, type App } from '../../lib/app.js';
import { systemClock } from '../../lib/clock.js';
import { defineConfig } from '../../lib/config.js';
import type { Db } from '../../lib/db/types.js';
import { drain } from '../../lib/drain/drain.js';
import type { QueueDeclaration } from '../../lib/queues.js';
import { extendDrainActivity } from '../../lib/sql/drainActivity.js';
import { Waker } from '../../lib/wake.js';
import { useStack } from '../support/stack.js';
import { jobType, readRows, seed } from './helpers.js';

const stack = useStack();

function lingeringApp(queue: QueueDeclaration, handle: (payload: unknown) => Promise<void> = async () => {}, db: Db = stack.newDb()): App {
  return createApp({ db, env: {}, config: defineConfig({ queues: [queue], jobTypes: [jobType('work', handle)] }), clock: systemClock });
}

/** What an enqueue in another process would do now: 'woken', or 'drain-active' while a promise stands. */
async function wakeNow(queue: string): Promise<string> {
  const invoked: string[] = [];
  const waker = new Waker({ db: stack.newDb(), clock: systemClock, queues: [queue], invoke: async (q) => void invoked.push(q) });
  return waker.wake(queue);
}

describe('a lingering FIFO lane', () => {
  it('does not stop while its own messages run: the group goes on when they end, without a wake', async () => {
    const queue = 'fifo-linger';
    const started: number[] = [];
    const app = lingeringApp({ name: queue, fifo: true }, async (payload) => {
      started.push((payload as { n: number }).n);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
    });
    // The run starts on an empty queue (idle from its first claim), and a group arrives while it lingers.
    const run = drain(app, { queue, remainingTimeMs: () => 60_000, linger: { idleMs: 300, woken: true } });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const ids = await seed(
      app,
      [1, 2, 3, 4].map((n) => ({ queue, type: 'work', groupKey: 'g', payload: { n } })),
    );
    // The head and its follower run one after the other, longer than the linger and the run's promise.
    const summary = await run;
    expect(started).toEqual([1, 2, 3, 4]);
    expect(summary).toMatchObject({ claimed: 4, done: 4 });
    const rows = await readRows(stack, queue);
    expect(ids.map((id) => rows.get(id)!.status)).toEqual(['done', 'done', 'done', 'done']);
  });
});

describe('a lane that stops before its queue runs dry withdraws its promise', () => {
  it('stopping for max-messages: the next enqueue wakes a drain at once', async () => {
    const queue = 'promise-max';
    const app = lingeringApp({ name: queue });
    await seed(app, [
      { queue, type: 'work' },
      { queue, type: 'work' },
    ]);
    const summary = await drain(app, { queue, maxMessages: 1, remainingTimeMs: () => 60_000, linger: { idleMs: 2_000, woken: true } });
    expect(summary.queues[0]).toMatchObject({ stoppedBecause: 'max-messages', done: 1 });
    expect(await wakeNow(queue)).toBe('woken');
  });

  it('stopping for time: the next enqueue wakes a drain at once', async () => {
    const queue = 'promise-time';
    const app = lingeringApp({ name: queue });
    await seed(app, [{ queue, type: 'work' }]);
    // 14 s cannot fit a 10 s handler and the 5 s margin.
    const summary = await drain(app, { queue, remainingTimeMs: () => 14_000, linger: { idleMs: 2_000, woken: true } });
    expect(summary.queues[0]).toMatchObject({ stoppedBecause: 'time', claimed: 0 });
    expect(await wakeNow(queue)).toBe('woken');
  });

  it('stopping for an error: the next enqueue wakes a drain at once', async () => {
    const queue = 'promise-error';
    const db = stack.newDb();
    // Claims fail (after the Db layer's retries), everything else goes through.
    const failingClaims = new Proxy(db, {
      get(target, key) {
        const value: unknown = Reflect.get(target, key);
        if (key !== 'execute') return typeof value === 'function' ? value.bind(target) : value;
        return async (sql: string, ...rest: Parameters<Db['execute']> extends [string, ...infer R] ? R : never) => {
          if (/UPDATE[\s\S]*queue_messages[\s\S]*lease_token = :leaseToken/.test(sql)) throw new Error('claim refused');
          return target.execute(sql, ...rest);
        };
      },
    });
    const app = lingeringApp({ name: queue }, async () => {}, failingClaims);
    await seed(lingeringApp({ name: queue }), [{ queue, type: 'work' }]);
    const summary = await drain(app, { queue, remainingTimeMs: () => 60_000, linger: { idleMs: 2_000, woken: true } });
    expect(summary.queues[0]).toMatchObject({ stoppedBecause: 'error', claimed: 0 });
    expect(await wakeNow(queue)).toBe('woken');
  });

  it('but leaves a promise that another lane made further ahead', async () => {
    const queue = 'promise-other';
    // Another run's promise, as its lane writes it (lib/drain/activity.ts).
    await extendDrainActivity(stack.newDb(), { queue, until: new Date(Date.now() + 5_000), now: new Date() });
    const app = lingeringApp({ name: queue });
    await seed(app, [
      { queue, type: 'work' },
      { queue, type: 'work' },
    ]);
    const summary = await drain(app, { queue, maxMessages: 1, remainingTimeMs: () => 60_000, linger: { idleMs: 2_000, woken: true } });
    expect(summary.queues[0]!.stoppedBecause).toBe('max-messages');
    expect(await wakeNow(queue)).toBe('drain-active');
  });
});
