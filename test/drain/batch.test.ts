/** Batch types through the drain (lane.ts, batchGathering.ts, batchDispatch.ts) on the real database. */
import { expect, it } from 'vitest';
import { startFakeSmsProvider } from '../../dev/fakeSmsProvider.js';
import * as z from 'zod';
import type { App } from '../../lib/app.js';
import { ManualClock } from '../../lib/clock.js';
import type { Db } from '../../lib/db/types.js';
import { drain } from '../../lib/drain/drain.js';
import { sms } from '../../lib/jobs/sms.js';
import { defineJobType, type BatchItemFailure, type BatchJobType, type BatchMessage } from '../../lib/jobs/types.js';
import { useStack } from '../support/stack.js';
import { appOn, jobType, plenty, readRows, seed } from './helpers.js';

const stack = useStack();

const payload = z.object({ n: z.number().int() });
type Handler = (messages: readonly BatchMessage<{ n: number }>[]) => Promise<BatchItemFailure[] | void>;

function bulkType(handle: Handler, batch: { maxSize: number; maxWaitMs?: number } = { maxSize: 100 }): BatchJobType {
  return defineJobType({ type: 'bulk', payload, batch, timeoutMs: 2_000, handleBatch: (messages) => handle(messages) });
}

function appWith(queue: string, types: Parameters<typeof appOn>[1]['jobTypes'], clock: ManualClock, db?: Db): App {
  const app = appOn(stack, {
    queues: [{ name: queue, batchSize: 100, drainConcurrency: 4, leaseSeconds: 30, backoff: { baseMs: 1_000, maxMs: 1_000 } }],
    jobTypes: types,
    clock,
  });
  return db === undefined ? app : { ...app, db };
}

it('hands a batch type its messages in batches of at most maxSize, settles each outcome, and runs single types beside it', async () => {
  const clock = new ManualClock('2026-06-01T00:00:00.000Z');
  const sizes: number[] = [];
  const singles: string[] = [];
  const app = appWith(
    'mixed',
    [
      bulkType(
        async (messages) => {
          sizes.push(messages.length);
          return messages.flatMap((m): BatchItemFailure[] => {
            if (m.payload.n % 10 === 1) return [{ id: m.id, outcome: 'dead', error: 'refused' }];
            if (m.payload.n % 10 === 2) return [{ id: m.id, outcome: 'retry', error: 'throttled', retryAfterMs: 60_000 }];
            return [];
          });
        },
        { maxSize: 40 },
      ),
      jobType('single', async (_payload, context) => void singles.push(context.id)),
    ],
    clock,
  );
  const bulkIds = await seed(app, [
    ...Array.from({ length: 250 }, (_, n) => ({ queue: 'mixed', type: 'bulk', payload: { n } })),
    { queue: 'mixed', type: 'bulk', payload: { n: 'not a number' } },
  ]);
  const singleIds = await seed(
    app,
    Array.from({ length: 5 }, () => ({ queue: 'mixed', type: 'single' })),
  );
  const summary = await drain(app, { remainingTimeMs: plenty });

  expect(Math.max(...sizes)).toBeLessThanOrEqual(40);
  expect(sizes.reduce((a, b) => a + b, 0)).toBe(250);
  expect(singles.sort()).toEqual([...singleIds].sort());
  const rows = await readRows(stack, 'mixed');
  bulkIds.slice(0, 250).forEach((id, n) => {
    const row = rows.get(id)!;
    const expected =
      n % 10 === 1 ? { status: 'dead', last_error: 'refused' } : n % 10 === 2 ? { status: 'retrying', last_error: 'throttled' } : { status: 'done' };
    expect({ n, ...row }).toMatchObject({ n, ...expected });
    // The retry's own delay, not the type's backoff.
    if (n % 10 === 2) expect(row.available_at.getTime()).toBe(clock.now().getTime() + 60_000);
  });
  // The message whose payload fails the schema: dead alone, never passed.
  expect(rows.get(bulkIds[250]!)).toMatchObject({ status: 'dead', last_error: expect.stringContaining('schema') as unknown });
  expect(summary).toMatchObject({ done: 5 + 200, dead: 26, retried: 25, lostLeases: 0 });
});

it('retries the whole batch when its handler throws, and each message runs its next attempt in a later batch', async () => {
  const clock = new ManualClock('2026-06-01T00:00:00.000Z');
  const attempts: number[][] = [];
  const app = appWith(
    'throwing',
    [
      bulkType(async (messages) => {
        attempts.push(messages.map((m) => m.attempt));
        if (messages[0]!.attempt === 1) throw new Error('provider down');
      }),
    ],
    clock,
  );
  const ids = await seed(
    app,
    Array.from({ length: 30 }, (_, n) => ({ queue: 'throwing', type: 'bulk', payload: { n } })),
  );
  expect(await drain(app, { remainingTimeMs: plenty })).toMatchObject({ retried: 30, done: 0 });
  expect([...(await readRows(stack, 'throwing')).values()].every((row) => row.status === 'retrying' && row.last_error === 'Error: provider down')).toBe(true);
  clock.advance(1_001);
  expect(await drain(app, { remainingTimeMs: plenty })).toMatchObject({ done: 30 });
  expect(attempts).toEqual([Array(30).fill(1), Array(30).fill(2)]);
  const rows = await readRows(stack, 'throwing');
  expect(ids.every((id) => rows.get(id)!.status === 'done' && rows.get(id)!.attempts === 2)).toBe(true);
});

it('waits up to maxWaitMs to fill a batch, then hands over what it has', async () => {
  const clock = new ManualClock('2026-06-01T00:00:00.000Z');
  const sizes: number[] = [];
  const app = appWith('waiting', [bulkType(async (messages) => void sizes.push(messages.length), { maxSize: 100, maxWaitMs: 5_000 })], clock);
  await seed(
    app,
    Array.from({ length: 7 }, (_, n) => ({ queue: 'waiting', type: 'bulk', payload: { n } })),
  );
  // A dry queue stops the lane, which hands over its partial batch at once rather than wait.
  expect(await drain(app, { remainingTimeMs: plenty })).toMatchObject({ done: 7 });
  expect(sizes).toEqual([7]);
});

it('gathers a batch across claims while maxWaitMs allows: full batches go at once, the rest when the lane stops', async () => {
  const clock = new ManualClock('2026-06-01T00:00:00.000Z');
  const sizes: number[] = [];
  // A single-message type beside it: claims are sized one message per handler, and the queue's
  // batchSize keeps them at 2, so a batch of 10 can only be gathered from several claims.
  const app = appOn(stack, {
    queues: [{ name: 'gather', batchSize: 2, drainConcurrency: 1, leaseSeconds: 30 }],
    jobTypes: [
      bulkType(async (messages) => void sizes.push(messages.length), { maxSize: 10, maxWaitMs: 60_000 }),
      jobType('single', async () => {}, { timeoutMs: 1_000 }),
    ],
    clock,
  });
  await seed(
    app,
    Array.from({ length: 25 }, (_, n) => ({ queue: 'gather', type: 'bulk', payload: { n } })),
  );
  expect(await drain(app, { remainingTimeMs: plenty })).toMatchObject({ done: 25 });
  expect(sizes).toEqual([10, 10, 5]);

  // When the budget lets no more claims out (the single type's timeout is the default, so only
  // two handlers fit the lease), a partial batch goes at once rather than wait out maxWaitMs.
  sizes.length = 0;
  const held = appOn(stack, {
    queues: [{ name: 'held', batchSize: 2, drainConcurrency: 1, leaseSeconds: 30 }],
    jobTypes: [bulkType(async (messages) => void sizes.push(messages.length), { maxSize: 10, maxWaitMs: 60_000 }), jobType('single', async () => {})],
    clock,
  });
  await seed(
    held,
    Array.from({ length: 4 }, (_, n) => ({ queue: 'held', type: 'bulk', payload: { n } })),
  );
  expect(await drain(held, { remainingTimeMs: plenty })).toMatchObject({ done: 4 });
  expect(sizes.every((size) => size < 10)).toBe(true);
});

/** A Db that answers its first `calls` calls and then never again: a drainer frozen mid-run. */
function crashingAfter(db: Db, calls: number): Db {
  let made = 0;
  const hang = <T>(run: () => Promise<T>): Promise<T> => (made++ < calls ? run() : new Promise<T>(() => {}));
  return {
    query: (sql, params, options) => hang(() => db.query(sql, params, options)),
    execute: (sql, params, options) => hang(() => db.execute(sql, params, options)),
    batch: (sql, sets, options) => hang(() => db.batch(sql, sets, options)),
    transaction: (work) => hang(() => db.transaction(work)),
    withTransactionId: (id) => db.withTransactionId(id),
    transactionId: undefined,
    stats: db.stats,
  };
}

it('loses nothing when its drain is killed mid-batch: the messages come back after the lease and run again', async () => {
  const clock = new ManualClock('2026-06-01T00:00:00.000Z');
  const runs = new Map<string, string[]>();
  let crashedBatchRan!: () => void;
  const crashedBatch = new Promise<void>((resolve) => (crashedBatchRan = resolve));
  const appFor = (drainer: string, db?: Db) =>
    appWith(
      'killed',
      [
        bulkType(async (messages) => {
          for (const m of messages) runs.set(m.id, [...(runs.get(m.id) ?? []), drainer]);
          if (drainer === 'crashed') crashedBatchRan();
        }),
      ],
      clock,
      db,
    );
  const ids = await seed(
    appFor('seeder'),
    Array.from({ length: 100 }, (_, n) => ({ queue: 'killed', type: 'bulk', payload: { n } })),
  );
  // Pause list, the queues' overview, claim, read, then silence: its outcomes never land.
  void drain(appFor('crashed', crashingAfter(stack.newDb(), 4)), { remainingTimeMs: plenty });
  await crashedBatch;
  expect(runs.size).toBe(100);

  // Within the lease, another drain finds nothing to take.
  expect(await drain(appFor('early'), { remainingTimeMs: plenty })).toMatchObject({ claimed: 0 });
  clock.advance(30_001);
  expect(await drain(appFor('after'), { remainingTimeMs: plenty })).toMatchObject({ claimed: 100, done: 100, lostLeases: 0 });
  const rows = await readRows(stack, 'killed');
  expect(ids.every((id) => rows.get(id)!.status === 'done' && rows.get(id)!.attempts === 2)).toBe(true);
  expect(ids.every((id) => runs.get(id)!.join() === 'crashed,after')).toBe(true);
});

it('sends 1,000 SMS through the bulk mode (maxSize 100) in at most 11 provider requests, refused numbers dead, the rest done', async () => {
  const clock = new ManualClock('2026-06-01T00:00:00.000Z');
  const refused = ['+15550001007', '+15550001500'];
  const provider = await startFakeSmsProvider({ failureRate: 0, throttleRate: 0, refusedNumbers: refused });
  try {
    const app = appOn(stack, {
      queues: [{ name: 'texts', batchSize: 100, drainConcurrency: 10, leaseSeconds: 60 }],
      jobTypes: [sms({ providerUrl: provider.url, token: undefined, bulk: { maxSize: 100 } })],
      clock,
    });
    const ids = await seed(
      app,
      Array.from({ length: 1_000 }, (_, n) => ({ queue: 'texts', type: 'sms.send', payload: { to: `+1555000${1000 + n}`, body: `code ${n}` } })),
    );
    const summary = await drain(app, { remainingTimeMs: plenty });
    expect(provider.stats().received).toBeLessThanOrEqual(11);
    expect(provider.stats()).toMatchObject({ accepted: 998, refused: 2, duplicates: 0 });
    expect(summary).toMatchObject({ done: 998, dead: 2, retried: 0, lostLeases: 0 });
    const rows = await readRows(stack, 'texts');
    expect([7, 500].map((n) => rows.get(ids[n]!)!.status)).toEqual(['dead', 'dead']);
    console.log(`1,000 SMS, bulk maxSize 100: ${provider.stats().received} provider requests, ${summary.dataApiCalls} Data API calls`);
  } finally {
    await provider.close();
  }
});
