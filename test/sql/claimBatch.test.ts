/**
 * claimBatch: River's claim subtests (success, limited to the batch size, to the queue, only due
 * rows, priority order), what a lost reply does, concurrent claims, and the plan.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { DataApiUnavailableError } from '../../lib/db/errors.js';
import { claimBatch, CLAIM_BATCH } from '../../lib/sql/claimBatch.js';
import { at, idOf, insertFixtures, messages, T0 } from '../support/statements.js';
import { lostReplyDb } from '../support/lostReply.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

const LEASE_UNTIL = at(30_000);
const claim = (queue: string, limit: number, leaseToken: string, now = T0, db = stack.db) =>
  claimBatch(db, { queue, limit, leaseToken, now, leaseUntil: LEASE_UNTIL });
const leased = async (queue: string, leaseToken: string) =>
  (await messages(stack, { queue })).filter((row) => row.lease_token === leaseToken && row.status === 'running').map((row) => row.id);

describe('claimBatch', () => {
  beforeEach(async () => {
    await stack.sql.query('DELETE FROM queue_messages');
    await insertFixtures(stack, [
      { id: idOf(1), queue: 'q', availableAt: at(-1_000) },
      { id: idOf(2), queue: 'q', availableAt: at(-3_000) },
      { id: idOf(3), queue: 'q', availableAt: at(-2_000), priority: 5 },
      { id: idOf(4), queue: 'q', availableAt: at(1) }, // not due
      { id: idOf(5), queue: 'q', status: 'retrying', attempts: 1, availableAt: at(-500) },
      { id: idOf(6), queue: 'q', status: 'running', attempts: 2, leaseToken: 'crashed', availableAt: at(0) }, // lease ended
      { id: idOf(7), queue: 'q', status: 'running', attempts: 1, leaseToken: 'live', availableAt: at(10_000) },
      { id: idOf(8), queue: 'q', status: 'done', availableAt: at(-9_000) },
      { id: idOf(9), queue: 'q', status: 'dead', availableAt: at(-9_000) },
      { id: idOf(10), queue: 'other', availableAt: at(-9_000) },
    ]);
  });

  it('leases due messages of its queue, priority first, then longest due, counting an attempt each', async () => {
    expect(await claim('q', 100, 'a')).toBe(5);
    const rows = await messages(stack, { queue: 'q' });
    const byId = Object.fromEntries(rows.map((row) => [row.id, row]));
    expect(
      [idOf(3), idOf(2), idOf(1), idOf(5), idOf(6)].map((id) => [byId[id]!.status, byId[id]!.attempts, byId[id]!.lease_token, byId[id]!.available_at]),
    ).toEqual([
      ['running', 1, 'a', LEASE_UNTIL],
      ['running', 1, 'a', LEASE_UNTIL],
      ['running', 1, 'a', LEASE_UNTIL],
      ['running', 2, 'a', LEASE_UNTIL],
      ['running', 3, 'a', LEASE_UNTIL],
    ]);
    // Not due, held under a live lease, finished, or another queue's: untouched.
    expect([4, 7, 8, 9].map((n) => byId[idOf(n)]!.lease_token ?? null)).toEqual([null, 'live', null, null]);
    expect(await leased('other', 'a')).toEqual([]);
  });

  it('takes at most the limit, in claim order', async () => {
    expect(await claim('q', 2, 'a')).toBe(2);
    expect(await leased('q', 'a')).toEqual([idOf(2), idOf(3)]);
    expect(await claim('q', 2, 'b')).toBe(2);
    expect(await leased('q', 'b')).toEqual([idOf(1), idOf(5)]);
    expect(await claim('q', 2, 'c')).toBe(1);
    expect(await claim('q', 2, 'd')).toBe(0);
    // Due later: the message not yet due, and the live lease once it ends.
    expect(await claim('q', 10, 'e', at(10_000))).toBe(2);
    expect(await leased('q', 'e')).toEqual([idOf(4), idOf(7)]);
  });

  it('is not re-sent after a lost reply: the caller sees the failure, and the rows it leased wait out their lease', async () => {
    const lost = lostReplyDb(stack, { when: (sql) => sql === CLAIM_BATCH });
    const error = await claim('q', 100, 'lost', T0, lost.db).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataApiUnavailableError);
    expect((error as DataApiUnavailableError).requestMayHaveRun).toBe(true);
    expect([lost.lost(), lost.sent()]).toEqual([1, 1]);
    expect(await leased('q', 'lost')).toHaveLength(5);
    expect(await claim('q', 100, 'next')).toBe(0);
    expect(await claim('q', 100, 'after', LEASE_UNTIL)).toBe(7);
  });

  it('lets concurrent claims take disjoint messages, none twice', async () => {
    await insertFixtures(
      stack,
      Array.from({ length: 200 }, (_, n) => ({ id: idOf(1_000 + n), queue: 'many', availableAt: at(-n), priority: n % 3 })),
    );
    const dbs = Array.from({ length: 4 }, () => stack.newDb());
    const taken = await Promise.all(dbs.map((db, n) => claim('many', 60, `c${n}`, T0, db)));
    expect(taken.reduce((a, b) => a + b)).toBe(200);
    const rows = await messages(stack, { queue: 'many' });
    expect(rows.every((row) => row.status === 'running' && row.attempts === 1)).toBe(true);
    expect(new Set(rows.map((row) => row.lease_token)).size).toBe(4);
  });
});

describe('claimBatch plan', () => {
  it('scans the claim index in its order (no filesort, no table scan), whatever the table holds', async () => {
    // A tiny table is where an optimizer would rather scan and sort.
    await stack.sql.query('DELETE FROM queue_messages');
    await insertFixtures(stack, [{ id: idOf(1), queue: 'q' }]);
    await stack.sql.query('ANALYZE TABLE queue_messages');
    // Through the Data API with bound parameters, as the drain sends it.
    const now = new Date();
    const plan = await stack.db.query(`EXPLAIN ${CLAIM_BATCH}`, { queue: 'q', now, limit: 100, leaseToken: 't', leaseUntil: now });
    const derived = plan.find((row) => row.table === 'queue_messages')!;
    expect(derived).toMatchObject({ key: 'ix_queue_messages_claim' });
    expect(derived.type).not.toBe('ALL');
    expect(String(derived.Extra)).not.toMatch(/filesort/);
    expect(plan.find((row) => row.table === 'm')).toMatchObject({ key: 'PRIMARY', type: 'eq_ref' });
  });
});
