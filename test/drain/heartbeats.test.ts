/**
 * Heartbeats and cancels of running messages, through whole drain runs on the real stack, in real
 * time with a short lease (6 s: the shortest heartbeats keep with a 0.5 s margin is 5.75 s).
 */
import { describe, expect, it } from 'vitest';
import { createApp, type App } from '../../lib/app.js';
import { systemClock } from '../../lib/clock.js';
import { defineConfig } from '../../lib/config.js';
import type { Db } from '../../lib/db/types.js';
import { claimMessages } from '../../lib/drain/claim.js';
import { drain, type DrainSummary } from '../../lib/drain/drain.js';
import { CancelRequestedError, LeaseLostError } from '../../lib/errors.js';
import type { JobContext, JobType } from '../../lib/jobs/types.js';
import { cancelMessage } from '../../lib/messages.js';
import { useStack } from '../support/stack.js';
import { waitFor } from '../support/waitFor.js';
import { jobType, readRows, seed } from './helpers.js';

const stack = useStack();

const LEASE_SECONDS = 6;
const LEASE_MS = LEASE_SECONDS * 1_000;
const MARGIN_MS = 500;

function appFor(queue: string, jobTypes: JobType[], db: Db = stack.newDb()): App {
  return createApp({
    db,
    env: {},
    config: defineConfig({ queues: [{ name: queue, leaseSeconds: LEASE_SECONDS }], jobTypes, leaseMarginMs: MARGIN_MS }),
    clock: systemClock,
  });
}

function run(app: App, queue: string, tuning: { cancelPollMs?: number } = {}): Promise<DrainSummary> {
  return drain(app, { queue, remainingTimeMs: () => 600_000, tuning: { safetyMarginMs: MARGIN_MS, ...tuning } });
}

/** Resolves when the signal aborts, with its reason. */
const aborted = (signal: AbortSignal) => new Promise<unknown>((resolve) => signal.addEventListener('abort', () => resolve(signal.reason), { once: true }));

/** A Db that can be cut off from the database, as a drain that was killed or partitioned away. */
function cuttable(inner: Db): { db: Db; cut(): void } {
  let cut = false;
  const refuse = () => Promise.reject(new Error('cut off'));
  const db: Db = {
    query: (sql, params, options) => (cut ? refuse() : inner.query(sql, params, options)),
    execute: (sql, params, options) => (cut ? refuse() : inner.execute(sql, params, options)),
    batch: (sql, sets, options) => (cut ? refuse() : inner.batch(sql, sets, options)),
    transaction: (work) => (cut ? refuse() : inner.transaction(work)),
    withTransactionId: (id) => inner.withTransactionId(id),
    get transactionId() {
      return inner.transactionId;
    },
    get stats() {
      return inner.stats;
    },
  };
  return { db, cut: () => (cut = true) };
}

describe('heartbeats', () => {
  it('keeps the lease of a handler that runs 3× the lease: it runs once, no other claim gets it, and it is done', async () => {
    let runs = 0;
    const slow = jobType(
      'slow',
      async () => {
        runs++;
        await new Promise((resolve) => setTimeout(resolve, 3 * LEASE_MS));
      },
      { timeoutMs: 60_000 },
    );
    const app = appFor('beats', [slow]);
    const [id] = await seed(app, [{ queue: 'beats', type: 'slow' }]);
    const running = run(app, 'beats');
    // Once the first drain runs it, another claims all along: it must never get the message.
    await waitFor(async () => runs === 1, 10_000, 'the handler to start');
    const other = stack.newDb();
    let stolen = 0;
    let finished = false;
    void running.finally(() => (finished = true));
    while (!finished) {
      stolen += (await claimMessages(other, { queue: 'beats', limit: 10, now: new Date(), leaseMs: LEASE_MS })).claimed;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const summary = await running;
    expect(stolen).toBe(0);
    expect(runs).toBe(1);
    expect(summary).toMatchObject({ claimed: 1, done: 1, lostLeases: 0, errors: [] });
    expect((await readRows(stack, 'beats')).get(id!)).toMatchObject({ status: 'done', attempts: 1 });
  });

  it('keeps the lease through Data API faults (calls refused, slow): the handler still runs once', async () => {
    let runs = 0;
    const slow = jobType(
      'flaky-db',
      async () => {
        runs++;
        await new Promise((resolve) => setTimeout(resolve, 2 * LEASE_MS));
      },
      { timeoutMs: 60_000 },
    );
    const app = appFor('faults', [slow]);
    const [id] = await seed(app, [{ queue: 'faults', type: 'flaky-db' }]);
    const running = run(app, 'faults');
    await waitFor(async () => runs === 1, 10_000, 'the handler to start');
    stack.server.faults.inject({ kind: 'unavailable', probability: 0.3 });
    stack.server.faults.inject({ kind: 'delay', probability: 0.2, delayMs: 300 });
    let summary: DrainSummary;
    try {
      summary = await running;
    } finally {
      stack.server.faults.clear();
    }
    expect(runs).toBe(1);
    expect(summary).toMatchObject({ done: 1, lostLeases: 0 });
    expect((await readRows(stack, 'faults')).get(id!)).toMatchObject({ status: 'done', attempts: 1 });
  });

  it('a drain that stops beating (cut off mid-run) loses the message after the lease, not after the handler: another drain runs it', async () => {
    const reasons: unknown[] = [];
    let started = false;
    const job = jobType(
      'long',
      async (_payload, context: JobContext) => {
        if (context.attempt > 1) return;
        started = true;
        reasons.push(await aborted(context.signal));
      },
      { timeoutMs: 120_000 },
    );
    const killed = cuttable(stack.newDb());
    const first = appFor('killed', [job], killed.db);
    const [id] = await seed(first, [{ queue: 'killed', type: 'long' }]);
    const firstRun = run(first, 'killed');
    await waitFor(async () => started, 10_000, 'the first attempt to start');
    killed.cut();

    // Another drain: runs it once the lease has run out, long before the first handler's timeout (120 s).
    const second = appFor('killed', [job]);
    let summary: DrainSummary | undefined;
    await waitFor(
      async () => {
        summary = await run(second, 'killed');
        return summary.done === 1;
      },
      4 * LEASE_MS,
      'another drain to run the message',
    );
    expect((await readRows(stack, 'killed')).get(id!)).toMatchObject({ status: 'done', attempts: 2 });
    // The first drain stopped its handler, its lease gone, and wrote nothing.
    await firstRun;
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toBeInstanceOf(LeaseLostError);
    expect((await readRows(stack, 'killed')).get(id!)).toMatchObject({ status: 'done', attempts: 2 });
  });

  it('context.extendLease extends the lease at once; once the lease is taken over it rejects, aborts the signal, and the outcome is not written', async () => {
    const seen: { until?: Date; error?: unknown; reason?: unknown } = {};
    let taken = false;
    const job = jobType(
      'extends',
      async (_payload, context: JobContext) => {
        await context.extendLease(120);
        const [[row]] = (await stack.sql.query('SELECT available_at FROM queue_messages WHERE id = ?', [context.id])) as any;
        seen.until = row.available_at;
        await stack.sql.query(`UPDATE queue_messages SET lease_token = 'taken-over' WHERE id = ?`, [context.id]);
        taken = true;
        seen.error = await context.extendLease(120).catch((error: unknown) => error);
        seen.reason = context.signal.reason;
      },
      { timeoutMs: 60_000 },
    );
    const app = appFor('extend', [job]);
    const before = Date.now();
    const [id] = await seed(app, [{ queue: 'extend', type: 'extends' }]);
    const summary = await run(app, 'extend');
    expect(taken).toBe(true);
    expect(seen.until!.getTime()).toBeGreaterThanOrEqual(before + 120_000);
    expect(seen.error).toBeInstanceOf(LeaseLostError);
    expect(seen.reason).toBeInstanceOf(LeaseLostError);
    expect(summary).toMatchObject({ done: 0, retried: 0, dead: 0, cancelled: 0 });
    expect((await readRows(stack, 'extend')).get(id!)).toMatchObject({ status: 'running', lease_token: 'taken-over' });
  });
});

describe('cancelling a running message', () => {
  it("aborts the handler's signal with a CancelRequestedError, and the message ends cancelled", async () => {
    let reason: unknown;
    let started = false;
    const job = jobType(
      'waits',
      async (_payload, context: JobContext) => {
        started = true;
        reason = await aborted(context.signal);
        throw new Error('stopped');
      },
      { timeoutMs: 60_000 },
    );
    const app = appFor('cancel', [job]);
    const [id] = await seed(app, [{ queue: 'cancel', type: 'waits' }]);
    const running = run(app, 'cancel');
    await waitFor(async () => started, 10_000, 'the handler to start');
    expect(await cancelMessage(app, id!)).toMatchObject({ id, status: 'running', cancelRequested: true });
    const summary = await running;
    expect(reason).toBeInstanceOf(CancelRequestedError);
    expect(summary).toMatchObject({ cancelled: 1, done: 0, retried: 0, errors: [] });
    const row = (await readRows(stack, 'cancel')).get(id!)!;
    expect(row.status).toBe('cancelled');
    expect(row.finished_at).not.toBeNull();
  });

  it('leaves the real outcome when the handler finishes before its drain sees the cancel', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    let started = false;
    let signal: AbortSignal | undefined;
    const job = jobType(
      'finishes',
      async (_payload, context: JobContext) => {
        started = true;
        signal = context.signal;
        await gate;
      },
      { timeoutMs: 60_000 },
    );
    const app = appFor('race', [job]);
    const [id] = await seed(app, [{ queue: 'race', type: 'finishes' }]);
    // The drain reads cancel requests only after a minute here: the handler ends first.
    const running = run(app, 'race', { cancelPollMs: 60_000 });
    await waitFor(async () => started, 10_000, 'the handler to start');
    expect(await cancelMessage(app, id!)).toMatchObject({ status: 'running', cancelRequested: true });
    release();
    const summary = await running;
    expect(signal!.aborted).toBe(false);
    expect(summary).toMatchObject({ done: 1, cancelled: 0 });
    expect((await readRows(stack, 'race')).get(id!)).toMatchObject({ status: 'done' });
  });
});
