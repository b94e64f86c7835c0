/** deleteFinished: retention, a bounded batch of a queue's finished messages past their cutoff. */
import { beforeEach, describe, expect, it } from 'vitest';
import { deleteFinished } from '../../lib/sql/deleteFinished.js';
import { at, explain, expectAccess, idOf, insertBackground, insertFixtures, messages, onceAndResent, statementsOf } from '../support/statements.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

const isDelete = (sql: string) => sql.includes('DELETE FROM queue_messages');

/** Finished 1 to 6 minutes ago (done, cancelled, dead in turn), and live ones. */
async function seed(queue: string) {
  await stack.sql.query('DELETE FROM queue_messages WHERE queue IN (?, ?)', [queue, `${queue}-other`]);
  const statuses = ['done', 'cancelled', 'dead', 'done', 'cancelled', 'dead'] as const;
  return insertFixtures(stack, [
    ...statuses.map((status, n) => ({ id: idOf(n + 1), queue, status, finishedAt: at(-(6 - n) * 60_000) })),
    { id: idOf(7), queue, status: 'waiting' as const, availableAt: at(-3_600_000) },
    { id: idOf(8), queue, status: 'running' as const, leaseToken: 'l' },
    { id: idOf(9), queue: `${queue}-other`, status: 'done' as const, finishedAt: at(-3_600_000) },
  ]);
}

const left = async (queue: string) => (await messages(stack, { queue })).map((row) => row.id);

describe('deleteFinished', () => {
  beforeEach(() => seed('ret'));

  it('deletes done and cancelled messages finished before the cutoff, oldest first, and counts them', async () => {
    expect(await deleteFinished(stack.db, { queue: 'ret', before: at(-2 * 60_000), limit: 100 })).toBe(3);
    // Dead letters stay without a cutoff of their own; live messages and other queues stay.
    expect(await left('ret')).toEqual([idOf(3), idOf(5), idOf(6), idOf(7), idOf(8)]);
    expect(await left('ret-other')).toEqual([idOf(9)]);
  });

  it('deletes dead letters only before their own cutoff, and at most `limit`, oldest first', async () => {
    expect(await deleteFinished(stack.db, { queue: 'ret', before: at(0), deadBefore: at(-3 * 60_000), limit: 2 })).toBe(2);
    expect(await left('ret')).toEqual([idOf(3), idOf(4), idOf(5), idOf(6), idOf(7), idOf(8)]);
    expect(await deleteFinished(stack.db, { queue: 'ret', before: at(0), deadBefore: at(-3 * 60_000), limit: 100 })).toBe(3);
    expect(await left('ret')).toEqual([idOf(6), idOf(7), idOf(8)]);
  });

  // The one statement here whose re-send does more than its first run: `LIMIT` deletes up to
  // `limit` more rows. Allowed: each is past its retention, which is all the statement promises,
  // and the count (the re-send's own) can only be lower, which ends a retention loop early, never
  // late (lib/drain/retention.ts stops at a short batch).
  it('deletes up to `limit` more rows past retention when re-sent after a lost reply, and counts only its own', async () => {
    const { once, resent } = await onceAndResent(stack, {
      seed: () => seed('ret'),
      reset: async () => {},
      run: (db) => deleteFinished(db, { queue: 'ret', before: at(0), limit: 2 }),
      lost: isDelete,
      state: () => left('ret'),
    });
    expect([resent.lost, resent.sent]).toEqual([1, 2]);
    expect(once).toEqual({ result: 2, state: [idOf(3), idOf(4), idOf(5), idOf(6), idOf(7), idOf(8)] });
    expect(resent).toMatchObject({ result: 2, state: [idOf(3), idOf(6), idOf(7), idOf(8)] });
  });

  it('reads the finished range of the claim index', async () => {
    await insertBackground(stack);
    const [call] = await statementsOf(stack.db, (db) =>
      deleteFinished(db, { queue: 'bg0', before: at(-10 * 60_000), deadBefore: at(-60 * 60_000), limit: 100 }),
    );
    const plan = await explain(stack.db, call!);
    expectAccess(plan, { queue_messages: 'ix_queue_messages_claim' });
    expect(plan[0]!.type).toBe('range');
  });
});
