/**
 * queueBacklog: a queue's live messages and its oldest due one's age; queueOverview: the same for
 * every queue of a run in one call, with when the next message comes due and whether retention has
 * work (what a drain run reads first and last).
 */
import { describe, expect, it } from 'vitest';
import { queueBacklog, queueOverview } from '../../lib/sql/queueBacklog.js';
import { at, explain, expectAccess, idOf, insertBackground, insertFixtures, statementsOf } from '../support/statements.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

describe('queueBacklog', () => {
  it('counts live messages and ages the oldest due one, an expired lease included', async () => {
    await insertFixtures(stack, [
      { id: idOf(1), queue: 'b', availableAt: at(-20_000) },
      { id: idOf(2), queue: 'b', status: 'retrying', availableAt: at(60_000) },
      { id: idOf(3), queue: 'b', status: 'running', leaseToken: 'l', availableAt: at(-45_500) },
      { id: idOf(4), queue: 'b', status: 'done', availableAt: at(-900_000) },
      { id: idOf(5), queue: 'other', availableAt: at(-900_000) },
    ]);
    expect(await queueBacklog(stack.db, 'b', at(0))).toEqual({ live: 3, oldestDueAgeSeconds: 45.5 });
    expect(await queueBacklog(stack.db, 'b', at(-50_000))).toEqual({ live: 3, oldestDueAgeSeconds: 0 });
    expect(await queueBacklog(stack.db, 'none', at(0))).toEqual({ live: 0, oldestDueAgeSeconds: 0 });
  });

  it('reads only the live part of the claim index, never the table', async () => {
    await insertBackground(stack);
    const [call] = await statementsOf(stack.db, (db) => queueBacklog(db, 'bg1', at(0)));
    const plan = await explain(stack.db, call!);
    expectAccess(plan, { queue_messages: 'ix_queue_messages_claim' });
    expect(String(plan[0]!.Extra)).toMatch(/Using index/);
    expect(Number(plan[0]!.key_len)).toBeGreaterThan(66); // queue (64 + 2) and finished_at
  });
});

describe('queueOverview', () => {
  it('answers every queue in one call: backlog, due now, next due, expired history', async () => {
    await insertFixtures(stack, [
      { id: idOf(11), queue: 'o-due', availableAt: at(-20_000) },
      { id: idOf(12), queue: 'o-due', status: 'retrying', availableAt: at(60_000) },
      { id: idOf(13), queue: 'o-later', status: 'retrying', availableAt: at(90_000) },
      { id: idOf(14), queue: 'o-later', status: 'running', leaseToken: 'l', availableAt: at(30_000) },
      { id: idOf(15), queue: 'o-old', status: 'done', availableAt: at(-900_000), finishedAt: at(-86_400_000) },
      { id: idOf(16), queue: 'o-old', status: 'done', availableAt: at(-900_000), finishedAt: at(-1_000) },
    ]);
    const expiredBefore = at(-3_600_000);
    const db = stack.newDb();
    const overview = await queueOverview(
      db,
      ['o-due', 'o-later', 'o-old', 'o-none'].map((queue) => ({ queue, expiredBefore })),
      at(0),
    );
    expect(db.stats.calls).toBe(1);
    expect(Object.fromEntries(overview)).toEqual({
      'o-due': { live: 2, oldestDueAgeSeconds: 20, dueNow: true, nextDueAt: at(-20_000), hasExpired: false },
      // A running message's lease end is when it comes due, should its drain never settle it.
      'o-later': { live: 2, oldestDueAgeSeconds: 0, dueNow: false, nextDueAt: at(30_000), hasExpired: false },
      'o-old': { live: 0, oldestDueAgeSeconds: 0, dueNow: false, nextDueAt: undefined, hasExpired: true },
      'o-none': { live: 0, oldestDueAgeSeconds: 0, dueNow: false, nextDueAt: undefined, hasExpired: false },
    });
    expect(await queueOverview(db, [], at(0))).toEqual(new Map());
    expect(db.stats.calls).toBe(1);
  });

  it('reads only the claim index, each queue its live range and one dive into its history', async () => {
    await insertBackground(stack, { queues: ['ov1', 'ov2'], from: 800_000 });
    const [call] = await statementsOf(stack.db, (db) =>
      queueOverview(
        db,
        ['ov1', 'ov2'].map((queue) => ({ queue, expiredBefore: at(-3_600_000) })),
        at(0),
      ),
    );
    const plan = await explain(stack.db, call!);
    const reads = plan.filter((row) => row.table === 'queue_messages');
    expect(reads.length).toBe(4);
    expect(
      reads.every((row) => row.key === 'ix_queue_messages_claim' && String(row.Extra).includes('Using index')),
      JSON.stringify(plan),
    ).toBe(true);
  });
});
