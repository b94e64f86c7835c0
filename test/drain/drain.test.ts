import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../lib/clock.js';
import { defineConfig } from '../../lib/config.js';
import { claimMessages } from '../../lib/drain/claim.js';
import { CLAIM_RETRY_DELAYS_MS } from '../../lib/drain/claimRetry.js';
import { drain, UnknownQueueError } from '../../lib/drain/drain.js';
import { PermanentError, RetryableError } from '../../lib/errors.js';
import type { JobContext } from '../../lib/jobs/types.js';
import { redriveDeadLetters } from '../../lib/sql/deadLetters.js';
import { setQueuePaused } from '../../lib/sql/queueState.js';
import { ENQUEUE_LIMITS } from '../../schema/messages.js';
import { useStack } from '../support/stack.js';
import { appOn, CLAIM_STATEMENT_TEXT, clockSleep, jobType, plenty, readRows, seed } from './helpers.js';

const stack = useStack();

const T0 = '2026-03-01T12:00:00.000Z';
const noop = jobType('noop', async () => {});

describe('drain', () => {
  it('settles a success: done, finished, lease cleared, handler given the payload and context', async () => {
    const clock = new ManualClock(T0);
    const seen: { payload: unknown; context: JobContext }[] = [];
    const app = appOn(stack, {
      queues: [{ name: 'success' }],
      jobTypes: [jobType('record', async (payload, context) => void seen.push({ payload, context }))],
      clock,
    });
    const [id] = await seed(app, [{ queue: 'success', type: 'record', payload: { to: '+15550001111' }, maxAttempts: 4 }]);

    const summary = await drain(app, { remainingTimeMs: plenty });

    expect(summary).toMatchObject({ claimed: 1, done: 1, retried: 0, dead: 0, cancelled: 0, released: 0, lostLeases: 0, unsettled: 0, errors: [] });
    // listPausedQueues, claim, read, ack, one empty retention call.
    expect(summary.dataApiCalls).toBe(5);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.payload).toEqual({ to: '+15550001111' });
    expect(seen[0]!.context).toMatchObject({ id, queue: 'success', type: 'record', attempt: 1, maxAttempts: 4 });
    expect(seen[0]!.context.signal).toBeInstanceOf(AbortSignal);
    const row = (await readRows(stack, 'success')).get(id!)!;
    expect(row).toMatchObject({ status: 'done', attempts: 1, last_error: null });
    expect(row.finished_at).toEqual(new Date(T0));
  });

  it('reschedules a failure at the computed available_at: type backoff over queue backoff, retryAfter over both', async () => {
    const clock = new ManualClock(T0);
    const app = appOn(stack, {
      queues: [{ name: 'retry', backoff: { baseMs: 10_000, factor: 3, maxMs: 1_000_000 } }],
      jobTypes: [
        jobType('plain', async () => {
          throw new Error('downstream said no');
        }),
        jobType(
          'typed',
          async () => {
            throw new Error('flaky');
          },
          { backoff: { baseMs: 2_000 } },
        ),
        jobType('later', async () => {
          throw new RetryableError('429', { retryAfterMs: 7_250 });
        }),
      ],
      clock,
    });
    const [plain, typed, later] = await seed(app, [
      { queue: 'retry', type: 'plain', maxAttempts: 5 },
      { queue: 'retry', type: 'typed', maxAttempts: 5 },
      { queue: 'retry', type: 'later', maxAttempts: 5 },
    ]);

    const random = () => 0.5;
    const first = await drain(app, { remainingTimeMs: plenty, random });
    expect(first).toMatchObject({ claimed: 3, retried: 3, done: 0, dead: 0 });

    let rows = await readRows(stack, 'retry');
    const at = (ms: number) => new Date(new Date(T0).getTime() + ms);
    expect(rows.get(plain!)).toMatchObject({ status: 'retrying', attempts: 1, available_at: at(5_000) });
    expect(rows.get(plain!)!.last_error).toBe('Error: downstream said no');
    expect(rows.get(typed!)).toMatchObject({ status: 'retrying', available_at: at(1_000) }); // 0.5 × 2 s (type base, queue factor)
    expect(rows.get(later!)).toMatchObject({ status: 'retrying', available_at: at(7_250) });

    // Only `typed` is due a millisecond before `plain`; its second failure backs off by factor^1.
    clock.set(at(4_999));
    expect((await drain(app, { remainingTimeMs: plenty, random })).claimed).toBe(1);
    rows = await readRows(stack, 'retry');
    expect(rows.get(plain!)).toMatchObject({ status: 'retrying', attempts: 1 });
    expect(rows.get(typed!)).toMatchObject({ status: 'retrying', attempts: 2, available_at: at(4_999 + 3_000) }); // 0.5 × 2 s × 3
  });

  it('dead-letters a message after maxAttempts failures', async () => {
    const clock = new ManualClock(T0);
    let calls = 0;
    const app = appOn(stack, {
      queues: [{ name: 'exhaust', backoff: { baseMs: 1_000, maxMs: 1_000 } }],
      jobTypes: [
        jobType('always-fails', async () => {
          calls++;
          throw new Error(`failure ${calls}`);
        }),
      ],
      clock,
    });
    const [id] = await seed(app, [{ queue: 'exhaust', type: 'always-fails', maxAttempts: 3 }]);

    const statuses: string[] = [];
    for (let run = 0; run < 3; run++) {
      await drain(app, { remainingTimeMs: plenty });
      statuses.push((await readRows(stack, 'exhaust')).get(id!)!.status);
      clock.advance(1_000);
    }
    expect(statuses).toEqual(['retrying', 'retrying', 'dead']);
    expect(calls).toBe(3);
    const row = (await readRows(stack, 'exhaust')).get(id!)!;
    expect(row).toMatchObject({ status: 'dead', attempts: 3 });
    expect(row.last_error).toBe('attempts exhausted (3/3); last error: Error: failure 3');
    expect(row.finished_at).not.toBeNull();

    // A dead letter is never claimed again.
    clock.advance(3_600_000);
    expect((await drain(app, { remainingTimeMs: plenty })).claimed).toBe(0);
  });

  it('dead-letters a permanent error at once', async () => {
    const clock = new ManualClock(T0);
    const app = appOn(stack, {
      queues: [{ name: 'permanent' }],
      jobTypes: [
        jobType('bad-address', async () => {
          throw new PermanentError('400 invalid phone number');
        }),
      ],
      clock,
    });
    const [id] = await seed(app, [{ queue: 'permanent', type: 'bad-address', maxAttempts: 5 }]);
    const summary = await drain(app, { remainingTimeMs: plenty });
    expect(summary).toMatchObject({ claimed: 1, dead: 1, retried: 0 });
    expect((await readRows(stack, 'permanent')).get(id!)).toMatchObject({
      status: 'dead',
      attempts: 1,
      last_error: 'PermanentError: 400 invalid phone number',
    });
  });

  it('abandons a hung handler at its timeout, aborts its signal, and retries the message', async () => {
    const clock = new ManualClock(T0);
    let aborted: unknown;
    const app = appOn(stack, {
      queues: [{ name: 'hung', backoff: { baseMs: 1_000 } }],
      jobTypes: [
        jobType(
          'hangs',
          (_payload, context) =>
            new Promise<void>(() => {
              context.signal.addEventListener('abort', () => (aborted = context.signal.reason));
            }),
          { timeoutMs: 150 },
        ),
        noop,
      ],
      clock,
    });
    const [hung, fine] = await seed(app, [
      { queue: 'hung', type: 'hangs', maxAttempts: 3 },
      { queue: 'hung', type: 'noop' },
    ]);
    const summary = await drain(app, { remainingTimeMs: plenty, random: () => 0 });
    expect(summary).toMatchObject({ claimed: 2, done: 1, retried: 1 });
    expect(aborted).toBeInstanceOf(RetryableError);
    const rows = await readRows(stack, 'hung');
    expect(rows.get(hung!)).toMatchObject({ status: 'retrying', attempts: 1, last_error: 'timed out after 150 ms', available_at: new Date(T0) });
    expect(rows.get(fine!)).toMatchObject({ status: 'done' });
  });

  it('runs a redriven dead letter again, and it succeeds', async () => {
    const clock = new ManualClock(T0);
    let healthy = false;
    const app = appOn(stack, {
      queues: [{ name: 'redrive' }],
      jobTypes: [
        jobType('webhookish', async () => {
          if (!healthy) throw new PermanentError('410 gone');
        }),
      ],
      clock,
    });
    const [id] = await seed(app, [{ queue: 'redrive', type: 'webhookish', maxAttempts: 2 }]);
    await drain(app, { remainingTimeMs: plenty });
    expect((await readRows(stack, 'redrive')).get(id!)).toMatchObject({ status: 'dead', attempts: 1 });

    healthy = true;
    clock.advance(60_000);
    expect(await redriveDeadLetters(app.db, { queue: 'redrive', limit: 100, now: clock.now(), groupedAvailableAt: clock.now() })).toBe(1);
    const summary = await drain(app, { remainingTimeMs: plenty });
    expect(summary).toMatchObject({ claimed: 1, done: 1 });
    const row = (await readRows(stack, 'redrive')).get(id!)!;
    expect(row).toMatchObject({ status: 'done', attempts: 1 });
    expect(row.finished_at).toEqual(clock.now());
  });

  it('leaves a paused queue untouched and drains it once resumed', async () => {
    const clock = new ManualClock(T0);
    let handled = 0;
    const app = appOn(stack, {
      queues: [{ name: 'paused' }, { name: 'running-alongside' }],
      jobTypes: [jobType('count', async () => void handled++)],
      clock,
    });
    await seed(app, [...Array.from({ length: 5 }, () => ({ queue: 'paused', type: 'count' })), { queue: 'running-alongside', type: 'count' }]);
    await setQueuePaused(app.db, 'paused', true, clock.now());
    const before = await readRows(stack, 'paused');

    const summary = await drain(app, { remainingTimeMs: plenty });
    expect(summary.pausedQueues).toEqual(['paused']);
    expect(summary.queues.map((q) => q.queue)).toEqual(['running-alongside']);
    expect(handled).toBe(1);
    expect(await readRows(stack, 'paused')).toEqual(before);

    await setQueuePaused(app.db, 'paused', false, clock.now());
    expect((await drain(app, { queue: 'paused', remainingTimeMs: plenty })).done).toBe(5);
  });

  it('makes a message whose lease expired claimable again, exactly at its deadline, with the attempt counted', async () => {
    const clock = new ManualClock(T0);
    const attempts: number[] = [];
    const app = appOn(stack, {
      queues: [{ name: 'lease', leaseSeconds: 30 }],
      jobTypes: [jobType('record', async (_p, context) => void attempts.push(context.attempt), { timeoutMs: 1_000 })],
      clock,
    });
    const [id] = await seed(app, [{ queue: 'lease', type: 'record', maxAttempts: 3 }]);
    // A drainer claims and crashes before settling.
    const crashed = await claimMessages(app.db, { queue: 'lease', limit: 10, now: clock.now(), leaseMs: 30_000 });
    expect(crashed.claimed).toBe(1);
    expect((await readRows(stack, 'lease')).get(id!)).toMatchObject({ status: 'running', attempts: 1, available_at: new Date('2026-03-01T12:00:30.000Z') });

    clock.set('2026-03-01T12:00:29.999Z');
    expect((await drain(app, { remainingTimeMs: plenty })).claimed).toBe(0);
    clock.set('2026-03-01T12:00:30.000Z');
    const summary = await drain(app, { remainingTimeMs: plenty });
    expect(summary).toMatchObject({ claimed: 1, done: 1 });
    expect(attempts).toEqual([2]);
    expect((await readRows(stack, 'lease')).get(id!)).toMatchObject({ status: 'done', attempts: 2 });
  });

  it('runs the messages of a claim whose reply was lost in the same run, each attempt counted once', async () => {
    const clock = new ManualClock(T0);
    const attempts: number[] = [];
    const app = appOn(stack, {
      queues: [{ name: 'lost-claim' }],
      jobTypes: [jobType('record', async (_p, context) => void attempts.push(context.attempt))],
      clock,
    });
    await seed(
      app,
      Array.from({ length: 3 }, () => ({ queue: 'lost-claim', type: 'record' })),
    );
    stack.server.faults.inject({ kind: 'unavailable-after', operations: ['Execute'], statementContains: CLAIM_STATEMENT_TEXT });
    const summary = await drain(app, { remainingTimeMs: plenty });
    expect(summary).toMatchObject({ claimed: 3, done: 3, errors: [] });
    expect(attempts).toEqual([1, 1, 1]);
  });

  it('claims again, later in the run, when the Data API does not answer a claim; stops after the last retry', async () => {
    const clock = new ManualClock(T0);
    const app = appOn(stack, { queues: [{ name: 'unanswered' }], jobTypes: [noop], clock });
    await seed(
      app,
      Array.from({ length: 3 }, () => ({ queue: 'unanswered', type: 'noop' })),
    );
    const warnings: string[] = [];
    const log = { warn: (message: string) => void warnings.push(message), error: () => {} };
    const refuseClaims = (count: number) =>
      stack.server.faults.inject({ kind: 'unavailable', count, operations: ['Execute'], statementContains: CLAIM_STATEMENT_TEXT });
    try {
      refuseClaims(CLAIM_RETRY_DELAYS_MS.length);
      const startMs = clock.now().getTime();
      const summary = await drain(app, { remainingTimeMs: plenty, sleep: clockSleep(clock), log });
      expect(summary).toMatchObject({ claimed: 3, done: 3, errors: [] });
      expect(warnings.filter((w) => w.startsWith('claim failed'))).toHaveLength(CLAIM_RETRY_DELAYS_MS.length);
      // The waits, one after the other, on the run's clock (each jittered down to half at most).
      expect(clock.now().getTime() - startMs).toBeGreaterThanOrEqual(CLAIM_RETRY_DELAYS_MS.reduce((sum, ms) => sum + ms / 2, 0));

      await seed(app, [{ queue: 'unanswered', type: 'noop' }]);
      refuseClaims(CLAIM_RETRY_DELAYS_MS.length + 1);
      const gaveUp = await drain(app, { remainingTimeMs: plenty, sleep: clockSleep(clock), log });
      expect(gaveUp).toMatchObject({ claimed: 0, errors: [expect.stringMatching(/^unanswered: claim failed: /)] });
      expect(gaveUp.queues[0]!.stoppedBecause).toBe('error');
    } finally {
      stack.server.faults.clear();
    }
  });

  it('dead-letters without dispatch a message whose every lease expired', async () => {
    const clock = new ManualClock(T0);
    let dispatched = 0;
    const app = appOn(stack, {
      queues: [{ name: 'crashes', leaseSeconds: 20 }],
      jobTypes: [jobType('crashy', async () => void dispatched++, { timeoutMs: 1_000 })],
      clock,
    });
    const [id] = await seed(app, [{ queue: 'crashes', type: 'crashy', maxAttempts: 2 }]);
    for (let crash = 0; crash < 2; crash++) {
      await claimMessages(app.db, { queue: 'crashes', limit: 10, now: clock.now(), leaseMs: 20_000 });
      clock.advance(20_000);
    }
    const summary = await drain(app, { remainingTimeMs: plenty });
    expect(summary).toMatchObject({ claimed: 1, dead: 1 });
    expect(dispatched).toBe(0);
    expect((await readRows(stack, 'crashes')).get(id!)).toMatchObject({
      status: 'dead',
      attempts: 3,
      last_error: 'attempts exhausted (2): the lease of attempt 2 expired without an outcome',
    });
  });

  it('writes nothing for a handler that returns after its lease expired and another drainer re-claimed it', async () => {
    const clock = new ManualClock(T0);
    let firstStarted!: () => void;
    const started = new Promise<void>((resolve) => (firstStarted = resolve));
    let finishFirst!: () => void;
    const app = appOn(stack, {
      queues: [{ name: 'late', leaseSeconds: 20 }],
      jobTypes: [
        jobType(
          'slow-then-fast',
          async (_payload, context) => {
            if (context.attempt === 1) {
              firstStarted();
              await new Promise<void>((resolve) => (finishFirst = resolve));
              return;
            }
            throw new PermanentError('second drainer: the newer state');
          },
          { timeoutMs: 10_000 },
        ),
      ],
      clock,
    });
    const [id] = await seed(app, [{ queue: 'late', type: 'slow-then-fast', maxAttempts: 5 }]);
    const tuning = { safetyMarginMs: 1_000 };

    const firstRun = drain(app, { remainingTimeMs: plenty, maxMessages: 1, tuning });
    await started;
    clock.advance(20_000); // the first drainer's lease has expired
    const second = await drain({ ...app, db: stack.newDb() }, { remainingTimeMs: plenty, tuning });
    expect(second).toMatchObject({ claimed: 1, dead: 1, lostLeases: 0 });

    finishFirst();
    expect(await firstRun).toMatchObject({ claimed: 1, done: 0, lostLeases: 1 });
    expect((await readRows(stack, 'late')).get(id!)).toMatchObject({
      status: 'dead',
      attempts: 2,
      last_error: 'PermanentError: second drainer: the newer state',
    });
  });

  it('releases claimed messages it no longer has time to run, giving their attempt back', async () => {
    const clock = new ManualClock(T0);
    const endMs = clock.now().getTime() + 10_000;
    const app = appOn(stack, {
      queues: [{ name: 'out-of-time', drainConcurrency: 1 }],
      jobTypes: [jobType('takes-2s', async () => void clock.advance(2_000), { timeoutMs: 1_000 })],
      clock,
    });
    await seed(
      app,
      Array.from({ length: 8 }, () => ({ queue: 'out-of-time', type: 'takes-2s' })),
    );
    const summary = await drain(app, {
      remainingTimeMs: () => endMs - clock.now().getTime(),
      tuning: { defaultTimeoutMs: 1_000 },
    });
    // Budget: 10 s - 5 s margin = five 1 s waves of one handler. The handlers really take 2 s, so
    // the 4th and 5th no longer fit when their turn comes (start + 1 s + 5 s > the end).
    expect(summary).toMatchObject({ claimed: 5, done: 3, released: 2 });
    expect(summary.queues[0]!.stoppedBecause).toBe('time');
    const rows = [...(await readRows(stack, 'out-of-time')).values()];
    expect(rows.filter((row) => row.status === 'done')).toHaveLength(3);
    const waiting = rows.filter((row) => row.status === 'waiting');
    expect(waiting).toHaveLength(5);
    expect(waiting.every((row) => row.attempts === 0)).toBe(true);
  });

  it('stops at once when aborted: running handlers are retried, waiting claims released', async () => {
    const clock = new ManualClock(T0);
    const controller = new AbortController();
    let started = 0;
    const app = appOn(stack, {
      queues: [{ name: 'abort', drainConcurrency: 2, backoff: { baseMs: 0 } }],
      jobTypes: [
        jobType('blocks', async (_p, context) => {
          if (++started === 2) controller.abort(new Error('Lambda about to end'));
          await new Promise((resolve) => context.signal.addEventListener('abort', resolve));
        }),
      ],
      clock,
    });
    await seed(
      app,
      Array.from({ length: 6 }, () => ({ queue: 'abort', type: 'blocks' })),
    );
    const summary = await drain(app, { remainingTimeMs: plenty, signal: controller.signal });
    expect(summary).toMatchObject({ claimed: 6, retried: 2, released: 4, done: 0 });
    expect(summary.queues[0]!.stoppedBecause).toBe('aborted');
    const rows = [...(await readRows(stack, 'abort')).values()];
    expect(rows.filter((row) => row.status === 'retrying' && row.attempts === 1)).toHaveLength(2);
    expect(rows.filter((row) => row.status === 'waiting' && row.attempts === 0)).toHaveLength(4);
  });

  it('reports a queue whose lease is too short even for heartbeats as an error, claiming nothing', async () => {
    const app = appOn(stack, {
      queues: [{ name: 'tight', leaseSeconds: 13 }],
      jobTypes: [jobType('ten-seconds', async () => {}, { timeoutMs: 10_000 })],
      clock: new ManualClock(T0),
    });
    await seed(app, [{ queue: 'tight', type: 'ten-seconds' }]);
    // The config accepts 13 s with the default 5 s margin (heartbeats need 12.5 s); a drain tuned to keep 6 s needs 14 s.
    const summary = await drain(app, { remainingTimeMs: plenty, tuning: { safetyMarginMs: 6_000 } });
    expect(summary).toMatchObject({ claimed: 0 });
    expect(summary.queues[0]!.stoppedBecause).toBe('lease-too-short');
    expect(summary.errors).toEqual([
      "tight: not drained: its lease (13 s) is too short: it needs 14 s, the least of the longest handler's (timeout 10 s + margin 6 s + claim 2 s) " +
        "and what heartbeats need (claim 2 s + 1.5 × (margin + a beat's round trip))",
    ]);
  });

  it('leaves no listener on a caller signal that outlives the run', async () => {
    const controller = new AbortController();
    const app = appOn(stack, { queues: [{ name: 'listeners' }], jobTypes: [jobType('noop', async () => {})], clock: new ManualClock(T0) });
    await seed(app, [{ queue: 'listeners', type: 'noop' }]);
    for (let run = 0; run < 3; run++) await drain(app, { remainingTimeMs: plenty, signal: controller.signal });
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it("budgets by the job types' own timeouts: the default applies only to types without one", async () => {
    // Lease 8 s, margin 5 s: the 10 s default timeout would not fit, a type's 1 s timeout does.
    const app = appOn(stack, {
      queues: [{ name: 'fast-types', leaseSeconds: 8 }],
      jobTypes: [jobType('quick', async () => {}, { timeoutMs: 1_000 })],
      clock: new ManualClock(T0),
    });
    await seed(
      app,
      Array.from({ length: 3 }, () => ({ queue: 'fast-types', type: 'quick' })),
    );
    const summary = await drain(app, { remainingTimeMs: plenty, tuning: { defaultTimeoutMs: 10_000, safetyMarginMs: 5_000 } });
    expect(summary).toMatchObject({ claimed: 3, done: 3, errors: [] });
  });

  it('budgets by the types its queue carries: a slow type elsewhere does not refuse its short lease', async () => {
    // Lease 8 s, margin 5 s: the slow type's 20 s timeout would not fit (the config would refuse
    // the lease), the carried type's 1 s does.
    const jobTypes = [jobType('quick', async () => {}, { timeoutMs: 1_000 }), jobType('slow', async () => {}, { timeoutMs: 20_000 })];
    expect(() => defineConfig({ queues: [{ name: 'fast-carried', leaseSeconds: 8 }], jobTypes })).toThrow(/leaseSeconds 8 is too short/);
    const app = appOn(stack, {
      queues: [
        { name: 'fast-carried', leaseSeconds: 8, types: ['quick'] },
        { name: 'slow-carried', types: ['slow'] },
      ],
      jobTypes,
      clock: new ManualClock(T0),
    });
    await seed(
      app,
      Array.from({ length: 3 }, () => ({ queue: 'fast-carried', type: 'quick' })),
    );
    const summary = await drain(app, { queue: 'fast-carried', remainingTimeMs: plenty, tuning: { safetyMarginMs: 5_000 } });
    expect(summary).toMatchObject({ claimed: 3, done: 3, errors: [] });
  });

  it("claims as many as the carried types' timeouts fit in a lease, not the slowest registered type's", async () => {
    // One handler at a time, a 60 s lease: 53 s of it for handlers. At a 20 s timeout that is 2
    // messages held at once; at the carried type's 1 s, 53.
    const heldAtFirstStart = new Map<string, number>();
    const slow = jobType('slow', async () => {}, { timeoutMs: 20_000 });
    for (const [queue, types] of [
      ['any-type', undefined],
      ['one-type', ['counted']],
    ] as const) {
      const counted = jobType(
        'counted',
        async () => {
          // One handler at a time (drainConcurrency 1): the first has the map to itself.
          if (heldAtFirstStart.has(queue)) return;
          const [rows] = await stack.sql.query("SELECT COUNT(*) AS n FROM queue_messages WHERE queue = ? AND status = 'running'", [queue]);
          heldAtFirstStart.set(queue, Number((rows as { n: number }[])[0]!.n));
        },
        { timeoutMs: 1_000 },
      );
      const app = appOn(stack, {
        queues: [{ name: queue, drainConcurrency: 1, batchSize: 100, ...(types === undefined ? {} : { types }) }],
        jobTypes: [counted, slow],
        clock: new ManualClock(T0),
      });
      await seed(
        app,
        Array.from({ length: 60 }, () => ({ queue, type: 'counted' })),
      );
      expect(await drain(app, { remainingTimeMs: plenty, tuning: { safetyMarginMs: 5_000 } })).toMatchObject({ done: 60, errors: [] });
    }
    expect(Object.fromEntries(heldAtFirstStart)).toEqual({ 'any-type': 2, 'one-type': 53 });
  });

  it('dead-letters a message of a type its queue does not carry, saying so, even where its lease could not fit that type, and a FIFO group goes on', async () => {
    // Lease 8 s fits the carried 1 s type; the stray type's 10 s default timeout would not, yet it
    // is not released (it would come back every claim): it runs nothing, so it is dead at once.
    const app = appOn(stack, {
      queues: [
        { name: 'short-carrier', leaseSeconds: 8, types: ['quick'] },
        { name: 'fifo-carrier', fifo: true, types: ['quick'] },
      ],
      jobTypes: [jobType('quick', async () => {}, { timeoutMs: 1_000 }), jobType('stray', async () => {})],
      clock: new ManualClock(T0),
    });
    const [stray, kept, gone] = await seed(app, [
      { queue: 'short-carrier', type: 'stray' },
      { queue: 'short-carrier', type: 'quick' },
      // A type no longer registered at all.
      { queue: 'short-carrier', type: 'gone' },
    ]);
    const [head, follower] = await seed(app, [
      { queue: 'fifo-carrier', type: 'stray', groupKey: 'g' },
      { queue: 'fifo-carrier', type: 'quick', groupKey: 'g' },
    ]);
    const tuning = { safetyMarginMs: 5_000 };
    expect(await drain(app, { queue: 'short-carrier', remainingTimeMs: plenty, tuning })).toMatchObject({
      claimed: 3,
      done: 1,
      dead: 2,
      released: 0,
      errors: [],
    });
    expect((await readRows(stack, 'short-carrier')).get(stray!)).toMatchObject({
      last_error: 'job type "stray" is not one its queue carries (its types in queue.config.ts: quick)',
    });
    expect((await readRows(stack, 'short-carrier')).get(gone!)).toMatchObject({ status: 'dead', last_error: 'unknown job type "gone"' });
    for (let run = 0; run < 3 && (await readRows(stack, 'fifo-carrier')).get(follower!)?.status !== 'done'; run++)
      expect(await drain(app, { queue: 'fifo-carrier', remainingTimeMs: plenty, tuning })).toMatchObject({ released: 0, errors: [] });
    const rows = new Map([...(await readRows(stack, 'short-carrier')), ...(await readRows(stack, 'fifo-carrier'))]);
    expect([stray, kept, head, follower].map((id) => rows.get(id!)?.status)).toEqual(['dead', 'done', 'dead', 'done']);
  });

  it('keeps to the queue concurrency', async () => {
    const clock = new ManualClock(T0);
    let running = 0;
    let peak = 0;
    const app = appOn(stack, {
      queues: [{ name: 'narrow', drainConcurrency: 3, batchSize: 10 }],
      jobTypes: [
        jobType('overlap', async () => {
          peak = Math.max(peak, ++running);
          await new Promise((resolve) => setTimeout(resolve, 5));
          running--;
        }),
      ],
      clock,
    });
    await seed(
      app,
      Array.from({ length: 40 }, () => ({ queue: 'narrow', type: 'overlap' })),
    );
    expect((await drain(app, { remainingTimeMs: plenty })).done).toBe(40);
    expect(peak).toBe(3);
  });

  it('keeps to the queue rate on the injected clock, and claims no more than the rate allows in the time left', async () => {
    const clock = new ManualClock(T0);
    const startedAt: number[] = [];
    const app = appOn(stack, {
      queues: [{ name: 'rated', drainRatePerSecond: 10, batchSize: 100 }],
      jobTypes: [jobType('stamp', async () => void startedAt.push(clock.now().getTime()), { timeoutMs: 1_000 })],
      clock,
    });
    await seed(
      app,
      Array.from({ length: 60 }, () => ({ queue: 'rated', type: 'stamp' })),
    );
    const endMs = clock.now().getTime() + 8_000;
    const summary = await drain(app, {
      remainingTimeMs: () => endMs - clock.now().getTime(),
      sleep: clockSleep(clock),
      tuning: { defaultTimeoutMs: 1_000 },
    });
    // 8 s - 5 s margin = one 1 s wave + 2 s of spacing at 10/s: 20 messages; once those are
    // done (at 1.9 s), 6.1 s - 5 s fits one more (1 s wave + 0.1 s), and then none.
    expect(summary.claimed).toBe(21);
    expect(summary.done).toBe(21);
    expect(summary.queues[0]!.stoppedBecause).toBe('time');
    const t0 = new Date(T0).getTime();
    // One token at once (burst 1), then one every 100 ms.
    expect(startedAt.map((t) => t - t0)).toEqual(Array.from({ length: 21 }, (_, i) => i * 100));
  });

  it('claims higher priority first', async () => {
    const clock = new ManualClock(T0);
    const order: unknown[] = [];
    const app = appOn(stack, {
      queues: [{ name: 'priority', batchSize: 1, drainConcurrency: 1 }],
      jobTypes: [jobType('record', async (payload) => void order.push(payload))],
      clock,
    });
    await seed(app, [
      { queue: 'priority', type: 'record', payload: 'low', priority: -1 },
      { queue: 'priority', type: 'record', payload: 'normal' },
      { queue: 'priority', type: 'record', payload: 'high', priority: 5 },
      { queue: 'priority', type: 'record', payload: 'normal-later', availableAt: new Date(new Date(T0).getTime() - 1) },
    ]);
    await drain(app, { remainingTimeMs: plenty, tuning: { maxClaimsInFlight: 1 } });
    expect(order).toEqual(['high', 'normal-later', 'normal', 'low']);
  });

  it('claims no more than maxMessages over all queues, and drains every declared queue in one run', async () => {
    const clock = new ManualClock(T0);
    const app = appOn(stack, {
      queues: [
        { name: 'fair-a', batchSize: 10 },
        { name: 'fair-b', batchSize: 10 },
      ],
      jobTypes: [noop],
      clock,
    });
    await seed(app, [
      ...Array.from({ length: 30 }, () => ({ queue: 'fair-a', type: 'noop' })),
      ...Array.from({ length: 30 }, () => ({ queue: 'fair-b', type: 'noop' })),
    ]);
    const limited = await drain(app, { remainingTimeMs: plenty, maxMessages: 25 });
    expect(limited).toMatchObject({ claimed: 25, done: 25 });
    expect(limited.queues.map((q) => [q.queue, q.claimed, q.stoppedBecause])).toEqual([
      ['fair-a', 13, 'max-messages'],
      ['fair-b', 12, 'max-messages'],
    ]);

    const rest = await drain(app, { remainingTimeMs: plenty });
    expect(rest.done).toBe(35);
    expect(rest.queues.map((q) => [q.queue, q.stoppedBecause])).toEqual([
      ['fair-a', 'empty'],
      ['fair-b', 'empty'],
    ]);
  });

  it('refuses an undeclared queue', async () => {
    const app = appOn(stack, { queues: [{ name: 'known' }], jobTypes: [noop], clock: new ManualClock(T0) });
    await expect(drain(app, { queue: 'nope', remainingTimeMs: plenty })).rejects.toBeInstanceOf(UnknownQueueError);
  });

  it('reads a batch of maximum-size payloads in pages that each stay under the 1 MiB response limit', async () => {
    const clock = new ManualClock(T0);
    const payloads: string[] = [];
    const app = appOn(stack, {
      queues: [{ name: 'big', batchSize: 100 }],
      jobTypes: [jobType('big', async (payload) => void payloads.push((payload as { s: string }).s))],
      clock,
    });
    // The largest payload a row holds (55,296 bytes of stored JSON), all quotes: the worst case
    // for escaping on the wire among ASCII.
    const body = '"'.repeat((ENQUEUE_LIMITS.maxInlinePayloadBytes - '{"s":""}'.length) / 2);
    expect(JSON.stringify({ s: body })).toHaveLength(ENQUEUE_LIMITS.maxInlinePayloadBytes);
    await seed(
      app,
      Array.from({ length: 100 }, () => ({ queue: 'big', type: 'big', payload: { s: body } })),
      10,
    );

    const before = app.db.stats.byOperation.Execute ?? 0;
    // One claim in flight, so the count of calls below is exact.
    const summary = await drain(app, { remainingTimeMs: plenty, tuning: { maxClaimsInFlight: 1 } });
    expect(summary).toMatchObject({ claimed: 100, done: 100, errors: [] });
    expect(payloads).toHaveLength(100);
    expect(payloads.every((p) => p === body)).toBe(true);
    // 4 payloads a page (222 KB each at worst as JSON records, lib/sql/responseBytes.ts; 221 KB as
    // quotes escape twice): 25 pages, besides the pause list, the claim, the next (empty) claim,
    // one ack and one retention call.
    expect((app.db.stats.byOperation.Execute ?? 0) - before).toBe(5 + 25);
  });
});
