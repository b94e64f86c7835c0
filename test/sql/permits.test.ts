/** Queue-wide limits as permit rows: what one take grants, when permits come back, and races. */
import { describe, expect, it } from 'vitest';
import { DataApiUnavailableError } from '../../lib/db/errors.js';
import {
  RATE_WINDOW_SLACK_MS,
  RELEASE_RUN_PERMITS,
  RETURN_UNUSED,
  TAKE_BOTH,
  TAKE_RATE,
  TAKE_RUN,
  ensurePermits,
  extendRatePermits,
  permitsInUse,
  ratePermits,
  releaseRunPermits,
  returnUnusedPermits,
  takePermits,
  type PermitLimits,
} from '../../lib/sql/permits.js';
import { lostReplyDb } from '../support/lostReply.js';
import { explain, expectAccess, onceAndResent, statementsOf, tableRows } from '../support/statements.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

const T0 = new Date('2026-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const LEASE = at(60_000);

async function limited(queue: string, limits: PermitLimits) {
  await ensurePermits(stack.db, { queue, limits, now: T0 });
  return (want: number, leaseToken: string, now = T0, leaseUntil = LEASE) => takePermits(stack.db, { queue, limits, want, leaseToken, now, leaseUntil });
}

const inUse = async (queue: string, now: Date) => (await permitsInUse(stack.db, { queues: [queue], now })).get(queue);

describe('ratePermits', () => {
  it('is one permit per message a second, and a longer window for a fractional rate', () => {
    expect(ratePermits(40)).toEqual({ slots: 40, windowMs: 1_000 + RATE_WINDOW_SLACK_MS });
    expect(ratePermits(0.5)).toEqual({ slots: 1, windowMs: 2_000 + RATE_WINDOW_SLACK_MS });
    expect(ratePermits(2.5)).toEqual({ slots: 3, windowMs: 1_200 + RATE_WINDOW_SLACK_MS });
  });
});

describe('permits', () => {
  it('grants at most the rate per window, and the same permits again once the window has passed', async () => {
    const take = await limited('rate', { rate: ratePermits(10) });
    expect(await take(4, 'a')).toBe(4);
    expect(await take(100, 'b')).toBe(6);
    expect(await take(1, 'c', at(999 + RATE_WINDOW_SLACK_MS))).toBe(0);
    expect(await take(100, 'd', at(1_000 + RATE_WINDOW_SLACK_MS))).toBe(10);
  });

  it('holds run permits until they are released or the lease ends', async () => {
    const take = await limited('run', { run: { slots: 3 } });
    expect(await take(5, 'a', T0, at(10_000))).toBe(3);
    expect(await take(1, 'b', at(1_000))).toBe(0);
    expect(await releaseRunPermits(stack.db, { queue: 'run', leaseToken: 'a', keep: 1, now: at(2_000) })).toBe(2);
    expect(await inUse('run', at(2_000))).toEqual({ rate: 0, run: 1 });
    expect(await take(5, 'c', at(2_000), at(20_000))).toBe(2);
    // The last of claim a's permits: a crashed drain never released it, its lease frees it.
    expect(await take(5, 'd', at(9_999))).toBe(0);
    expect(await take(5, 'd', at(10_000), at(30_000))).toBe(1);
  });

  it('with both limits, grants the smaller of the two and takes as many of each', async () => {
    const take = await limited('both', { rate: ratePermits(5), run: { slots: 2 } });
    expect(await take(10, 'a')).toBe(2);
    expect(await inUse('both', T0)).toEqual({ rate: 2, run: 2 });
    await releaseRunPermits(stack.db, { queue: 'both', leaseToken: 'a', keep: 0, now: at(10) });
    expect(await take(10, 'b', at(10))).toBe(2);
    await releaseRunPermits(stack.db, { queue: 'both', leaseToken: 'b', keep: 0, now: at(20) });
    // Four rate permits used in this window: one left, though both run permits are free.
    expect(await take(10, 'c', at(20))).toBe(1);
  });

  it('gives back what a claim could not use', async () => {
    const take = await limited('unused', { rate: ratePermits(10), run: { slots: 10 } });
    expect(await take(8, 'a')).toBe(8);
    await returnUnusedPermits(stack.db, { queue: 'unused', leaseToken: 'a', keep: 3, now: at(1) });
    expect(await inUse('unused', at(1))).toEqual({ rate: 3, run: 3 });
    expect(await take(100, 'b', at(1))).toBe(7);
  });

  it('never grants more than the limit to drains taking at once, and each permit to one of them', async () => {
    const limits = { rate: ratePermits(50), run: { slots: 30 } };
    await ensurePermits(stack.db, { queue: 'race', limits, now: T0 });
    const takers = Array.from({ length: 12 }, () => stack.newDb());
    const grants = await Promise.all(
      takers.map((db, n) => takePermits(db, { queue: 'race', limits, want: 7, leaseToken: `t${n}`, now: T0, leaseUntil: LEASE })),
    );
    expect(grants.reduce((sum, n) => sum + n, 0)).toBe(30);
    const [rows] = (await stack.sql.query(
      "SELECT held_by, COUNT(*) AS n FROM queue_permits WHERE queue = 'race' AND kind = 'run' AND held_by IS NOT NULL GROUP BY held_by",
    )) as any[];
    const held = Object.fromEntries((rows as { held_by: string; n: number }[]).map((row) => [row.held_by, Number(row.n)]));
    grants.forEach((grant, n) => expect(held[`t${n}`] ?? 0).toBe(grant));
  });

  it('counts the permits in use of several queues in one call, 0 for a queue without any', async () => {
    const take = await limited('counted', { rate: ratePermits(5), run: { slots: 4 } });
    await take(3, 'a');
    const calls = stack.db.stats.calls;
    const taken = await permitsInUse(stack.db, { queues: ['counted', 'no-permits'], now: at(1) });
    expect(stack.db.stats.calls).toBe(calls + 1);
    expect([...taken]).toEqual([
      ['counted', { rate: 3, run: 3 }],
      ['no-permits', { rate: 0, run: 0 }],
    ]);
  });

  it('adds the permits of a raised limit and never grants those of a lowered one', async () => {
    await limited('resize', { run: { slots: 2 } });
    const take = await limited('resize', { run: { slots: 4 } });
    expect(await take(10, 'a')).toBe(4);
    const lowered = { run: { slots: 1 } };
    await releaseRunPermits(stack.db, { queue: 'resize', leaseToken: 'a', keep: 0, now: at(1) });
    expect(await takePermits(stack.db, { queue: 'resize', limits: lowered, want: 10, leaseToken: 'b', now: at(1), leaseUntil: LEASE })).toBe(1);
  });
});

/*
 * A release whose reply is lost has run; if the retry layer sends it again, the second run must
 * not free permits that the claim's other handlers still hold.
 */
describe('permits given back after a lost reply', () => {
  const loseReply = (sql: string) => lostReplyDb(stack, { when: (text) => text === sql });

  it('a release by what the claim keeps is re-sent and frees nothing more', async () => {
    const take = await limited('lost-keep', { run: { slots: 4 } });
    expect(await take(4, 'a')).toBe(4);
    const lost = loseReply(RELEASE_RUN_PERMITS);
    // One handler of four ended: the claim keeps three.
    await releaseRunPermits(lost.db, { queue: 'lost-keep', leaseToken: 'a', keep: 3, now: at(1) });
    expect([lost.lost(), lost.sent()]).toEqual([1, 2]);
    expect(await inUse('lost-keep', at(1))).toEqual({ rate: 0, run: 3 });
    await releaseRunPermits(stack.db, { queue: 'lost-keep', leaseToken: 'a', keep: 0, now: at(2) });
    expect(await inUse('lost-keep', at(2))).toEqual({ rate: 0, run: 0 });
  });

  it("releases by keep that overlap or arrive out of order leave the smallest keep held, and only the claim's own", async () => {
    const take = await limited('keep-order', { run: { slots: 6 } });
    expect(await take(4, 'a')).toBe(4);
    expect(await take(2, 'b')).toBe(2);
    const releases = [1, 3, 2].map((keep) => releaseRunPermits(stack.newDb(), { queue: 'keep-order', leaseToken: 'a', keep, now: at(1) }));
    expect((await Promise.all(releases)).reduce((sum, n) => sum + n, 0)).toBe(3);
    expect(await releaseRunPermits(stack.db, { queue: 'keep-order', leaseToken: 'a', keep: 3, now: at(2) })).toBe(0);
    expect(await inUse('keep-order', at(2))).toEqual({ rate: 0, run: 1 + 2 });
  });

  it('unused permits given back by what the claim keeps are re-sent and give back nothing more', async () => {
    const take = await limited('lost-unused', { rate: ratePermits(10), run: { slots: 10 } });
    expect(await take(8, 'a')).toBe(8);
    const lost = loseReply(RETURN_UNUSED);
    // The claim found 3 messages for its 8 permits.
    await returnUnusedPermits(lost.db, { queue: 'lost-unused', leaseToken: 'a', keep: 3, now: at(1) });
    expect([lost.lost(), lost.sent()]).toEqual([1, 2]);
    expect(await inUse('lost-unused', at(1))).toEqual({ rate: 3, run: 3 });
  });
});

describe('permits: the conformance subtests', () => {
  const permitRows = async (queue: string) => (await tableRows(stack, 'queue_permits', 'queue, kind, slot')).filter((row) => row.queue === queue);

  it('a take is not re-sent after a lost reply: the caller sees the failure, and what it took frees itself when its window or lease ends', async () => {
    const limits = { rate: ratePermits(4), run: { slots: 4 } };
    await ensurePermits(stack.db, { queue: 'lost-take', limits, now: T0 });
    const lost = lostReplyDb(stack, { when: (sql) => sql === TAKE_BOTH });
    await expect(takePermits(lost.db, { queue: 'lost-take', limits, want: 3, leaseToken: 'a', now: T0, leaseUntil: LEASE })).rejects.toBeInstanceOf(
      DataApiUnavailableError,
    );
    expect([lost.lost(), lost.sent()]).toEqual([1, 1]);
    expect(await inUse('lost-take', T0)).toEqual({ rate: 3, run: 3 });
    expect(await inUse('lost-take', LEASE)).toEqual({ rate: 0, run: 0 });
  });

  it("extends a claim's own rate permits, never earlier, counting those it still holds (found rows), alike when re-sent", async () => {
    const take = await limited('extend', { rate: ratePermits(3) });
    expect(await take(2, 'a')).toBe(2);
    const window = T0.getTime() + ratePermits(3).windowMs;
    // Earlier than they are taken until: nothing changes, but both are still the claim's.
    expect(await extendRatePermits(stack.db, { queue: 'extend', leaseToken: 'a', freeAt: at(1) })).toBe(2);
    expect((await permitRows('extend')).map((row) => (row.free_at as Date).getTime())).toEqual([window, window, T0.getTime()]);
    const { once, resent } = await onceAndResent(stack, {
      seed: async () => {},
      reset: async () => {},
      run: (db) => extendRatePermits(db, { queue: 'extend', leaseToken: 'a', freeAt: at(5_000) }),
      lost: (sql) => sql.includes('SET free_at = GREATEST'),
      state: () => permitRows('extend'),
    });
    expect([resent.lost, resent.sent]).toEqual([1, 2]);
    expect([once.result, resent.result]).toEqual([2, 2]);
    expect(resent.state).toEqual(once.state);
    expect(await extendRatePermits(stack.db, { queue: 'extend', leaseToken: 'b', freeAt: at(5_000) })).toBe(0);
  });

  it('adds missing permit rows alike when re-sent after a lost reply', async () => {
    const limits = { rate: ratePermits(3), run: { slots: 2 } };
    const { once, resent } = await onceAndResent(stack, {
      seed: async () => {},
      reset: () => stack.sql.query("DELETE FROM queue_permits WHERE queue = 'ensure'"),
      run: (db) => ensurePermits(db, { queue: 'ensure', limits, now: T0 }),
      lost: (sql) => sql.includes('INSERT INTO queue_permits'),
      state: () => permitRows('ensure'),
    });
    expect([resent.lost, resent.sent]).toEqual([1, 2]);
    expect(resent.state).toEqual(once.state);
    expect(once.state).toHaveLength(5);
  });

  it('takes free permits through the free index and gives them back through the holder index, each by primary key, scanning no other queue', async () => {
    const limits = { rate: ratePermits(50), run: { slots: 50 } };
    for (const queue of ['p0', 'p1', 'p2', 'plan']) await ensurePermits(stack.db, { queue, limits, now: T0 });
    await stack.sql.query('ANALYZE TABLE queue_permits');
    const calls = await statementsOf(stack.db, async (db) => {
      for (const only of [{ rate: limits.rate }, { run: limits.run }, limits]) {
        await takePermits(db, { queue: 'plan', limits: only, want: 5, leaseToken: 'x', now: T0, leaseUntil: LEASE });
      }
      await returnUnusedPermits(db, { queue: 'plan', leaseToken: 'x', keep: 2, now: at(1) });
      await releaseRunPermits(db, { queue: 'plan', leaseToken: 'x', keep: 1, now: at(2) });
      await extendRatePermits(db, { queue: 'plan', leaseToken: 'x', freeAt: at(3_000) });
      await permitsInUse(db, { queues: ['plan', 'p0'], now: at(3) });
    });
    const planOf = async (sql: string) =>
      explain(
        stack.db,
        calls.find((call) => call.sql === sql)!,
      );
    expect(calls.map((call) => call.sql).slice(0, 3)).toEqual([TAKE_RATE, TAKE_RUN, TAKE_BOTH]);
    expectAccess(await planOf(TAKE_RATE), { queue_permits: 'ix_queue_permits_free', p: 'PRIMARY' });
    expectAccess(await planOf(TAKE_RUN), { queue_permits: 'ix_queue_permits_free', p: 'PRIMARY' });
    expectAccess(await planOf(TAKE_BOTH), { queue_permits: ['ix_queue_permits_free', 'ix_queue_permits_free'], pr: 'PRIMARY', pc: 'PRIMARY' });
    expectAccess(await planOf(RETURN_UNUSED), { queue_permits: 'ix_queue_permits_holder', p: 'PRIMARY' });
    expectAccess(await planOf(RELEASE_RUN_PERMITS), { queue_permits: 'ix_queue_permits_holder', p: 'PRIMARY' });
    expectAccess(await explain(stack.db, calls[5]!), { queue_permits: 'ix_queue_permits_holder' });
    expectAccess(await explain(stack.db, calls[6]!), { queue_permits: 'ix_queue_permits_free' });
  });
});
