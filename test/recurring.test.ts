import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createApp, type App } from '../lib/app.js';
import { ManualClock } from '../lib/clock.js';
import { ConfigError, defineConfig } from '../lib/config.js';
import type { Db } from '../lib/db/types.js';
import { drain, type DrainSummary } from '../lib/drain/drain.js';
import { PermanentError } from '../lib/errors.js';
import { defineJobType, type JobType } from '../lib/jobs/types.js';
import { purgeDeadLetters } from '../lib/operations.js';
import type { QueueDeclaration } from '../lib/queues.js';
import { dueSlots, lookBackMs, planRecurring, slotKey, type RecurringDeclaration } from '../lib/recurring.js';
import { setQueuePaused } from '../lib/sql/queueState.js';
import { jobType } from './drain/helpers.js';
import { useStack } from './support/stack.js';

const stack = useStack();

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** Quick runs: no linger, settles written at once. */
const runOnce = (app: App): Promise<DrainSummary> => drain(app, { remainingTimeMs: () => 30_000, tuning: { settleLingerMs: 0 } });

function appWith(options: { queues: QueueDeclaration[]; jobTypes: JobType<any>[]; recurring: RecurringDeclaration[]; clock: ManualClock; db?: Db }): App {
  const config = defineConfig({ queues: options.queues, jobTypes: options.jobTypes, recurring: options.recurring });
  return createApp({ db: options.db ?? stack.newDb(), env: {}, config, clock: options.clock });
}

async function dedupKeys(queue: string): Promise<string[]> {
  const [rows] = await stack.sql.query('SELECT dedup_key FROM queue_messages WHERE queue = ? ORDER BY dedup_key', [queue]);
  return (rows as { dedup_key: string }[]).map((row) => row.dedup_key);
}

const keysFor = (name: string, slots: readonly number[]) => slots.map((slot) => slotKey(name, new Date(slot))).sort();

describe('recurring messages through drain runs', () => {
  it('24 simulated hours of a 1-minute schedule across 3 concurrent drains: 1,440 messages, each slot once, each delivered once', async () => {
    const start = Date.parse('2026-06-01T00:00:00.000Z');
    const clock = new ManualClock(start);
    const delivered: string[] = [];
    const tick = jobType('tick', async (_payload, context) => void delivered.push(context.id));
    const apps = [1, 2, 3].map(() =>
      appWith({
        queues: [{ name: 'ticks' }],
        jobTypes: [tick],
        recurring: [{ name: 'tick', schedule: 'rate(1 minute)', queue: 'ticks', type: 'tick', payload: {} }],
        clock,
      }),
    );

    let enqueued = 0;
    const errors: string[] = [];
    for (let minute = 1; minute <= 24 * 60; minute++) {
      // Each run starts somewhere within its minute, as the schedule's and the wakes' would.
      clock.set(start + minute * MINUTE + (minute % 7) * 1_000);
      const summaries = await Promise.all(apps.map(runOnce));
      for (const summary of summaries) {
        enqueued += summary.recurringEnqueued;
        errors.push(...summary.errors);
      }
    }

    expect(errors).toEqual([]);
    expect(enqueued).toBe(1_440);
    const expected = keysFor(
      'tick',
      Array.from({ length: 1_440 }, (_, i) => start + (i + 1) * MINUTE),
    );
    expect(await dedupKeys('ticks')).toEqual(expected);
    expect(delivered).toHaveLength(1_440);
    expect(new Set(delivered).size).toBe(1_440);
  }, 120_000);

  it('after a 3-hour outage enqueues the latest slot only, or the latest N with catch-up N', async () => {
    const clock = new ManualClock('2026-06-02T08:00:10.000Z');
    const noop = jobType('noop', async () => {});
    const recurring: RecurringDeclaration[] = [
      { name: 'latest-only', schedule: 'rate(1 minute)', queue: 'outage-latest', type: 'noop', payload: {} },
      { name: 'catch-up', schedule: 'cron(* * * * ? *)', queue: 'outage-catch-up', type: 'noop', payload: { n: 1 }, catchUp: 5 },
    ];
    const queues = [{ name: 'outage-latest' }, { name: 'outage-catch-up' }];
    const before = appWith({ queues, jobTypes: [noop], recurring, clock });
    expect((await runOnce(before)).recurringEnqueued).toBe(1 + 5);

    // Three hours without a drain; then new processes (nothing in memory) and two runs at once.
    clock.advance(3 * HOUR);
    const after = [1, 2].map(() => appWith({ queues, jobTypes: [noop], recurring, clock }));
    const summaries = await Promise.all(after.map(runOnce));
    expect(summaries.reduce((sum, summary) => sum + summary.recurringEnqueued, 0)).toBe(1 + 5);

    const at = Date.parse('2026-06-02T11:00:00.000Z');
    expect(await dedupKeys('outage-latest')).toEqual(keysFor('latest-only', [at - 3 * HOUR, at]));
    const lastFive = (end: number) => Array.from({ length: 5 }, (_, i) => end - i * MINUTE);
    expect(await dedupKeys('outage-catch-up')).toEqual(keysFor('catch-up', [...lastFive(at - 3 * HOUR), ...lastFive(at)]));
  });

  it('costs one call when a slot is new, none when this process already stored it, and never reads back', async () => {
    const clock = new ManualClock('2026-06-03T09:00:05.000Z');
    const options = {
      queues: [{ name: 'cost-a' }, { name: 'cost-b' }],
      jobTypes: [jobType('noop', async () => {})],
      recurring: [
        { name: 'cost-1', schedule: 'rate(5 minutes)', queue: 'cost-a', type: 'noop', payload: {} },
        { name: 'cost-2', schedule: 'cron(0 9 * * ? *)', queue: 'cost-a', type: 'noop', payload: {} },
        { name: 'cost-3', schedule: 'cron(0 * * * ? *)', queue: 'cost-b', type: 'noop', payload: {} },
      ],
      clock,
    };
    const withEntries = appWith(options);
    const without = appWith({ ...options, recurring: [] });
    const bare = async () => (await runOnce(without)).dataApiCalls;

    // Two queues with due slots: one insert each, besides what the run costs anyway.
    const first = await runOnce(withEntries);
    expect(first.recurringEnqueued).toBe(3);
    await runOnce(without); // drains what the first run left
    clock.advance(30_000);
    const baseline = await bare();
    // The same slots again: this process knows they are stored.
    const again = await runOnce(withEntries);
    expect(again).toMatchObject({ recurringEnqueued: 0, dataApiCalls: baseline });
    // Another process does not know: one insert per queue, all duplicates, nothing read back.
    const other = await runOnce(appWith(options));
    expect(other).toMatchObject({ recurringEnqueued: 0, dataApiCalls: baseline + 2 });
    // The next 5-minute slot: one call for its queue.
    clock.set('2026-06-03T09:05:01.000Z');
    const next = await runOnce(withEntries);
    expect(next.recurringEnqueued).toBe(1);
    expect(next.errors).toEqual([]);
  });

  it('enqueues on a paused queue too (enqueue goes on), and on queues the run does not drain', async () => {
    const clock = new ManualClock('2026-06-04T09:00:00.000Z');
    const app = appWith({
      queues: [{ name: 'paused-recurring' }, { name: 'other-recurring' }],
      jobTypes: [jobType('noop', async () => {})],
      recurring: [
        { name: 'to-paused', schedule: 'rate(1 hour)', queue: 'paused-recurring', type: 'noop', payload: {} },
        { name: 'to-other', schedule: 'rate(1 hour)', queue: 'other-recurring', type: 'noop', payload: {} },
      ],
      clock,
    });
    await setQueuePaused(app.db, 'paused-recurring', true, clock.now());
    const summary = await drain(app, { queue: 'paused-recurring', remainingTimeMs: () => 30_000 });
    expect(summary).toMatchObject({ recurringEnqueued: 2, pausedQueues: ['paused-recurring'], errors: [] });
    const [rows] = await stack.sql.query("SELECT queue, status FROM queue_messages WHERE queue IN ('paused-recurring', 'other-recurring') ORDER BY queue");
    expect(rows).toEqual([
      { queue: 'other-recurring', status: 'waiting' },
      { queue: 'paused-recurring', status: 'waiting' },
    ]);
  });

  it('never enqueues again a slot whose dead letter was purged, in a process that did not store it', async () => {
    const clock = new ManualClock('2026-06-06T09:00:30.000Z');
    const options = {
      queues: [{ name: 'purged-slots' }],
      jobTypes: [jobType('fails', async () => Promise.reject(new PermanentError('no')))],
      recurring: [
        { name: 'hourly', schedule: 'rate(1 hour)', queue: 'purged-slots', type: 'fails', payload: {} },
        { name: 'catching-up', schedule: 'rate(10 minutes)', queue: 'purged-slots', type: 'fails', payload: {}, catchUp: 3 },
      ],
      clock,
    };
    const first = await runOnce(appWith(options));
    expect(first).toMatchObject({ recurringEnqueued: 1 + 3, dead: 1 + 3 });
    const operator = appWith(options);
    expect(await purgeDeadLetters(operator, 'purged-slots', { all: true })).toEqual({ count: 4, more: false });

    // Before the next slot, processes with nothing in memory (a cold start, another instance).
    clock.advance(5 * MINUTE);
    const cold = await runOnce(appWith(options));
    expect(cold).toMatchObject({ recurringEnqueued: 0, errors: [] });
    expect(await dedupKeys('purged-slots')).toEqual([]);
    // A new catch-up slot is enqueued; the purged ones within its reach are not.
    clock.advance(5 * MINUTE);
    expect(await runOnce(appWith(options))).toMatchObject({ recurringEnqueued: 1, errors: [] });
    expect(await dedupKeys('purged-slots')).toEqual(keysFor('catching-up', [Date.parse('2026-06-06T09:10:00.000Z')]));
    await purgeDeadLetters(operator, 'purged-slots', { all: true });

    // The next slots are enqueued as ever; the purged ones still not, though in catch-up's reach.
    clock.set('2026-06-06T10:00:30.000Z');
    expect(await runOnce(appWith(options))).toMatchObject({ recurringEnqueued: 1 + 3, errors: [] });
    const tenMinutes = (end: string, n: number) => Array.from({ length: n }, (_, i) => Date.parse(end) - i * 10 * MINUTE);
    expect(await dedupKeys('purged-slots')).toEqual(
      [...keysFor('hourly', [Date.parse('2026-06-06T10:00:00.000Z')]), ...keysFor('catching-up', tenMinutes('2026-06-06T10:00:00.000Z', 3))].sort(),
    );

    // A purge by ids marks its slots too.
    const [dead] = (await stack.sql.query("SELECT id FROM queue_messages WHERE queue = 'purged-slots' AND dedup_key LIKE 'recurring:hourly:%'")) as any;
    expect(await purgeDeadLetters(operator, 'purged-slots', { ids: [dead[0].id] })).toEqual({ count: 1, more: false });
    clock.advance(MINUTE);
    expect(await runOnce(appWith(options))).toMatchObject({ recurringEnqueued: 0, errors: [] });
    expect(await dedupKeys('purged-slots')).toHaveLength(3);
  });

  it('reports a failed enqueue in the run, drains anyway, and enqueues the slot on the next run', async () => {
    const clock = new ManualClock('2026-06-05T09:00:00.000Z');
    const db = stack.newDb();
    let failInserts = true;
    // The insert fails (a Data API outage), every other statement goes through.
    const failing: Db = {
      query: (sql, params, options) => db.query(sql, params, options),
      execute: (sql, params, options) =>
        failInserts && sql.includes('INSERT INTO queue_messages') ? Promise.reject(new Error('Communications link failure')) : db.execute(sql, params, options),
      batch: (sql, sets, options) => db.batch(sql, sets, options),
      transaction: (work) => db.transaction(work),
      withTransactionId: (id) => db.withTransactionId(id),
      transactionId: undefined,
      stats: db.stats,
    };
    const delivered: unknown[] = [];
    const app = appWith({
      queues: [{ name: 'flaky-recurring' }],
      jobTypes: [jobType('record', async (payload) => void delivered.push(payload))],
      recurring: [{ name: 'flaky', schedule: 'rate(1 hour)', queue: 'flaky-recurring', type: 'record', payload: { from: 'recurring' } }],
      clock,
      db: failing,
    });
    await stack.sql.query(
      "INSERT INTO queue_messages (id, queue, type, payload, payload_bytes, status, priority, attempts, max_attempts, available_at, created_at, updated_at) VALUES (UUID(), 'flaky-recurring', 'record', '{\"from\":\"seed\"}', 16, 'waiting', 0, 0, 3, ?, ?, ?)",
      [clock.now(), clock.now(), clock.now()],
    );

    const failed = await runOnce(app);
    expect(failed.errors).toEqual([expect.stringMatching(/^recurring: enqueue on queue "flaky-recurring" failed \(flaky\): .*Communications link failure/)]);
    expect(failed).toMatchObject({ recurringEnqueued: 0, done: 1 });
    expect(delivered).toEqual([{ from: 'seed' }]);

    failInserts = false;
    clock.advance(10_000);
    expect(await runOnce(app)).toMatchObject({ recurringEnqueued: 1, done: 1, errors: [] });
    expect(delivered).toEqual([{ from: 'seed' }, { from: 'recurring' }]);
  });
});

describe('due slots', () => {
  const plan = (declaration: Omit<RecurringDeclaration, 'queue' | 'type' | 'payload'>) =>
    planRecurring([{ queue: 'q', type: 't', payload: {}, ...declaration }])[0]!;
  const iso = (dates: Date[]) => dates.map((date) => date.toISOString());

  it('are the latest slot, or the latest catchUp slots, at or before now', () => {
    const now = new Date('2026-06-01T09:07:00Z');
    expect(iso(dueSlots(plan({ name: 'a', schedule: 'rate(5 minutes)' }), now, HOUR))).toEqual(['2026-06-01T09:05:00.000Z']);
    expect(iso(dueSlots(plan({ name: 'a', schedule: 'rate(5 minutes)', catchUp: 3 }), now, HOUR))).toEqual([
      '2026-06-01T08:55:00.000Z',
      '2026-06-01T09:00:00.000Z',
      '2026-06-01T09:05:00.000Z',
    ]);
    expect(iso(dueSlots(plan({ name: 'a', schedule: 'cron(0 9 * * ? *)', timezone: 'Europe/Paris' }), now, 48 * HOUR))).toEqual(['2026-06-01T07:00:00.000Z']);
  });

  it('never reach back past what the queue keeps, so a slot whose message retention deleted is not enqueued again', () => {
    const yearly = plan({ name: 'new-year', schedule: 'cron(0 0 1 1 ? *)' });
    const keptAWeek = lookBackMs({ retentionSeconds: 7 * 24 * 3_600, deadRetentionSeconds: undefined });
    expect(keptAWeek).toBe(7 * 24 * HOUR - 5 * MINUTE);
    expect(dueSlots(yearly, new Date('2026-01-06T00:00:00Z'), keptAWeek)).toHaveLength(1);
    expect(dueSlots(yearly, new Date('2026-01-08T00:00:00Z'), keptAWeek)).toEqual([]);
    // Dead letters kept a day: the shorter of the two counts.
    expect(lookBackMs({ retentionSeconds: 7 * 24 * 3_600, deadRetentionSeconds: 24 * 3_600 })).toBe(24 * HOUR - 5 * MINUTE);
  });
});

describe('defineConfig: recurring', () => {
  const report = defineJobType({ type: 'report', payload: z.strictObject({ day: z.string() }), handle: async () => {} });
  const entry = { name: 'daily-report', schedule: 'cron(0 9 * * ? *)', queue: 'reports', type: 'report', payload: { day: 'today' } } as const;

  function problemsOf(recurring: readonly unknown[]): string[] {
    try {
      defineConfig({ queues: [{ name: 'reports' }], jobTypes: [report], recurring: recurring as never });
    } catch (error) {
      if (error instanceof ConfigError) return [...error.problems];
      throw error;
    }
    throw new Error('expected a ConfigError');
  }

  it('keeps valid entries', () => {
    const config = defineConfig({
      queues: [{ name: 'reports' }],
      jobTypes: [report],
      recurring: [entry, { ...entry, name: 'paris', timezone: 'Europe/Paris', catchUp: 3 }],
    });
    expect(config.recurring?.map((r) => r.name)).toEqual(['daily-report', 'paris']);
  });

  it('names the entry and the rule for each problem, all at once', () => {
    expect(
      problemsOf([
        { ...entry, name: 'bad name!' },
        { ...entry, name: 'twice' },
        { ...entry, name: 'twice' },
        { ...entry, name: 'five-fields', schedule: 'cron(0 9 * * *)' },
        { ...entry, name: 'both-days', schedule: 'cron(0 9 * * MON *)' },
        { ...entry, name: 'plural', schedule: 'rate(5 minute)' },
        { ...entry, name: 'no-queue', queue: 'nope' },
        { ...entry, name: 'no-type', type: 'nope' },
        { ...entry, name: 'bad-payload', payload: { day: 1, extra: true } },
        { ...entry, name: 'no-payload', payload: undefined },
        { ...entry, name: 'mars', timezone: 'Mars/Olympus' },
        { ...entry, name: 'rate-zone', schedule: 'rate(1 day)', timezone: 'Europe/Paris' },
        { ...entry, name: 'catch-up', catchUp: 0 },
        { ...entry, name: 'typo', every: '5 minutes' },
        { ...entry, name: 'huge', payload: { day: 'x'.repeat(40_000) } },
      ]),
    ).toEqual([
      'recurring "bad name!": name must be 1-64 characters of A-Z a-z 0-9 . _ : -',
      'recurring "twice": declared twice',
      'recurring "five-fields": schedule "cron(0 9 * * *)": cron takes 6 fields (minutes hours day-of-month month day-of-week year), got 5: the year is required, e.g. cron(0 9 * * ? *) for 09:00 every day',
      'recurring "both-days": schedule "cron(0 9 * * MON *)": use ? in exactly one of day-of-month and day-of-week, e.g. cron(0 9 * * ? *) or cron(0 9 ? * MON-FRI *)',
      'recurring "plural": schedule "rate(5 minute)": a value above 1 takes the plural unit: rate(5 minutes)',
      'recurring "no-queue": queue "nope" is not declared (declared: reports)',
      'recurring "no-type": type "nope" is not a registered job type (registered: report)',
      'recurring "bad-payload": payload.day: Invalid input: expected string, received number',
      'recurring "bad-payload": payload.extra: unknown field "extra"',
      'recurring "no-payload": payload is required',
      'recurring "mars": timezone "Mars/Olympus" is not an IANA time zone (e.g. Europe/Paris, America/New_York, UTC)',
      'recurring "rate-zone": timezone applies to cron expressions only: a rate counts from 1970-01-01T00:00Z whatever the zone',
      'recurring "catch-up": catchUp must be a whole number from 1 to 100',
      'recurring "typo": unknown setting every',
      'recurring "huge": payload is over 27648 bytes of JSON (27 KiB, what a recurring message\'s row always holds)',
    ]);
  });

  it('checks the payload against its type, settings included (a webhook to a host not allowed)', async () => {
    const { webhook } = await import('../lib/jobs/webhook.js');
    const problems = (() => {
      try {
        defineConfig({
          queues: [{ name: 'hooks' }],
          jobTypes: [webhook({ allowedHosts: 'hooks.example.com' })],
          recurring: [{ name: 'ping', schedule: 'rate(1 hour)', queue: 'hooks', type: 'webhook', payload: { url: 'https://evil.example.net/x', body: {} } }],
        });
        return [];
      } catch (error) {
        return [...(error as ConfigError).problems];
      }
    })();
    expect(problems).toEqual([expect.stringMatching(/^recurring "ping": payload\.url: /)]);
  });
});
