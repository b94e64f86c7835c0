/**
 * Timed wakes on the real stack (lib/timedWakes.ts, lib/drain/nextWakes.ts): a run that ends with
 * messages coming due later sets one wake for the minute before they do, the woken run waits the
 * rest out and starts them on time, an enqueue moves a pending wake earlier, and a wake that
 * cannot be set loses nothing. The Scheduler is the one part not run here: a recording
 * WakeScheduler stands in for it (dev/scheduler serves its API to `npm start`).
 */
import { describe, expect, it } from 'vitest';
import { createApp, type App } from '../lib/app.js';
import type { Db } from '../lib/db/types.js';
import { ManualClock } from '../lib/clock.js';
import { defineConfig } from '../lib/config.js';
import { drain, type DrainSummary } from '../lib/drain/drain.js';
import { enqueue } from '../lib/enqueue.js';
import { RetryableError } from '../lib/errors.js';
import { WAKE_INTERVAL_MS } from '../lib/queues.js';
import { wakeTimeFor, type WakeScheduler } from '../lib/wakeScheduler.js';
import { clockSleep, jobType } from './drain/helpers.js';
import { useStack } from './support/stack.js';

const stack = useStack();
const T0 = '2026-05-01T10:00:07.250Z';

class RecordingScheduler implements WakeScheduler {
  readonly wakes: { queue: string; at: string }[] = [];
  failing = false;

  async setWake(queue: string, at: Date): Promise<void> {
    if (this.failing) throw new Error('Scheduler said no');
    this.wakes.push({ queue, at: at.toISOString() });
  }
}

function setup(queue: string, handle: (payload: unknown) => Promise<void> = async () => {}) {
  const clock = new ManualClock(T0);
  const scheduler = new RecordingScheduler();
  const started: number[] = [];
  const app = createApp({
    db: stack.newDb(),
    env: {},
    config: defineConfig({
      queues: [{ name: queue, leaseSeconds: 60 }],
      jobTypes: [
        jobType('t', async (payload) => {
          started.push(clock.now().getTime());
          await handle(payload);
        }),
      ],
    }),
    clock,
    wakeScheduler: scheduler,
  });
  /**
   * A drain run as the deployed function runs it: scheduled (lingers after work) or woken. Its
   * sleeps move the clock, so outcomes are written at once (no real-time linger) lest the clock
   * pass their lease before they land.
   */
  const run = (woken: boolean, remainingMs = 180_000): Promise<DrainSummary> =>
    drain(app, { queue, remainingTimeMs: () => remainingMs, sleep: clockSleep(clock), linger: { idleMs: 2_000, woken }, tuning: { settleLingerMs: 0 } });
  return { app, clock, scheduler, started, run };
}

async function wakeAt(app: App, queue: string): Promise<Date | null> {
  const [[row]] = (await stack.sql.query('SELECT wake_at FROM queue_state WHERE queue = ?', [queue])) as unknown as [[{ wake_at: Date | null } | undefined]];
  return row?.wake_at ?? null;
}

describe('wakeTimeFor', () => {
  it('asks for the start of the minute a full minute before the due time (the Scheduler fires within its minute), never the past', () => {
    const now = new Date('2026-05-01T10:00:07.250Z');
    expect(wakeTimeFor(new Date('2026-05-01T10:01:47.250Z'), now).toISOString()).toBe('2026-05-01T10:00:08.000Z');
    expect(wakeTimeFor(new Date('2026-05-01T10:05:30.000Z'), now).toISOString()).toBe('2026-05-01T10:04:00.000Z');
    expect(wakeTimeFor(new Date('2026-05-01T10:05:00.000Z'), now).toISOString()).toBe('2026-05-01T10:04:00.000Z');
    expect(wakeTimeFor(new Date('2026-05-01T09:00:00.000Z'), now).toISOString()).toBe('2026-05-01T10:00:08.000Z');
  });
});

describe('timed wakes', () => {
  it('a delayed message of 100 s: the run sets one wake, the woken run starts it within 1 s of its due time', async () => {
    const { app, clock, scheduler, started, run } = setup('delay100');
    await enqueue(app, 'delay100', [{ type: 't', payload: {}, delaySeconds: 100 }]);
    const dueMs = clock.now().getTime() + 100_000;
    // The enqueue set the wake itself: the message is not due within a woken run's look-ahead.
    expect(scheduler.wakes).toEqual([{ queue: 'delay100', at: wakeTimeFor(new Date(dueMs), clock.now()).toISOString() }]);

    // A scheduled run meanwhile finds nothing due and sets nothing new (the wake is pending).
    const idle = await run(false);
    expect(idle).toMatchObject({ claimed: 0, wakes: { set: 0, pending: 1, failed: 0, failedQueues: [] } });
    expect(scheduler.wakes).toHaveLength(1);

    // The Scheduler fires somewhere in the wake's minute: at its latest second here.
    clock.set(new Date(new Date(scheduler.wakes[0]!.at).getTime() + 59_000));
    expect(clock.now().getTime()).toBeLessThan(dueMs);
    const woken = await run(true);
    expect(woken).toMatchObject({ claimed: 1, done: 1 });
    expect(started).toHaveLength(1);
    expect(started[0]! - dueMs).toBeGreaterThanOrEqual(0);
    expect(started[0]! - dueMs).toBeLessThan(1_000);
    // Nothing left: no further wake.
    expect(scheduler.wakes).toHaveLength(1);
  });

  it('a retry with a 90 s backoff: the failing run sets the wake, the woken run retries it within 1 s of its due time', async () => {
    let fail = true;
    const { clock, scheduler, started, run, app } = setup('retry90', async () => {
      if (fail) {
        fail = false;
        throw new RetryableError('provider busy', { retryAfterMs: 90_000 });
      }
    });
    await enqueue(app, 'retry90', [{ type: 't', payload: {} }]);
    // A run too short to wait 90 s for it (a woken run that could would retry it itself).
    const first = await run(false, 60_000);
    expect(first).toMatchObject({ claimed: 1, retried: 1, wakes: { set: 1, pending: 0, failed: 0, failedQueues: [] } });
    const dueMs = started[0]! + 90_000;
    expect(scheduler.wakes).toEqual([{ queue: 'retry90', at: wakeTimeFor(new Date(dueMs), clock.now()).toISOString() }]);

    clock.set(new Date(scheduler.wakes[0]!.at));
    const woken = await run(true);
    expect(woken).toMatchObject({ claimed: 1, done: 1 });
    expect(started[1]! - dueMs).toBeGreaterThanOrEqual(0);
    expect(started[1]! - dueMs).toBeLessThan(1_000);
  });

  it('an enqueue due before the pending wake moves it earlier; one due after leaves it', async () => {
    const { app, clock, scheduler } = setup('earlier');
    await enqueue(app, 'earlier', [{ type: 't', payload: {}, delaySeconds: 3_600 }]);
    await enqueue(app, 'earlier', [{ type: 't', payload: {}, delaySeconds: 7_200 }]);
    await enqueue(app, 'earlier', [{ type: 't', payload: {}, delaySeconds: 600 }]);
    const now = clock.now().getTime();
    expect(scheduler.wakes.map((wake) => wake.at)).toEqual([
      wakeTimeFor(new Date(now + 3_600_000), clock.now()).toISOString(),
      wakeTimeFor(new Date(now + 600_000), clock.now()).toISOString(),
    ]);
    expect((await wakeAt(app, 'earlier'))?.toISOString()).toBe(scheduler.wakes[1]!.at);
  });

  it('a wake that cannot be set is counted and given back; the safety-net run still drains the message', async () => {
    const { app, clock, scheduler, started, run } = setup('nowake');
    scheduler.failing = true;
    await enqueue(app, 'nowake', [{ type: 't', payload: {}, delaySeconds: 300 }]);
    expect(app.timedWakes?.failures).toBe(1);
    expect(await wakeAt(app, 'nowake')).toBeNull();
    const ended = await run(false);
    expect(ended.wakes).toEqual({ set: 0, pending: 0, failed: 1, failedQueues: ['nowake'] });
    expect(await wakeAt(app, 'nowake')).toBeNull();

    // The safety-net schedule's next run after the due time.
    clock.advance(15 * 60_000);
    const net = await run(false);
    expect(net).toMatchObject({ claimed: 1, done: 1 });
    expect(started).toHaveLength(1);
  });

  it('a burst, then silence: the run stops calling within its linger of the last message, and no call follows', async () => {
    const clock = new ManualClock(T0);
    const scheduler = new RecordingScheduler();
    const at: number[] = [];
    const inner = stack.newDb();
    const timed: Db = {
      query: (sql, params, options) => (at.push(clock.now().getTime()), inner.query(sql, params, options)),
      execute: (sql, params, options) => (at.push(clock.now().getTime()), inner.execute(sql, params, options)),
      batch: (sql, sets, options) => (at.push(clock.now().getTime()), inner.batch(sql, sets, options)),
      transaction: (work) => inner.transaction(work),
      withTransactionId: (id) => inner.withTransactionId(id),
      transactionId: undefined,
      stats: inner.stats,
    };
    let lastStartMs = 0;
    const app = createApp({
      db: timed,
      env: {},
      config: defineConfig({ queues: [{ name: 'burst' }], jobTypes: [jobType('t', async () => void (lastStartMs = clock.now().getTime()))] }),
      clock,
      wakeScheduler: scheduler,
    });
    await enqueue(
      app,
      'burst',
      Array.from({ length: 300 }, (_, n) => ({ type: 't', payload: { n } })),
    );
    const run = await drain(app, {
      remainingTimeMs: () => 180_000,
      sleep: clockSleep(clock),
      linger: { idleMs: 2_000, woken: true },
      tuning: { settleLingerMs: 0 },
    });
    expect(run).toMatchObject({ claimed: 300, done: 300 });
    // The linger (2 s of polls) and the promise to poll it made enqueues rely on (an interval more),
    // then the run's last read: nothing after, and no wake (nothing left).
    expect(Math.max(...at) - lastStartMs).toBeLessThanOrEqual(2_000 + WAKE_INTERVAL_MS + 100);
    expect(scheduler.wakes).toEqual([]);
  });

  it('an idle deployment: a safety-net run reads every queue once, drains nothing, sets no wake: 2 calls, whatever the number of queues', async () => {
    const clock = new ManualClock(T0);
    const scheduler = new RecordingScheduler();
    const queues = ['idle-a', 'idle-b', 'idle-c', 'idle-d'].map((name) => ({ name }));
    const app = createApp({
      db: stack.newDb(),
      env: {},
      config: defineConfig({ queues, jobTypes: [jobType('t', async () => {})] }),
      clock,
      wakeScheduler: scheduler,
    });
    const run = await drain(app, { remainingTimeMs: () => 180_000, linger: { idleMs: 2_000, woken: false }, overview: true });
    // The pause list and one read of every queue (due now, next due, expired history, backlog).
    expect(run.dataApiCalls).toBe(2);
    expect(run.claimed).toBe(0);
    expect(run.wakes).toEqual({ set: 0, pending: 0, failed: 0, failedQueues: [] });
    expect(scheduler.wakes).toEqual([]);
    expect([...run.overview!.values()].map((queue) => queue.live)).toEqual([0, 0, 0, 0]);
  });
});
