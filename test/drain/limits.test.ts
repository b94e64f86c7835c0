/**
 * Queue-wide limits under saturation, on the real stack and the real clock: what a drain that
 * cannot get permits costs, who picks up what it could not take, and what the handlers see.
 */
import { describe, expect, it } from 'vitest';
import { createApp, type App } from '../../lib/app.js';
import { systemClock } from '../../lib/clock.js';
import { defineConfig } from '../../lib/config.js';
import { drain, type DrainSummary } from '../../lib/drain/drain.js';
import { enqueue } from '../../lib/enqueue.js';
import type { Db } from '../../lib/db/types.js';
import type { QueueDeclaration } from '../../lib/queues.js';
import { Waker } from '../../lib/wake.js';
import { waitFor } from '../support/waitFor.js';
import { busiestWindow } from '../support/invariants/check.js';
import { useStack } from '../support/stack.js';
import { jobType, readRows, seed } from './helpers.js';

const stack = useStack();

/** How long a drain polls a dry queue in production (handlers/drain.ts DEFAULT_LINGER_MS). */
const LINGER = { idleMs: 2_000, woken: true };

function limitedApp(queue: QueueDeclaration, handle: (payload: unknown) => Promise<void>, invokeDrain?: (queue: string) => Promise<void>): App {
  return createApp({
    db: stack.newDb(),
    env: {},
    config: defineConfig({ queues: [queue], jobTypes: [jobType('work', handle, { timeoutMs: 12_000 })] }),
    clock: systemClock,
    ...(invokeDrain === undefined ? {} : { invokeDrain }),
  });
}

/** A handler that records when each message `{ n }` starts and ends; message 1 runs `holdMs`, the others at once. */
function timedHandler(holdMs: number): {
  started: Map<number, number>;
  ended: Map<number, number>;
  handle: (payload: unknown) => Promise<void>;
} {
  const started = new Map<number, number>();
  const ended = new Map<number, number>();
  const handle = async (payload: unknown) => {
    const n = (payload as { n: number }).n;
    started.set(n, Date.now());
    if (n === 1) await new Promise((resolve) => setTimeout(resolve, holdMs));
    ended.set(n, Date.now());
  };
  return { started, ended, handle };
}

describe('a queue saturated by its queue-wide concurrency', () => {
  it('a second drain that gets no permit stops within 3 s at a few calls; the holder takes the next message as its handler ends', async () => {
    const queue = 'saturated';
    const { started, ended, handle } = timedHandler(7_000);
    const declaration = { name: queue, concurrency: 1 };
    const appA = limitedApp(declaration, handle);
    await seed(appA, [{ queue, type: 'work', payload: { n: 1 } }]);
    const runA = drain(appA, { queue, remainingTimeMs: () => 60_000, linger: LINGER });
    await waitFor(async () => started.has(1), 5_000, 'the first message to start');

    // The message the second drain cannot take: the first holds the queue's only permit.
    const appB = limitedApp(declaration, handle);
    await seed(appB, [{ queue, type: 'work', payload: { n: 2 } }]);
    const bStartedMs = Date.now();
    const summaryB: DrainSummary = await drain(appB, { queue, remainingTimeMs: () => 60_000, linger: LINGER });
    const bRanMs = Date.now() - bStartedMs;

    expect(summaryB.claimed).toBe(0);
    expect(ended.has(1)).toBe(false); // B stopped while the permit was still taken
    expect(bRanMs).toBeLessThan(3_000);
    expect(summaryB.dataApiCalls).toBeLessThanOrEqual(20);

    const summaryA = await runA;
    expect(summaryA).toMatchObject({ claimed: 2, done: 2 });
    // Picked up by the run that held the permit, as soon as it was free.
    expect(started.get(2)! - ended.get(1)!).toBeLessThan(1_000);
    console.log(
      `drain held back: ${bRanMs} ms, ${summaryB.dataApiCalls} calls; next message started ${started.get(2)! - ended.get(1)!} ms after the permit freed`,
    );
  });

  it('an enqueue while the queue is saturated wakes no drain: the run holding the permits takes the message when they free', async () => {
    const queue = 'saturated-wake';
    const { started, ended, handle } = timedHandler(5_000);
    const invoked: string[] = [];
    const app = limitedApp({ name: queue, concurrency: 1 }, handle, async (q) => void invoked.push(q));
    await seed(app, [{ queue, type: 'work', payload: { n: 1 } }]);
    const run = drain({ ...app, db: stack.newDb() }, { queue, remainingTimeMs: () => 60_000, linger: LINGER });
    await waitFor(async () => started.has(1), 5_000, 'the first message to start');

    // Enqueues from other processes (each its own Waker), spread over the handler's run, past the
    // promise the run made when its claim landed.
    const wakes: string[] = [];
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1_300));
      const waker = new Waker({ db: stack.newDb(), clock: systemClock, queues: [queue], invoke: async (q) => void invoked.push(q) });
      await enqueue({ ...app, waker: undefined }, queue, [{ type: 'work', payload: { n: 10 + i } }]);
      wakes.push(await waker.wake(queue));
    }
    expect(invoked).toEqual([]);
    expect(wakes).toEqual(['drain-active', 'drain-active', 'drain-active']);

    expect(await run).toMatchObject({ claimed: 4, done: 4 });
    const firstNext = Math.min(...[10, 11, 12].map((n) => started.get(n)!));
    expect(firstNext - ended.get(1)!).toBeLessThan(1_000);
    const rows = [...(await readRows(stack, queue)).values()];
    expect(rows.every((row) => row.status === 'done')).toBe(true);
  });
});

describe('a queue-wide rate', () => {
  it("holds at the handlers' start, also when handlers that held every run slot end together", async () => {
    const queue = 'rate-at-start';
    const RATE = 5;
    const starts: number[] = [];
    // The downstream stalls for the first wave, then recovers: both slots free at once.
    const handle = async (payload: unknown) => {
      starts.push(Date.now());
      if ((payload as { n: number }).n <= 2) await new Promise((resolve) => setTimeout(resolve, 1_500));
    };
    const app = limitedApp({ name: queue, ratePerSecond: RATE, drainConcurrency: 2 }, handle);
    await seed(
      app,
      Array.from({ length: 14 }, (_, i) => ({ queue, type: 'work', payload: { n: i + 1 } })),
    );
    const summary = await drain(app, { queue, remainingTimeMs: () => 60_000 });
    expect(summary.done).toBe(14);
    expect(starts).toHaveLength(14);
    expect(busiestWindow(starts, 1_000).count).toBeLessThanOrEqual(RATE);
  });
});

/**
 * The product's Db, with every `every`-th read of claimed messages (the claim's last round trip,
 * lib/sql/readClaimedMessages.ts) sent `delayMs` late: a slow Data API call after the claim's rate
 * permits were taken, as a fault delay or a retried call makes one.
 */
function slowClaimReads(db: Db, delayMs: number, every: number): Db & { delayed: () => number } {
  let reads = 0;
  let delayed = 0;
  return new Proxy(db, {
    get(target, property) {
      if (property === 'delayed') return () => delayed;
      if (property !== 'query') {
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      }
      return async (sql: string, ...rest: unknown[]) => {
        if (sql.includes('AS running_bytes') && reads++ % every === 0) {
          delayed++;
          await new Promise((resolve) => setTimeout(resolve, delayMs));
        }
        return (target.query as (...args: unknown[]) => Promise<unknown>).call(target, sql, ...rest);
      };
    },
  }) as Db & { delayed: () => number };
}

describe('a queue-wide rate under a slow Data API', () => {
  /*
   * Every other claim's read lands 600 ms late, so its messages start well after their permits'
   * start time, and the permits were taken a window before the next claim can take them again.
   * (The lane asks again half a window after a claim held back by the rate lands: a claim late by
   * about 550-750 ms puts that ask just after its permits free. At 400 ms late the ask comes a
   * little before, fails, and the next one comes late enough; in the invariant test, other drains'
   * polls fill that gap.)
   */
  it("holds at the handlers' start when every other claim's read lands 600 ms late", async () => {
    const queue = 'rate-slow-claims';
    const RATE = 10;
    const starts: number[] = [];
    const db = slowClaimReads(stack.newDb(), 600, 2);
    const app = createApp({
      db,
      env: {},
      config: defineConfig({
        queues: [{ name: queue, ratePerSecond: RATE }],
        jobTypes: [jobType('work', async () => void starts.push(Date.now()), { timeoutMs: 12_000 })],
      }),
      clock: systemClock,
    });
    await seed(
      app,
      Array.from({ length: 50 }, (_, i) => ({ queue, type: 'work', payload: { n: i + 1 } })),
    );
    const summary = await drain(app, { queue, remainingTimeMs: () => 60_000 });
    expect(summary.done).toBe(50);
    expect(starts).toHaveLength(50);
    expect(db.delayed()).toBeGreaterThanOrEqual(3);
    // limits.test.ts (chaos) allows 1.2 times the rate in any second.
    const busiest = busiestWindow(starts, 1_000).count;
    console.log(`slow claim reads (${db.delayed()} of them): busiest second ${busiest} starts at ${RATE}/s, ${summary.dataApiCalls} calls`);
    expect(busiest).toBeLessThanOrEqual(RATE * 1.2);
  });
});
