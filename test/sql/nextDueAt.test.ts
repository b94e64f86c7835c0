/** nextDueAt: when the queue's next live message comes due, within a horizon. */
import { describe, expect, it } from 'vitest';
import { nextDueAt } from '../../lib/sql/nextDueAt.js';
import { at, explain, expectAccess, idOf, insertBackground, insertFixtures, statementsOf } from '../support/statements.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

describe('nextDueAt', () => {
  it('answers the earliest live message due after now and by the horizon, leases included', async () => {
    await insertFixtures(stack, [
      { id: idOf(1), queue: 'due', availableAt: at(0) }, // due already
      { id: idOf(2), queue: 'due', status: 'done', availableAt: at(1_000) }, // finished
      { id: idOf(3), queue: 'other', availableAt: at(2_000) },
      { id: idOf(4), queue: 'due', status: 'running', leaseToken: 'l', availableAt: at(8_000) }, // its lease ends
      { id: idOf(5), queue: 'due', status: 'retrying', availableAt: at(5_000), priority: -3 },
      { id: idOf(6), queue: 'due', availableAt: at(60_000) },
    ]);
    const due = (now: number, horizon: number) => nextDueAt(stack.db, { queue: 'due', now: at(now), horizon: at(horizon) });
    expect(await due(0, 10_000)).toEqual(at(5_000));
    expect(await due(5_000, 10_000)).toEqual(at(8_000));
    expect(await due(5_000, 8_000)).toEqual(at(8_000));
    expect(await due(8_000, 59_999)).toBeUndefined();
    expect(await due(8_000, 60_000)).toEqual(at(60_000));
    expect(await nextDueAt(stack.db, { queue: 'empty', now: at(0), horizon: at(60_000) })).toBeUndefined();
  });

  it('reads the live range of the claim index, never the finished history', async () => {
    await insertBackground(stack);
    const [call] = await statementsOf(stack.db, (db) => nextDueAt(db, { queue: 'bg2', now: at(0), horizon: at(60_000) }));
    const plan = await explain(stack.db, call!);
    expectAccess(plan, { queue_messages: 'ix_queue_messages_claim' });
    // The (queue, finished_at IS NULL) prefix: the queue's live rows only.
    expect(['ref', 'range']).toContain(plan[0]!.type);
    expect(Number(plan[0]!.key_len)).toBeGreaterThan(66); // queue (64 + 2) and finished_at
  });
});
