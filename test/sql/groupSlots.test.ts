/** groupSlots: a FIFO queue's slot rows, and the shared locks a producer transaction holds on its groups' slots. */
import { describe, expect, it } from 'vitest';
import { ensureGroupSlots, ENSURE_GROUP_SLOTS, GROUP_SLOTS, holdGroupSlots, HOLD_GROUP_SLOTS } from '../../lib/sql/groupSlots.js';
import { explain, expectAccess, onceAndResent, statementsOf } from '../support/statements.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

const slots = async (queue: string) => {
  const [rows] = (await stack.sql.query('SELECT COUNT(*) AS n, MIN(slot) AS low, MAX(slot) AS high FROM queue_group_slots WHERE queue = ?', [queue])) as any;
  return rows[0] as { n: number; low: number; high: number };
};

describe('groupSlots', () => {
  it("adds a queue's missing slots, keeping the ones there, and the same rows when re-sent after a lost reply", async () => {
    await stack.sql.query("INSERT INTO queue_group_slots (queue, slot) VALUES ('s', 7), ('s', 1000)");
    await ensureGroupSlots(stack.db, { queue: 's' });
    expect(await slots('s')).toEqual({ n: GROUP_SLOTS, low: 0, high: GROUP_SLOTS - 1 });
    const { once, resent } = await onceAndResent(stack, {
      seed: async () => {},
      reset: () => stack.sql.query("DELETE FROM queue_group_slots WHERE queue = 'r'"),
      run: (db) => ensureGroupSlots(db, { queue: 'r' }),
      lost: (sql) => sql === ENSURE_GROUP_SLOTS,
      state: () => slots('r'),
    });
    expect([resent.lost, resent.sent]).toEqual([1, 2]);
    expect(resent.state).toEqual(once.state);
  });

  it("holds its groups' slots until the producer's transaction ends, and a re-ensure does not wait on them", async () => {
    await ensureGroupSlots(stack.db, { queue: 'h' });
    const other = stack.newDb();
    await stack.db.transaction(async (tx) => {
      // Two groups, one repeated: a slot each (they may share one: then one row).
      expect(await holdGroupSlots(tx, { queue: 'h', groups: ['g1', 'g2', 'g1'] })).toBeGreaterThanOrEqual(1);
      expect(await holdGroupSlots(tx, { queue: 'h', groups: ['g1', 'g1'] })).toBe(1);
      expect(await holdGroupSlots(tx, { queue: 'h', groups: [] })).toBe(0);
      // Another producer of the same group holds the same slot alongside (shared locks).
      await other.transaction(async (tx2) => expect(await holdGroupSlots(tx2, { queue: 'h', groups: ['g1'] })).toBe(1));
      const started = performance.now();
      await ensureGroupSlots(other, { queue: 'h' });
      expect(performance.now() - started).toBeLessThan(2_000);
    });
    expect(await holdGroupSlots(stack.db, { queue: 'no-slots', groups: ['g1'] })).toBe(0);
  });

  it('locks the slots by primary key', async () => {
    await ensureGroupSlots(stack.db, { queue: 'plan' });
    await ensureGroupSlots(stack.db, { queue: 'plan2' });
    await stack.sql.query('ANALYZE TABLE queue_group_slots');
    const [call] = await statementsOf(stack.db, (db) => holdGroupSlots(db, { queue: 'plan', groups: ['a', 'b', 'c'] }));
    expect(call!.sql).toBe(HOLD_GROUP_SLOTS);
    expectAccess(await explain(stack.db, call!), { s: 'PRIMARY' });
  });
});
