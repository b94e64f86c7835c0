/** queueBacklog: a queue's live messages and its oldest due one's age, read by every drain run. */
import { describe, expect, it } from 'vitest';
import { queueBacklog } from '../../lib/sql/queueBacklog.js';
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
