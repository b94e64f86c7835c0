/**
 * Wake on enqueue, on the real stack: coalescing through queue_state, a failed invoke, and the
 * race between a wake and a lingering drain's exit.
 */
import { describe, expect, it } from 'vitest';
import { createApp, type App } from '../lib/app.js';
import { ManualClock, systemClock } from '../lib/clock.js';
import { defineConfig } from '../lib/config.js';
import { drain } from '../lib/drain/drain.js';
import { enqueue } from '../lib/enqueue.js';
import { extendDrainActivity } from '../lib/sql/drainActivity.js';
import { Waker } from '../lib/wake.js';
import { jobType } from './drain/helpers.js';
import { useStack } from './support/stack.js';

const stack = useStack();
const noop = jobType('noop', async () => {});

function waker(queue: string, clock = new ManualClock('2026-03-01T12:00:00.000Z')) {
  const invoked: string[] = [];
  let fail = false;
  const w = new Waker({
    db: stack.newDb(),
    clock,
    queues: [queue],
    invoke: async (q) => {
      if (fail) throw new Error('Lambda said no');
      invoked.push(q);
    },
  });
  return { waker: w, invoked, clock, failNext: (value: boolean) => (fail = value) };
}

describe('Waker', () => {
  it('wakes once per burst: every process checks once per interval, one of them wins', async () => {
    const clock = new ManualClock('2026-03-01T12:00:00.000Z');
    const containers = Array.from({ length: 5 }, () => waker('burst', clock));
    const results = await Promise.all(containers.flatMap((c) => Array.from({ length: 20 }, () => c.waker.wake('burst'))));
    expect(containers.flatMap((c) => c.invoked)).toEqual(['burst']);
    expect(results.filter((r) => r === 'woken')).toHaveLength(1);
    expect(results.filter((r) => r === 'drain-active')).toHaveLength(4);
    expect(results.filter((r) => r === 'checked-recently')).toHaveLength(95);

    // The next interval: one more wake (the first drain may not have started yet).
    clock.advance(1_001);
    await Promise.all(containers.map((c) => c.waker.wake('burst')));
    expect(containers.flatMap((c) => c.invoked)).toEqual(['burst', 'burst']);
  });

  it('does not wake while a drain promises to poll the queue an interval ahead', async () => {
    const { waker: w, invoked, clock } = waker('polled');
    await extendDrainActivity(stack.newDb(), { queue: 'polled', until: new Date(clock.now().getTime() + 2_000), now: clock.now() });
    expect(await w.wake('polled')).toBe('drain-active');
    clock.advance(1_500); // the promise now reaches less than an interval ahead
    expect(await w.wake('polled')).toBe('woken');
    expect(invoked).toEqual(['polled']);
  });

  it('makes a missing queue_state row again (a table reset under a running process) instead of never waking', async () => {
    const { waker: w, invoked, clock } = waker('reset');
    expect(await w.wake('reset')).toBe('woken');
    await stack.sql.query("DELETE FROM queue_state WHERE queue = 'reset'");
    clock.advance(1_001);
    expect(await w.wake('reset')).toBe('woken');
    clock.advance(1_001);
    expect(await w.wake('reset')).toBe('woken');
    expect(invoked).toEqual(['reset', 'reset', 'reset']);
  });

  it('a failed invoke delays the drain but loses nothing', async () => {
    const clock = new ManualClock('2026-03-01T12:00:00.000Z');
    const queue = 'flaky';
    const { waker: w, invoked, failNext } = waker(queue, clock);
    const app: App = { ...createApp({ db: stack.newDb(), env: {}, config: defineConfig({ queues: [{ name: queue }], jobTypes: [noop] }), clock }), waker: w };
    failNext(true);
    await enqueue(app, queue, [{ type: 'noop', payload: {} }]);
    expect(invoked).toEqual([]);
    failNext(false);
    clock.advance(1_001);
    await enqueue(app, queue, [{ type: 'noop', payload: {} }]);
    expect(invoked).toEqual([queue]);
    expect(await drain(app, { queue, remainingTimeMs: () => 60_000 })).toMatchObject({ claimed: 2, done: 2 });
  });
});

describe('a lingering drain', () => {
  it('strands no message when wakes race with its exit: every enqueue is drained by a woken or lingering run', async () => {
    const queue = 'race';
    const runs: Promise<unknown>[] = [];
    const started: number[] = [];
    // Each wake starts a run in this process, as a Lambda Event invoke would start one in AWS.
    const invoke = async (q: string) => {
      started.push(Date.now());
      runs.push(drain({ ...app, db: stack.newDb() }, { queue: q, remainingTimeMs: () => 60_000, linger: { idleMs: 150, woken: true } }));
    };
    // Declared after `invoke`, which reads it only once a wake starts a run.
    const app = createApp({
      db: stack.newDb(),
      env: {},
      config: defineConfig({ queues: [{ name: queue }], jobTypes: [noop] }),
      clock: systemClock,
      invokeDrain: invoke,
    });
    // Several "containers", each its own Waker, enqueueing at irregular moments for ~3 s, so
    // enqueues land before, during and right after runs' exits.
    const containers = Array.from({ length: 3 }, () => new Waker({ db: stack.newDb(), clock: systemClock, queues: [queue], invoke }));
    let sent = 0;
    await Promise.all(
      containers.map(async (w) => {
        for (let i = 0; i < 15; i++) {
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 400));
          await enqueue({ ...app, waker: w }, queue, [{ type: 'noop', payload: { i } }]);
          sent++;
        }
      }),
    );
    // Let the last runs finish their linger; no schedule runs here, so nothing else drains.
    for (let settled = 0; settled < runs.length;) {
      const batch = runs.slice(settled);
      await Promise.all(batch);
      settled += batch.length;
    }
    const [[row]] = (await stack.sql.query("SELECT COUNT(*) AS n, SUM(status = 'done') AS done FROM queue_messages WHERE queue = ?", [queue])) as any;
    expect(Number(row.n)).toBe(sent);
    expect(Number(row.done)).toBe(sent);
    // Coalesced: far fewer runs than enqueues.
    expect(started.length).toBeLessThan(sent / 3);
  });

  it('waits for a delayed message that comes due within the run and dispatches it then, not at the next schedule', async () => {
    const queue = 'delayed';
    const app = createApp({ db: stack.newDb(), env: {}, config: defineConfig({ queues: [{ name: queue }], jobTypes: [noop] }), clock: systemClock });
    const [answer] = await enqueue(app, queue, [{ type: 'noop', payload: {}, delaySeconds: 3 }]);
    const summary = await drain(app, { queue, remainingTimeMs: () => 60_000, linger: { idleMs: 200, woken: true } });
    expect(summary).toMatchObject({ claimed: 1, done: 1 });
    const [[row]] = (await stack.sql.query('SELECT status FROM queue_messages WHERE id = ?', [answer!.id])) as any;
    expect(row.status).toBe('done');
  });

  it('costs an idle system nothing: a scheduled run over an empty queue does not linger', async () => {
    const queue = 'idle';
    const app = createApp({ db: stack.newDb(), env: {}, config: defineConfig({ queues: [{ name: queue }], jobTypes: [noop] }), clock: systemClock });
    const plain = await drain(app, { queue, remainingTimeMs: () => 60_000 });
    const scheduled = await drain(app, { queue, remainingTimeMs: () => 60_000, linger: { idleMs: 2_000, woken: false } });
    expect(scheduled.dataApiCalls).toBe(plain.dataApiCalls);
    expect(scheduled.queues[0]!.stoppedBecause).toBe('empty');
  });

  it('picks up a message enqueued while it lingers, without another wake', async () => {
    const queue = 'linger';
    const app = createApp({ db: stack.newDb(), env: {}, config: defineConfig({ queues: [{ name: queue }], jobTypes: [noop] }), clock: systemClock });
    const run = drain(app, { queue, remainingTimeMs: () => 60_000, linger: { idleMs: 1_000, woken: true } });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const [answer] = await enqueue(app, queue, [{ type: 'noop', payload: {} }]);
    const summary = await run;
    expect(summary).toMatchObject({ claimed: 1, done: 1 });
    const [[row]] = (await stack.sql.query('SELECT status FROM queue_messages WHERE id = ?', [answer!.id])) as any;
    expect(row.status).toBe('done');
    // How fast is measured by npm run bench (pickup latency), not asserted here.
  });
});
