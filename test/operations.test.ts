import { beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../lib/app.js';
import { ManualClock } from '../lib/clock.js';
import { defineConfig } from '../lib/config.js';
import { claimMessages } from '../lib/drain/claim.js';
import { enqueue } from '../lib/enqueue.js';
import { NotFoundError } from '../lib/errors.js';
import { findMessageByDedupKey } from '../lib/messages.js';
import { getQueueStats, getThroughput, listDeadLetters, listQueueStats, pauseQueue, purgeDeadLetters, redrive, resumeQueue } from '../lib/operations.js';
import { listPausedQueues } from '../lib/sql/index.js';
import { ENQUEUE_LIMITS } from '../schema/messages.js';
import { markHeldDone } from '../lib/sql/markHeldDone.js';
import { ratePermits } from '../lib/sql/permits.js';
import { queueThroughputSql } from '../lib/sql/queueThroughput.js';
import { rescheduleHeld } from '../lib/sql/rescheduleHeld.js';
import { useStack } from './support/stack.js';
import { anyType, smsType, testApp } from './http/fixtures.js';

const stack = useStack();

beforeEach(async () => {
  await stack.sql.query('DELETE FROM queue_messages');
  await stack.sql.query('DELETE FROM queue_state');
});

/** Enqueues `n` messages on `queue` and dead-letters them; answers their ids in order. */
async function deadLetters(n: number, queue = 'default', payload: (i: number) => unknown = (i) => ({ i })): Promise<string[]> {
  const app = testApp(stack.db);
  const answers = await enqueue(
    app,
    queue,
    Array.from({ length: n }, (_, i) => ({ type: 'any', payload: payload(i) })),
  );
  const ids = answers.map((a) => a.id);
  await stack.sql.query(`UPDATE queue_messages SET status = 'dead', attempts = 5, finished_at = '2026-03-01 12:30:00', last_error = 'boom' WHERE id IN (?)`, [
    ids,
  ]);
  return ids;
}

async function statuses(): Promise<Record<string, string>> {
  const [rows] = (await stack.sql.query('SELECT id, status FROM queue_messages')) as any;
  return Object.fromEntries(rows.map((r: any) => [r.id, r.status]));
}

describe('getQueueStats', () => {
  it('counts by status, delayed and the age of the oldest due message, and says whether paused', async () => {
    const app = testApp(stack.db);
    await enqueue(app, 'default', [
      { type: 'any', payload: 1 },
      { type: 'any', payload: 2, delaySeconds: 3_600 },
    ]);
    await deadLetters(2);
    await enqueue(app, 'orders', [{ type: 'any', payload: 3 }]);
    app.clock.advance(90_000);
    await pauseQueue(app, 'default');

    const stats = await getQueueStats(app, 'default');
    expect(stats).toEqual({
      queue: 'default',
      counts: { waiting: 2, running: 0, retrying: 0, done: 0, dead: 2, cancelled: 0 },
      oldestDueAgeSeconds: 90,
      delayed: 1,
      paused: true,
    });
    expect((await getQueueStats(app, 'orders')).paused).toBe(false);
  });
});

describe('listQueueStats', () => {
  it("gives every declared queue's stats in declaration order, in three calls", async () => {
    const app = testApp(stack.db);
    await enqueue(app, 'orders', [{ type: 'any', payload: 1 }]);
    await pauseQueue(app, 'sms');
    const calls = stack.db.stats.calls;
    const stats = await listQueueStats(app);
    expect(stack.db.stats.calls - calls).toBe(3);
    expect(stats.map((s) => [s.queue, s.paused, s.counts.waiting])).toEqual([
      ['default', false, 0],
      ['sms', true, 0],
      ['orders', false, 1],
    ]);
  });
});

describe('stats of FIFO queues and queue-wide limits', () => {
  beforeEach(async () => {
    await stack.sql.query('DELETE FROM queue_permits');
  });

  /** A FIFO queue with both queue-wide limits, one with a rate only, and one without either. */
  function limitedApp() {
    const clock = new ManualClock('2026-03-01T12:00:00.000Z');
    const config = defineConfig({
      queues: [{ name: 'ledger', fifo: true, concurrency: 3, ratePerSecond: 10 }, { name: 'paced', ratePerSecond: 2 }, { name: 'plain' }],
      jobTypes: [anyType],
    });
    return { ...createApp({ db: stack.db, clock, config, env: {} }), clock };
  }

  it('shows groups in flight and blocked, and the permits the claims hold, until they end', async () => {
    const app = limitedApp();
    await enqueue(
      app,
      'ledger',
      ['acct-1', 'acct-1', 'acct-2', 'acct-3', 'acct-4'].map((groupKey, i) => ({ type: 'any', payload: i, groupKey })),
    );
    await enqueue(app, 'paced', [{ type: 'any', payload: 1 }]);
    expect(await getQueueStats(app, 'ledger')).toMatchObject({ groups: { live: 4, inFlight: 0, blocked: 0 }, permitsInUse: { run: 0, rate: 0 } });

    // A drain's claim, as the lane makes it: permits first (3 run, 3 of the 10 rate), then the heads.
    const now = app.clock.now();
    const claim = await claimMessages(app.db, {
      queue: 'ledger',
      limit: 3,
      now,
      leaseMs: 60_000,
      fifo: true,
      permits: { rate: ratePermits(10), run: { slots: 3 } },
    });
    expect(claim.claimed).toBe(3);
    const [first, second] = claim.messages;
    await rescheduleHeld(app.db, {
      retries: [{ id: first!.id, leaseToken: first!.leaseToken, availableAt: new Date(now.getTime() + 30_000), error: 'boom' }],
      now,
    });
    await markHeldDone(app.db, { held: [second!], now });

    const stats = await getQueueStats(app, 'ledger');
    expect(stats).toMatchObject({
      counts: { waiting: 2, running: 1, retrying: 1, done: 1 },
      groups: { live: 3, inFlight: 1, blocked: 1 },
      permitsInUse: { run: 3, rate: 3 },
    });
    // Only the kinds a queue is limited by; nothing for a queue without groups or limits.
    expect((await getQueueStats(app, 'paced')).permitsInUse).toEqual({ rate: 0 });
    const plain = await getQueueStats(app, 'plain');
    expect(plain).not.toHaveProperty('groups');
    expect(plain).not.toHaveProperty('permitsInUse');

    // Rate permits free a window after they were taken; run permits at the lease's end at the latest.
    const { windowMs } = ratePermits(10);
    app.clock.advance(windowMs - 1);
    expect((await getQueueStats(app, 'ledger')).permitsInUse).toEqual({ run: 3, rate: 3 });
    app.clock.advance(1);
    expect((await getQueueStats(app, 'ledger')).permitsInUse).toEqual({ run: 3, rate: 0 });
    app.clock.advance(60_000 - windowMs);
    expect((await getQueueStats(app, 'ledger')).permitsInUse).toEqual({ run: 0, rate: 0 });
  });

  it('lists every queue in one call more for the FIFO queues and one more for the queues with limits', async () => {
    const app = limitedApp();
    const calls = stack.db.stats.calls;
    const stats = await listQueueStats(app);
    expect(stack.db.stats.calls - calls).toBe(3 + 1 + 1);
    expect(stats.map((s) => [s.queue, s.groups, s.permitsInUse])).toEqual([
      ['ledger', { live: 0, inFlight: 0, blocked: 0 }, { run: 0, rate: 0 }],
      ['paced', undefined, { rate: 0 }],
      ['plain', undefined, undefined],
    ]);
  });
});

describe('getThroughput', () => {
  const since = new Date('2026-03-01T11:00:00.000Z');
  const until = new Date('2026-03-01T12:00:30.000Z');
  /** Seconds `s` into minute `m` of the window. */
  const minute = (m: number, s = 0) => new Date(since.getTime() + m * 60_000 + s * 1_000);

  /** A message of `queue` that reached `status` at `at` (a retry's next attempt due a minute later). */
  async function finish(queue: string, status: string, at: Date): Promise<void> {
    const [answer] = await enqueue(testApp(stack.db), queue, [{ type: 'any', payload: 1 }]);
    const live = status === 'retrying';
    await stack.sql.query('UPDATE queue_messages SET status = ?, finished_at = ?, updated_at = ?, available_at = ? WHERE id = ?', [
      status,
      live ? null : at,
      at,
      live ? new Date(at.getTime() + 60_000) : at,
      answer!.id,
    ]);
  }

  it('counts done and dead by the minute they finished, retries by the minute they failed, per queue', async () => {
    const app = testApp(stack.db);
    await finish('default', 'done', minute(0, 0));
    await finish('default', 'done', minute(0, 59));
    await finish('default', 'dead', minute(0, 30));
    await finish('default', 'done', minute(59, 10));
    await finish('default', 'retrying', minute(30, 5));
    await finish('orders', 'dead', minute(60, 1)); // the current minute, still in the window
    await finish('orders', 'done', minute(-1, 59)); // before the window
    await finish('orders', 'done', minute(60, 31)); // after it
    await finish('default', 'cancelled', minute(5));

    const series = await getThroughput(app, { since, until });
    expect(series.map((s) => s.queue)).toEqual(['default', 'sms', 'orders']);
    const [defaults, sms, orders] = series;
    expect(defaults!.done).toHaveLength(61);
    expect(defaults!.done[0]).toBe(2);
    expect(defaults!.dead[0]).toBe(1);
    expect(defaults!.done[59]).toBe(1);
    expect(defaults!.retried[30]).toBe(1);
    expect([defaults!.done, defaults!.dead, defaults!.retried].flat().reduce((a, b) => a + b)).toBe(5);
    expect([sms!.done, sms!.dead, sms!.retried].flat().every((n) => n === 0)).toBe(true);
    expect(orders!.dead[60]).toBe(1);
    expect([orders!.done, orders!.retried].flat().every((n) => n === 0)).toBe(true);
  });

  it('reads finished messages only from finishedSince, and retries always from since', async () => {
    const app = testApp(stack.db);
    await finish('default', 'done', minute(10));
    await finish('default', 'done', minute(20));
    await finish('default', 'retrying', minute(10));
    const series = await getThroughput(app, { since, until, finishedSince: new Date('2026-03-01T11:15:00.000Z') });
    expect(series[0]!.done[10]).toBe(0);
    expect(series[0]!.done[20]).toBe(1);
    expect(series[0]!.retried[10]).toBe(1);
  });

  it('reads one range of the claim index per queue, never the whole table', async () => {
    const plan = await stack.db.query(`EXPLAIN ${queueThroughputSql(':queue0, :queue1')}`, {
      queue0: 'default',
      queue1: 'sms',
      since,
      finishedSince: since,
      until,
    });
    const reads = plan.filter((row) => row.table === 'm');
    expect(reads).toHaveLength(2);
    // 74 bytes: queue and finished_at, both parts of the key bound, in each half of the UNION.
    for (const read of reads) expect(read).toMatchObject({ type: 'range', key: 'ix_queue_messages_claim', key_len: '74' });
  });
});

describe('listDeadLetters', () => {
  it('pages in enqueue order with payloads and errors; `next` continues', async () => {
    const app = testApp(stack.db);
    const ids = await deadLetters(5);
    await enqueue(app, 'default', [{ type: 'any', payload: 'alive' }]);
    await deadLetters(1, 'orders');

    const first = await listDeadLetters(app, 'default', { limit: 2 });
    expect(first.messages.map((m) => m.id)).toEqual(ids.slice(0, 2));
    expect(first.messages[0]).toMatchObject({ status: 'dead', attempts: 5, lastError: 'boom', payload: { i: 0 } });
    const second = await listDeadLetters(app, 'default', { limit: 2, after: first.next! });
    expect(second.messages.map((m) => m.id)).toEqual(ids.slice(2, 4));
    const third = await listDeadLetters(app, 'default', { limit: 2, after: second.next! });
    expect(third.messages.map((m) => m.id)).toEqual(ids.slice(4));
    expect(third.next).toBeUndefined();

    const exact = await listDeadLetters(app, 'default', { limit: 5 });
    expect(exact.messages).toHaveLength(5);
    expect(exact.next).toBeUndefined();
  });

  it('cuts a page of large payloads by bytes, so the response stays under the Data API limit', async () => {
    const app = testApp(stack.db);
    // Each just inside its row (with its separators, at most the inline cap): 167 KB at worst in
    // the response (lib/sql/responseBytes.ts), so 6 a page.
    const ids = await deadLetters(12, 'default', (i) => ({ i, text: 'x'.repeat(ENQUEUE_LIMITS.maxInlinePayloadBytes - 30) }));
    const seen: string[] = [];
    let after: string | undefined;
    let pages = 0;
    do {
      const page = await listDeadLetters(app, 'default', { limit: 50, ...(after ? { after } : {}) });
      expect(page.messages.length).toBeGreaterThan(0);
      expect(page.messages.length).toBeLessThanOrEqual(6);
      seen.push(...page.messages.map((m) => m.id));
      after = page.next;
      pages++;
    } while (after !== undefined);
    expect(seen).toEqual(ids);
    expect(pages).toBe(2);
  });
  it('cuts a page of 500 small rows by their encoded size: quote-heavy keys and long escaped errors stay under 1 MiB', async () => {
    const app = testApp(stack.db);
    const answers = await enqueue(
      app,
      'default',
      Array.from({ length: 500 }, (_, i) => ({ type: 'any', payload: '"'.repeat(20), dedupKey: `"quoted" \\key\\ ${i}` })),
    );
    const ids = answers.map((answer) => answer.id);
    // 400 bytes, each encoded in the response as 2 (a quote, a backslash) or 6 (a control character).
    const error = '"\u0001\\\u0001'.repeat(100);
    await stack.sql.query(`UPDATE queue_messages SET status = 'dead', attempts = 5, finished_at = '2026-03-01 12:30:00', last_error = ? WHERE id IN (?)`, [
      error,
      ids,
    ]);
    const seen: string[] = [];
    let after: string | undefined;
    let pages = 0;
    do {
      // The local Data API refuses a response over 1 MiB (dev/data-api/results.ts), as AWS does.
      const page = await listDeadLetters(app, 'default', { limit: 500, ...(after ? { after } : {}) });
      expect(page.messages[0]!.lastError).toBe(error);
      seen.push(...page.messages.map((m) => m.id));
      after = page.next;
      pages++;
    } while (after !== undefined);
    expect(seen).toEqual(ids);
    expect(pages).toBeGreaterThan(1);
  });
});

describe('redrive', () => {
  it('sends the given dead letters back to waiting with attempts reset', async () => {
    const app = testApp(stack.db);
    const ids = await deadLetters(3);
    app.clock.advance(60_000);
    expect(await redrive(app, 'default', { ids: [ids[0]!, ids[2]!] })).toEqual({ count: 2, more: false, notCarried: 0 });
    const [rows] = (await stack.sql.query('SELECT * FROM queue_messages ORDER BY id')) as any;
    expect(rows.map((r: any) => r.status)).toEqual(['waiting', 'dead', 'waiting']);
    expect(rows[0]).toMatchObject({ attempts: 0, finished_at: null, lease_token: null });
    expect(rows[0].available_at.toISOString()).toBe('2026-03-01T12:01:00.000Z');
  });

  it('redrives all of a queue, at most `limit` per call, and says when more remain', async () => {
    const app = testApp(stack.db);
    await deadLetters(5);
    const [other] = await deadLetters(1, 'orders');
    expect(await redrive(app, 'default', { limit: 3 })).toEqual({ count: 3, more: true, notCarried: 0 });
    expect(await redrive(app, 'default', { limit: 3 })).toEqual({ count: 2, more: false, notCarried: 0 });
    expect((await statuses())[other!]).toBe('dead');
  });

  it('ignores ids that are not dead letters of this queue', async () => {
    const app = testApp(stack.db);
    const [live] = (await enqueue(app, 'default', [{ type: 'any', payload: 1 }])).map((a) => a.id);
    const [elsewhere] = await deadLetters(1, 'orders');
    expect(await redrive(app, 'default', { ids: [live!, elsewhere!] })).toEqual({ count: 0, more: false, notCarried: 0 });
  });

  it('leaves dead the letters of types the queue does not carry, or without a handler, and counts them', async () => {
    const ids = await deadLetters(4);
    // One of a type the queue does not carry any more, one of a type no longer registered.
    await stack.sql.query("UPDATE queue_messages SET type = 'sms.send' WHERE id = ?", [ids[1]]);
    await stack.sql.query("UPDATE queue_messages SET type = 'retired.type' WHERE id = ?", [ids[2]]);
    const app = createApp({
      db: stack.db,
      clock: new ManualClock('2026-03-01T12:00:00.000Z'),
      config: defineConfig({ jobTypes: [smsType, anyType], queues: [{ name: 'default', types: ['any'] }] }),
      env: {},
    });
    // The oldest first: the others are not chosen, so a call of `limit` is not spent on them.
    expect(await redrive(app, 'default', { limit: 1 })).toEqual({ count: 1, more: true, notCarried: 0 });
    expect(await redrive(app, 'default', { limit: 1 })).toEqual({ count: 1, more: true, notCarried: 0 });
    expect(await redrive(app, 'default', { limit: 1 })).toEqual({ count: 0, more: false, notCarried: 2 });
    expect(await redrive(app, 'default', { ids: [ids[1]!, ids[2]!, ids[3]!] })).toEqual({ count: 0, more: false, notCarried: 2 });
    expect((await statuses())[ids[1]!]).toBe('dead');
    expect((await statuses())[ids[2]!]).toBe('dead');
  });
});

describe('purgeDeadLetters', () => {
  it('deletes the given dead letters only', async () => {
    const app = testApp(stack.db);
    const ids = await deadLetters(3);
    expect(await purgeDeadLetters(app, 'default', { ids: [ids[1]!] })).toEqual({ count: 1, more: false });
    expect(Object.keys(await statuses()).sort()).toEqual([ids[0], ids[2]].sort());
  });

  it('deletes all of a queue, bounded per call, leaving other queues and live messages', async () => {
    const app = testApp(stack.db);
    await deadLetters(4);
    const [other] = await deadLetters(1, 'orders');
    const [live] = (await enqueue(app, 'default', [{ type: 'any', payload: 1 }])).map((a) => a.id);
    expect(await purgeDeadLetters(app, 'default', { all: true }, { limit: 3 })).toEqual({ count: 3, more: true });
    expect(await purgeDeadLetters(app, 'default', { all: true }, { limit: 3 })).toEqual({ count: 1, more: false });
    expect(Object.keys(await statuses()).sort()).toEqual([other, live].sort());
  });
});

describe('pause and resume', () => {
  it('are idempotent and recorded in queue_state', async () => {
    const app = testApp(stack.db);
    expect(await pauseQueue(app, 'sms')).toEqual({ queue: 'sms', paused: true });
    expect(await pauseQueue(app, 'sms')).toEqual({ queue: 'sms', paused: true });
    expect(await listPausedQueues(stack.db)).toEqual(new Set(['sms']));
    expect(await resumeQueue(app, 'sms')).toEqual({ queue: 'sms', paused: false });
    expect(await resumeQueue(app, 'sms')).toEqual({ queue: 'sms', paused: false });
    expect(await listPausedQueues(stack.db)).toEqual(new Set());
  });
});

it('every operation refuses an undeclared queue', async () => {
  const app = testApp(stack.db);
  for (const operation of [
    () => getQueueStats(app, 'nope'),
    () => findMessageByDedupKey(app, 'nope', 'k'),
    () => listDeadLetters(app, 'nope'),
    () => redrive(app, 'nope'),
    () => purgeDeadLetters(app, 'nope', { all: true }),
    () => pauseQueue(app, 'nope'),
    () => resumeQueue(app, 'nope'),
  ]) {
    await expect(operation()).rejects.toBeInstanceOf(NotFoundError);
  }
});
