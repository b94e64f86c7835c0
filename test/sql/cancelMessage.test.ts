/** cancelMessage: only a message no drainer holds is cancelled. */
import { describe, expect, it } from 'vitest';
import { cancelMessage } from '../../lib/sql/cancelMessage.js';
import { at, explain, expectAccess, idOf, insertBackground, insertFixtures, messages, onceAndResent, statementsOf, T0 } from '../support/statements.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

const isCancel = (sql: string) => sql.includes("SET status = 'cancelled'");
const STATUSES = ['waiting', 'retrying', 'running', 'done', 'dead', 'cancelled'] as const;

/** One message of each status, ids from `base`. */
async function seed(queue: string, base: number) {
  await stack.sql.query('DELETE FROM queue_messages WHERE queue = ?', [queue]);
  return insertFixtures(
    stack,
    STATUSES.map((status, n) => ({ id: idOf(base + n), queue, status, groupKey: 'g', leaseToken: status === 'running' ? 'l' : null })),
  );
}

describe('cancelMessage', () => {
  it('cancels a waiting or retrying message (finished, out of its group) and nothing else, counting what it changed', async () => {
    const ids = await seed('cancel', 0);
    const before = await messages(stack, { queue: 'cancel' });
    const answers = [];
    for (const id of ids) answers.push(await cancelMessage(stack.db, id, at(1_000)));
    expect(answers).toEqual([true, true, false, false, false, false]);
    const after = await messages(stack, { queue: 'cancel' });
    expect(after.slice(0, 2).map((row) => [row.status, row.finished_at, row.group_head, row.updated_at])).toEqual([
      ['cancelled', at(1_000), null, at(1_000)],
      ['cancelled', at(1_000), null, at(1_000)],
    ]);
    expect(after.slice(2)).toEqual(before.slice(2));
    expect(await cancelMessage(stack.db, idOf(99_999), T0)).toBe(false);
  });

  it('leaves the state of one run when re-sent after a lost reply', async () => {
    const { once, resent } = await onceAndResent(stack, {
      seed: () => seed('resend', 100),
      reset: async () => {},
      run: (db) => cancelMessage(db, idOf(100), at(1_000)),
      lost: isCancel,
      // Each call marks its cancel with a token of its own; the rest of the row is the same.
      state: async () => (await messages(stack, { queue: 'resend' })).map(({ lease_token: _token, ...row }) => row),
    });
    expect([resent.lost, resent.sent]).toEqual([1, 2]);
    expect(resent.state).toEqual(once.state);
  });

  // The re-sent statement finds the message cancelled by its own first run: it matches it (its
  // token), so the call that cancelled it answers true, not 409 "already cancelled".
  it('answers true when re-sent after a lost reply', async () => {
    const { once, resent } = await onceAndResent(stack, {
      seed: () => seed('resend-answer', 200),
      reset: async () => {},
      run: (db) => cancelMessage(db, idOf(200), at(1_000)),
      lost: isCancel,
      state: async () => {},
    });
    expect([once.result, resent.lost, resent.sent]).toEqual([true, 1, 2]);
    expect(resent.result).toBe(true);
  });

  it('reaches the message by primary key', async () => {
    await insertBackground(stack);
    const [call] = await statementsOf(stack.db, (db) => cancelMessage(db, idOf(900_005), T0));
    expectAccess(await explain(stack.db, call!), { queue_messages: 'PRIMARY' });
  });
});
