import { expect, it } from 'vitest';
import type { App } from '../../lib/app.js';
import { ManualClock } from '../../lib/clock.js';
import type { Db } from '../../lib/db/types.js';
import { drain, type DrainSummary } from '../../lib/drain/drain.js';
import { PermanentError } from '../../lib/errors.js';
import { useStack } from '../support/stack.js';
import { appOn, jobType, plenty, readRows, seed } from './helpers.js';

/*
 * Several drain runs at once over thousands of messages, each message with a script of what its
 * handler does on each attempt (~10% failures), and one run that crashes after it claimed and
 * dispatched a batch. At the end every message must be done or dead as its script dictates, none
 * lost or stuck, and no (message, attempt) dispatched twice: the only messages run twice are those
 * whose lease expired with the crashed run.
 */

const stack = useStack();

const MESSAGES = 5_000;
const DRAINERS = 4;
const MAX_ATTEMPTS = 3;
const LEASE_SECONDS = 30;

type Step = 'ok' | 'fail' | 'permanent';

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function scriptFor(random: () => number): Step[] {
  return Array.from({ length: MAX_ATTEMPTS }, () => {
    const r = random();
    return r < 0.08 ? 'fail' : r < 0.1 ? 'permanent' : 'ok';
  });
}

/** What must become of a message: its final status and the attempt it ends on. */
function expectedFate(script: readonly Step[], crashedAttempt: number | undefined): { status: 'done' | 'dead'; attempts: number } {
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    if (attempt === crashedAttempt) continue;
    const step = script[attempt - 1]!;
    if (step === 'ok') return { status: 'done', attempts: attempt };
    if (step === 'permanent' || attempt === MAX_ATTEMPTS) return { status: 'dead', attempts: attempt };
  }
  // Its last attempt was the crashed one: dead-lettered at the next claim, without dispatch.
  return { status: 'dead', attempts: MAX_ATTEMPTS + 1 };
}

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

it(`${DRAINERS} drain runs at once over ${MESSAGES} messages with failures and a crashed run: each message ends as scripted`, async () => {
  const clock = new ManualClock('2026-06-01T00:00:00.000Z');
  const dispatches = new Map<string, { attempt: number; drainer: string }[]>();
  let crashedDispatched = 0;
  let crashedBatchRan!: () => void;
  const crashedBatch = new Promise<void>((resolve) => (crashedBatchRan = resolve));
  const scripts = new Map<string, Step[]>();

  const appFor = (drainer: string, db?: Db): App => {
    const app = appOn(stack, {
      queues: [{ name: 'storm', batchSize: 100, drainConcurrency: 50, leaseSeconds: LEASE_SECONDS, backoff: { baseMs: 1_000, maxMs: 1_000 } }],
      jobTypes: [
        jobType(
          'scripted',
          async (payload, context) => {
            const seen = dispatches.get(context.id) ?? [];
            seen.push({ attempt: context.attempt, drainer });
            dispatches.set(context.id, seen);
            if (drainer === 'crashed' && ++crashedDispatched === 100) crashedBatchRan();
            const step = (payload as { script: Step[] }).script[context.attempt - 1];
            if (step === 'fail') throw new Error(`scripted failure on attempt ${context.attempt}`);
            if (step === 'permanent') throw new PermanentError('scripted permanent failure');
          },
          { timeoutMs: 2_000 },
        ),
      ],
      clock,
    });
    return db === undefined ? app : { ...app, db };
  };

  const random = mulberry32(20260601);
  const seeder = appFor('seeder');
  const payloads = Array.from({ length: MESSAGES }, () => ({ script: scriptFor(random) }));
  const ids = await seed(
    seeder,
    payloads.map((payload) => ({ queue: 'storm', type: 'scripted', payload, maxAttempts: MAX_ATTEMPTS })),
  );
  ids.forEach((id, i) => scripts.set(id, payloads[i]!.script));

  // The crashed run: pause list, the queues' overview, claim, read, then silence (its writes and
  // later claims never reach the database).
  const crashedRun = drain(appFor('crashed', crashingAfter(stack.newDb(), 4)), { remainingTimeMs: plenty });
  void crashedRun;
  await crashedBatch;
  const crashedIds = new Set([...dispatches.keys()]);
  expect(crashedIds.size).toBe(100);

  const summaries: DrainSummary[] = [];
  for (let round = 0; round < 8; round++) {
    const live = await liveCount();
    if (live === 0) break;
    const runs = await Promise.all(Array.from({ length: DRAINERS }, (_, k) => drain(appFor(`drainer-${k}`), { remainingTimeMs: plenty })));
    summaries.push(...runs);
    // Past every backoff and the crashed lease, so the next round finds them due.
    clock.advance(LEASE_SECONDS * 1_000 + 1);
  }
  expect(await liveCount()).toBe(0);
  // In the first round all four shared the backlog (SKIP LOCKED: none waited for another's claim).
  expect(summaries.slice(0, DRAINERS).every((summary) => summary.claimed > 0)).toBe(true);

  // Every message is done or dead as its script dictates, and nothing is left leased.
  const rows = await readRows(stack, 'storm');
  expect(rows.size).toBe(MESSAGES);
  const tally = { done: 0, dead: 0, deadWithoutDispatch: 0 };
  for (const [id, row] of rows) {
    const fate = expectedFate(scripts.get(id)!, crashedIds.has(id) ? 1 : undefined);
    expect({ id, status: row.status, attempts: row.attempts }).toEqual({ id, status: fate.status, attempts: fate.attempts });
    tally[fate.status]++;
    if (fate.attempts > MAX_ATTEMPTS) tally.deadWithoutDispatch++;
  }

  // No attempt of any message ran twice; messages ran again only after the crashed lease expired.
  let duplicateAttempts = 0;
  let rerunAfterExpiry = 0;
  let handlerCalls = 0;
  for (const [id, seen] of dispatches) {
    handlerCalls += seen.length;
    const attempts = seen.map((d) => d.attempt);
    if (new Set(attempts).size !== attempts.length) duplicateAttempts++;
    if (crashedIds.has(id) && seen.some((d) => d.drainer !== 'crashed')) rerunAfterExpiry++;
    else expect(seen.every((d) => d.drainer !== 'crashed')).toBe(true);
  }
  expect(duplicateAttempts).toBe(0);
  expect(rerunAfterExpiry).toBe(100);

  const total = (key: 'claimed' | 'done' | 'retried' | 'dead' | 'lostLeases' | 'released' | 'unsettled') => summaries.reduce((sum, s) => sum + s[key], 0);
  expect(total('done')).toBe(tally.done);
  expect(total('dead')).toBe(tally.dead);
  expect(total('lostLeases')).toBe(0);
  expect(total('unsettled')).toBe(0);

  console.log(
    `${MESSAGES} messages, ${DRAINERS} drain runs at once over ${summaries.length / DRAINERS} rounds + 1 crashed run: ` +
      `done ${tally.done}, dead ${tally.dead} (${tally.deadWithoutDispatch} without dispatch after the crash), ` +
      `retried ${total('retried')}, handler calls ${handlerCalls}, (message, attempt) dispatched twice ${duplicateAttempts}, ` +
      `messages run again after their lease expired ${rerunAfterExpiry}, claims ${total('claimed')}, ` +
      `Data API calls ${summaries.reduce((sum, s) => sum + s.dataApiCalls, 0)}`,
  );
});

async function liveCount(): Promise<number> {
  const [rows] = await stack.sql.query("SELECT COUNT(*) AS n FROM queue_messages WHERE queue = 'storm' AND finished_at IS NULL");
  return Number((rows as { n: number }[])[0]!.n);
}
