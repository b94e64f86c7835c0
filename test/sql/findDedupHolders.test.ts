/** findDedupHolders: the message holding each dedup key of one queue, with what a debounce or throttle decides on. */
import { describe, expect, it } from 'vitest';
import { findDedupHolders } from '../../lib/sql/findDedupHolders.js';
import { at, explain, expectAccess, idOf, insertBackground, insertFixtures, statementsOf } from '../support/statements.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

describe('findDedupHolders', () => {
  it("answers each key's holder with its status, creation time and slice count, and no other queue's", async () => {
    await insertFixtures(stack, [
      { id: idOf(1), queue: 'holders', dedupKey: 'a', createdAt: at(-5_000) },
      { id: idOf(2), queue: 'holders', dedupKey: '😀 "b"', status: 'running', leaseToken: 'l', payloadParts: 3, payload: 'null' },
      { id: idOf(3), queue: 'holders', dedupKey: 'c', status: 'done' },
      { id: idOf(4), queue: 'other', dedupKey: 'd' },
    ]);
    const found = await findDedupHolders(stack.db, 'holders', ['d', 'a', '😀 "b"', 'c', 'missing', 'A']);
    expect(found).toEqual(
      new Map([
        ['a', { id: idOf(1), status: 'waiting', createdAt: at(-5_000), payloadParts: 0 }],
        ['😀 "b"', { id: idOf(2), status: 'running', createdAt: at(0), payloadParts: 3 }],
        ['c', { id: idOf(3), status: 'done', createdAt: at(0), payloadParts: 0 }],
      ]),
    );
    const db = stack.newDb();
    expect(await findDedupHolders(db, 'holders', [])).toEqual(new Map());
    expect(db.stats.calls).toBe(0);
  });

  it('looks each key up in the dedup index', async () => {
    await insertBackground(stack);
    const [call] = await statementsOf(stack.db, (db) => findDedupHolders(db, 'bg1', ['bg1-key-3', 'bg1-key-6', 'nope']));
    const plan = await explain(stack.db, call!);
    expectAccess(plan, { m: 'ux_queue_messages_dedup' });
    expect(plan.find((row) => row.table === 'm')!.type).toBe('eq_ref');
  });
});
