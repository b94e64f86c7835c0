/** findByDedupKeys: the stored message of each dedup key of one queue, answered by the key's place in the list. */
import { describe, expect, it } from 'vitest';
import { findByDedupKeys } from '../../lib/sql/findByDedupKeys.js';
import { explain, expectAccess, idOf, insertBackground, insertFixtures, statementsOf } from '../support/statements.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

describe('findByDedupKeys', () => {
  it("answers each key of the queue that has a message, whatever its text, and no other queue's", async () => {
    const keys = ['a', 'é', '😀'.repeat(255), 'with "quotes" and \\ and \n', 'A'];
    await insertFixtures(stack, [
      ...keys.map((dedupKey, n) => ({ id: idOf(n + 1), queue: 'dedup', dedupKey, status: n === 1 ? ('done' as const) : ('waiting' as const) })),
      { id: idOf(10), queue: 'other', dedupKey: 'b' },
    ]);
    const found = await findByDedupKeys(stack.db, 'dedup', ['b', ...keys, 'a', 'missing']);
    expect(found).toEqual(new Map(keys.map((key, n) => [key, idOf(n + 1)])));
    // Keys compare as stored (utf8mb4_bin): 'a' is not 'A'.
    expect(await findByDedupKeys(stack.db, 'dedup', ['a'])).toEqual(new Map([['a', idOf(1)]]));
    const db = stack.newDb();
    expect(await findByDedupKeys(db, 'dedup', [])).toEqual(new Map());
    expect(db.stats.calls).toBe(0);
  });

  it('looks each key up in the dedup index', async () => {
    await insertBackground(stack);
    const [call] = await statementsOf(stack.db, (db) => findByDedupKeys(db, 'bg1', ['bg1-key-3', 'bg1-key-6', 'nope']));
    const plan = await explain(stack.db, call!);
    expectAccess(plan, { m: 'ux_queue_messages_dedup' });
    expect(plan.find((row) => row.table === 'm')!.type).toBe('eq_ref');
  });
});
