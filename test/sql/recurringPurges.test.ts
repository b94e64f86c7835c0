/** Purged recurring slots: the marks a purge leaves, and the recurring insert that honours them. */
import { describe, expect, it } from 'vitest';
import { insertRecurringMessages, type RecurringMessage } from '../../lib/sql/insertRecurringMessages.js';
import { MARK_PURGED_SLOTS, markPurgedSlots, purgeMarks } from '../../lib/sql/recurringPurges.js';
import { explain, expectAccess, onceAndResent, statementsOf, tableRows } from '../support/statements.js';
import { slotKey } from '../../lib/recurring.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

const NOW = new Date('2026-06-01T12:00:00.000Z');
const slot = (hour: number) => new Date(Date.UTC(2026, 5, 1, hour));
let ids = 0;

function due(queue: string, entry: string, at: Date): RecurringMessage {
  const id = `00000000-0000-7000-8000-${String(++ids).padStart(12, '0')}`;
  return {
    entry,
    slot: at,
    message: { id, queue, type: 'any', payloadJson: '{}', priority: 0, maxAttempts: 3, availableAt: at, dedupKey: slotKey(entry, at) },
  };
}

async function keys(queue: string): Promise<string[]> {
  const [rows] = (await stack.sql.query('SELECT dedup_key FROM queue_messages WHERE queue = ? ORDER BY dedup_key', [queue])) as any;
  return rows.map((row: any) => row.dedup_key);
}

describe('purge marks', () => {
  it('keep the newest slot per entry and queue, whatever order they are written in', async () => {
    await markPurgedSlots(stack.db, {
      queue: 'q',
      slots: [
        { entry: 'a', slot: slot(9) },
        { entry: 'a', slot: slot(7) },
        { entry: 'b', slot: slot(3) },
      ],
      now: NOW,
    });
    await markPurgedSlots(stack.db, { queue: 'q', slots: [{ entry: 'a', slot: slot(8) }], now: NOW });
    await markPurgedSlots(stack.db, { queue: 'other', slots: [{ entry: 'a', slot: slot(1) }], now: NOW });
    expect(await purgeMarks(stack.db, 'q')).toEqual(
      new Map([
        ['a', slot(9)],
        ['b', slot(3)],
      ]),
    );
  });
});

describe('insertRecurringMessages', () => {
  it('stores a batch and counts its duplicates, or stores none of it when it holds a purged slot', async () => {
    await markPurgedSlots(stack.db, { queue: 'ins', slots: [{ entry: 'a', slot: slot(9) }], now: NOW });
    expect(await insertRecurringMessages(stack.db, [due('ins', 'a', slot(10)), due('ins', 'b', slot(9))], NOW)).toEqual({ duplicates: 0 });
    expect(await insertRecurringMessages(stack.db, [due('ins', 'a', slot(10)), due('ins', 'a', slot(11))], NOW)).toEqual({ duplicates: 1 });
    // Slot 9 of `a` was purged: the batch is refused whole, so its counts stay exact once resent.
    expect(await insertRecurringMessages(stack.db, [due('ins', 'a', slot(9)), due('ins', 'b', slot(10))], NOW)).toBeUndefined();
    expect(await keys('ins')).toEqual([slotKey('a', slot(10)), slotKey('a', slot(11)), slotKey('b', slot(9))]);
  });
});

describe('purge marks: the conformance subtests', () => {
  it('leave the same marks when re-sent after a lost reply, and make no call for no slots', async () => {
    const { once, resent } = await onceAndResent(stack, {
      seed: () => markPurgedSlots(stack.db, { queue: 'resend', slots: [{ entry: 'a', slot: slot(5) }], now: NOW }),
      reset: () => stack.sql.query("DELETE FROM queue_recurring_purges WHERE queue = 'resend'"),
      run: (db) =>
        markPurgedSlots(db, {
          queue: 'resend',
          slots: [
            { entry: 'a', slot: slot(4) },
            { entry: 'b', slot: slot(6) },
          ],
          now: NOW,
        }),
      lost: (sql) => sql === MARK_PURGED_SLOTS,
      state: async () => (await tableRows(stack, 'queue_recurring_purges', 'queue, entry')).filter((row) => row.queue === 'resend'),
    });
    expect([resent.lost, resent.sent]).toEqual([1, 2]);
    expect(resent.state).toEqual(once.state);
    expect(await purgeMarks(stack.db, 'resend')).toEqual(
      new Map([
        ['a', slot(5)],
        ['b', slot(6)],
      ]),
    );
    const db = stack.newDb();
    await markPurgedSlots(db, { queue: 'resend', slots: [], now: NOW });
    expect(db.stats.calls).toBe(0);
  });

  it("read a queue's marks by primary key", async () => {
    for (const queue of ['m0', 'm1', 'm2']) {
      await markPurgedSlots(stack.db, { queue, slots: Array.from({ length: 50 }, (_, n) => ({ entry: `e${n}`, slot: slot(1) })), now: NOW });
    }
    await stack.sql.query('ANALYZE TABLE queue_recurring_purges');
    const [call] = await statementsOf(stack.db, (db) => purgeMarks(db, 'm1'));
    expectAccess(await explain(stack.db, call!), { queue_recurring_purges: 'PRIMARY' });
  });
});
