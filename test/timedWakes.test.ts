/**
 * Timed wakes on the real stack (lib/timedWakes.ts, lib/drain/nextWakes.ts): a run that ends with
 * messages coming due later sets one wake for the minute before they do, the woken run waits the
 * rest out and starts them on time, an enqueue moves a pending wake earlier, and a wake that
 * cannot be set loses nothing. The Scheduler is the one part not run here: a recording
 * WakeScheduler stands in for it (dev/scheduler serves its API to `npm start`).
 */
import { describe, expect, it } from 'vitest';
import { createApp, type App } from '../lib/app.js';
import { ManualClock } from '../lib/clock.js';
import { defineConfig } from '../lib/config.js';
import { drain, type DrainSummary } from '../lib/drain/drain.js';
import { enqueue } from '../lib/enqueue.js';
import { redrive } from '../lib/operations.js';
import { PermanentError, RetryableError } from '../lib/errors.js';
import { WAKE_INTERVAL_MS } from '../lib/queues.js';
import type { QueueDeclaration } from '../lib/queues.js';
import type { RecurringEntry } from '../lib/recurring.js';
import { wakeTimeFor, type WakeScheduler } from '../lib/wakeScheduler.js';
import { clockSleep, jobType } from './drain/helpers.js';
import { recordingDb } from './support/statements.js';
import { waitFor } from './support/waitFor.js';
import type { Db } from '../lib/db/types.js';
import { MARK_HELD_DONE } from '../lib/sql/markHeldDone.js';
import { NEXT_DUE_AT } from '../lib/sql/nextDueAt.js';
import { useStack } from './support/stack.js';

const stack = useStack();
const T0 = '2026-05-01T10:00:07.250Z';
const T0_MS = new Date(T0).getTime();

class RecordingScheduler implements WakeScheduler {
  readonly wakes: { queue: string; at: string }[] = [];
  failing = false;

  async setWake(queue: string, at: Date): Promise<void> {
    if (this.failing) throw new Error('Scheduler said no');
    this.wakes.push({ queue, at: at.toISOString() });
  }
}

function setup(
  queue: string,
  handle: (payload: unknown) => Promise<void> = async () => {},
  extra: { queue?: Partial<QueueDeclaration>; recurring?: RecurringEntry[]; db?: (clock: ManualClock) => Db } = {},
) {
  const clock = new ManualClock(T0);
  const scheduler = new RecordingScheduler();
  const started: number[] = [];
  const app = createApp({
    db: extra.db?.(clock) ?? stack.newDb(),
    env: {},
    config: defineConfig({
      queues: [{ name: queue, leaseSeconds: 60, ...extra.queue }],
      jobTypes: [
        jobType('t', async (payload) => {
          started.push(clock.now().getTime());
          await handle(payload);
        }),
      ],
      ...(extra.recurring === undefined ? {} : { recurring: extra.recurring }),
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

/** When the last call of a recorded run was sent, by the run's clock. */
function lastCallMs(recorded: ReturnType<typeof recordingDb>): number {
  return Math.max(...recorded.calls.map((call) => call.atMs!));
}

async function wakeAt(app: App, queue: string): Promise<Date | null> {
  const [[row]] = (await stack.sql.query('SELECT wake_at FROM queue_state WHERE queue = ?', [queue])) as unknown as [[{ wake_at: Date | null } | undefined]];
  return row?.wake_at ?? null;
}

describe('wakeTimeFor', () => {
  it('asks for the start of the minute a full minute before the due time (the Scheduler fires within its minute), never sooner than 2 s from now', () => {
    const now = new Date('2026-05-01T10:00:07.250Z');
    expect(wakeTimeFor(new Date('2026-05-01T10:01:47.250Z'), now).toISOString()).toBe('2026-05-01T10:00:10.000Z');
    expect(wakeTimeFor(new Date('2026-05-01T10:05:30.000Z'), now).toISOString()).toBe('2026-05-01T10:04:00.000Z');
    expect(wakeTimeFor(new Date('2026-05-01T10:05:00.000Z'), now).toISOString()).toBe('2026-05-01T10:04:00.000Z');
    expect(wakeTimeFor(new Date('2026-05-01T09:00:00.000Z'), now).toISOString()).toBe('2026-05-01T10:00:10.000Z');
    // A recurring slot: at the slot itself, whose message exists only from then on.
    expect(wakeTimeFor(new Date('2026-05-01T10:15:00.000Z'), now, { lead: false }).toISOString()).toBe('2026-05-01T10:15:00.000Z');
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

  it('a FIFO head retrying for 10 minutes: its group waits, and the wake is for the head, not now (no loop over the blocked followers)', async () => {
    let failed = false;
    const { app, clock, scheduler, run } = setup(
      'fifo-wait',
      async () => {
        if (!failed) {
          failed = true;
          throw new RetryableError('provider busy', { retryAfterMs: 600_000 });
        }
      },
      { queue: { fifo: true } },
    );
    await enqueue(
      app,
      'fifo-wait',
      [0, 1, 2].map((n) => ({ type: 't', payload: { n }, groupKey: 'g' })),
    );
    const ended = await run(false, 60_000);
    expect(ended).toMatchObject({ retried: 1, done: 0 });
    // The followers are due but held by their head: no wake for them, one for the head's retry.
    expect(scheduler.wakes.map((wake) => wake.at)).toEqual([wakeTimeFor(new Date(T0_MS + 600_000), clock.now()).toISOString()]);
    const again = await run(false, 60_000);
    expect(again.claimed).toBe(0);
    expect(scheduler.wakes).toHaveLength(1);
  });

  it('a recurring entry: the wake is at the slot itself (its message exists from then on)', async () => {
    const { scheduler, run } = setup('slots', undefined, {
      recurring: [{ name: 'quarter-past', schedule: 'cron(15 10 * * ? *)', queue: 'slots', type: 't', payload: {} }],
    });
    await run(false, 60_000);
    expect(scheduler.wakes.map((wake) => wake.at)).toEqual(['2026-05-01T10:15:00.000Z']);
  });

  it('a run that stops with due messages left (max messages here) wakes a drain at once', async () => {
    const { app, clock, scheduler } = setup('left');
    await enqueue(
      app,
      'left',
      [0, 1, 2].map((n) => ({ type: 't', payload: { n } })),
    );
    const ended = await drain(app, { remainingTimeMs: () => 60_000, maxMessages: 1, tuning: { settleLingerMs: 0 } });
    expect(ended).toMatchObject({ claimed: 1, wakes: { set: 1 } });
    expect(scheduler.wakes.map((wake) => wake.at)).toEqual([wakeTimeFor(clock.now(), clock.now()).toISOString()]);
  });

  it('a wake whose time has come but has not fired yet still stands; the run it starts takes it off', async () => {
    const { app, clock, scheduler } = setup('firing');
    await enqueue(app, 'firing', [{ type: 't', payload: {}, delaySeconds: 300 }]);
    const wake = new Date(scheduler.wakes[0]!.at);
    // 10 s into the wake's minute, not fired yet: a message due in an hour does not replace it.
    clock.set(new Date(wake.getTime() + 10_000));
    await enqueue(app, 'firing', [{ type: 't', payload: {}, delaySeconds: 3_600 }]);
    expect(scheduler.wakes).toHaveLength(1);
    // A second process, which knows nothing of the first's wake, is told the same by the database.
    const other = createApp({ db: stack.newDb(), env: {}, config: app.config, clock, wakeScheduler: scheduler });
    await enqueue(other, 'firing', [{ type: 't', payload: {}, delaySeconds: 3_600 }]);
    expect(scheduler.wakes).toHaveLength(1);
    // The wake fires: its run takes it off, drains the message at its due time, and sets the next.
    clock.set(new Date(wake.getTime() + 40_000));
    const woken = await drain(app, {
      queue: 'firing',
      wakeAt: wake,
      remainingTimeMs: () => 180_000,
      sleep: clockSleep(clock),
      linger: { idleMs: 2_000, woken: true },
      tuning: { settleLingerMs: 0 },
    });
    expect(woken).toMatchObject({ claimed: 1, done: 1, wakes: { set: 1 } });
    expect(scheduler.wakes).toHaveLength(2);
    expect(await wakeAt(app, 'firing')).toEqual(new Date(scheduler.wakes[1]!.at));
  });

  it('a redrive on a FIFO queue sets a wake for its messages, which come due a lease later, not a drain now that finds nothing', async () => {
    const { app, clock, scheduler, run } = setup(
      'fifo-redrive',
      async () => {
        throw new PermanentError('refused');
      },
      { queue: { fifo: true } },
    );
    await enqueue(app, 'fifo-redrive', [{ type: 't', payload: {}, groupKey: 'g' }]);
    expect(await run(false)).toMatchObject({ dead: 1 });
    const wakesBefore = scheduler.wakes.length;
    expect(await redrive(app, 'fifo-redrive')).toMatchObject({ count: 1 });
    const dueAt = new Date(clock.now().getTime() + 60_000);
    expect(scheduler.wakes.slice(wakesBefore)).toEqual([{ queue: 'fifo-redrive', at: wakeTimeFor(dueAt, clock.now()).toISOString() }]);
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
    // Every call with the time it was sent.
    let recorded: ReturnType<typeof recordingDb> | undefined;
    const { app, scheduler, started, run } = setup('burst', undefined, { db: (clock) => (recorded = recordingDb(stack.newDb(), [], clock)) });
    await enqueue(
      app,
      'burst',
      Array.from({ length: 300 }, (_, n) => ({ type: 't', payload: { n } })),
    );
    expect(await run(true)).toMatchObject({ claimed: 300, done: 300 });
    // The linger (2 s of polls) and the promise to poll it made enqueues rely on (an interval more),
    // then the run's last read: nothing after, and no wake (nothing left).
    expect(lastCallMs(recorded!) - Math.max(...started)).toBeLessThanOrEqual(2_000 + WAKE_INTERVAL_MS + 100);
    expect(scheduler.wakes).toEqual([]);
  });

  it('a burst whose last outcomes are slow to write: the run looks ahead only once they are written, so its own leases do not keep it lingering', async () => {
    let recorded: ReturnType<typeof recordingDb> | undefined;
    // The lane's acks are held until its idle spell is over: the moment it would look ahead.
    let releaseAcks!: () => void;
    const acksHeld = new Promise<void>((resolve) => (releaseAcks = resolve));
    const { app, clock, started, run } = setup('slow-acks', undefined, {
      db: (clock) => {
        recorded = recordingDb(stack.newDb(), [], clock);
        const db: Db = Object.create(recorded);
        db.execute = async (sql, params, options) => {
          if (sql === MARK_HELD_DONE) await acksHeld;
          return recorded!.execute(sql, params, options);
        };
        return db;
      },
    });
    await enqueue(
      app,
      'slow-acks',
      Array.from({ length: 50 }, (_, n) => ({ type: 't', payload: { n } })),
    );
    const running = run(true);
    await waitFor(async () => clock.now().getTime() >= T0_MS + 2_000 + WAKE_INTERVAL_MS, 10_000, 'the idle spell to pass');
    // Before, the look-ahead went out now, read the held messages' lease end (a minute on), and the run lingered until then.
    expect(recorded!.calls.filter((call) => call.sql === NEXT_DUE_AT)).toEqual([]);
    releaseAcks();
    expect(await running).toMatchObject({ claimed: 50, done: 50, lostLeases: 0 });
    expect(lastCallMs(recorded!) - Math.max(...started)).toBeLessThanOrEqual(2_000 + WAKE_INTERVAL_MS + 100);
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
