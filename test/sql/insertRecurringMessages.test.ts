/**
 * insertRecurringMessages: the enqueue insert, refused whole when a slot is at or before its
 * entry's purge mark (test/sql/recurringPurges.test.ts covers the marks and the refusal).
 */
import { describe, expect, it } from 'vitest';
import { DataApiUnavailableError } from '../../lib/db/errors.js';
import { slotKey } from '../../lib/recurring.js';
import { insertRecurringMessages, INSERT_RECURRING_MESSAGES, type RecurringMessage } from '../../lib/sql/insertRecurringMessages.js';
import { markPurgedSlots } from '../../lib/sql/recurringPurges.js';
import { at, explain, expectAccess, idOf, insertBackground, messages, statementsOf, T0 } from '../support/statements.js';
import { lostReplyDb } from '../support/lostReply.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

const due = (n: number, queue: string, entry: string, slot: Date): RecurringMessage => ({
  entry,
  slot,
  message: { id: idOf(n), queue, type: 't', payloadJson: '{}', priority: 0, maxAttempts: 3, availableAt: slot, dedupKey: slotKey(entry, slot) },
});

const stored = async (queue: string) => (await messages(stack, { queue })).map((row) => [row.id, row.dedup_key, row.status]);

describe('insertRecurringMessages', () => {
  it('stores every slot, counts those already stored, and stores nothing with a purged slot in the batch (0 rows: refused)', async () => {
    const batch = [due(1, 'rec', 'a', at(60_000)), due(2, 'rec', 'b', at(60_000))];
    expect(await insertRecurringMessages(stack.db, batch, T0)).toEqual({ duplicates: 0 });
    // The next run makes new ids for the same slots: their dedup keys are stored already.
    expect(await insertRecurringMessages(stack.db, [due(3, 'rec', 'a', at(60_000)), due(4, 'rec', 'a', at(120_000))], T0)).toEqual({ duplicates: 1 });
    await markPurgedSlots(stack.db, { queue: 'rec', slots: [{ entry: 'b', slot: at(120_000) }], now: T0 });
    expect(await insertRecurringMessages(stack.db, [due(5, 'rec', 'a', at(180_000)), due(6, 'rec', 'b', at(120_000))], T0)).toBeUndefined();
    expect(await stored('rec')).toEqual([
      [idOf(1), slotKey('a', at(60_000)), 'waiting'],
      [idOf(2), slotKey('b', at(60_000)), 'waiting'],
      [idOf(4), slotKey('a', at(120_000)), 'waiting'],
    ]);
    const db = stack.newDb();
    expect(await insertRecurringMessages(db, [], T0)).toEqual({ duplicates: 0 });
    expect(db.stats.calls).toBe(0);
  });

  it('is not re-sent after a lost reply; sent again, it stores nothing twice and counts every slot a duplicate', async () => {
    const batch = [due(10, 'lost', 'a', at(60_000)), due(11, 'lost', 'b', at(60_000))];
    const lost = lostReplyDb(stack, { when: (sql) => sql === INSERT_RECURRING_MESSAGES });
    await expect(insertRecurringMessages(lost.db, batch, T0)).rejects.toBeInstanceOf(DataApiUnavailableError);
    expect([lost.lost(), lost.sent()]).toEqual([1, 1]);
    expect(await insertRecurringMessages(stack.db, batch, T0)).toEqual({ duplicates: 2 });
    expect(await stored('lost')).toEqual([
      [idOf(10), slotKey('a', at(60_000)), 'waiting'],
      [idOf(11), slotKey('b', at(60_000)), 'waiting'],
    ]);
  });

  it("checks each slot against its entry's mark by primary key, and reads nothing else", async () => {
    await insertBackground(stack);
    // Marks of many entries and queues (a purge is rare, but marks are never deleted).
    for (const queue of ['m0', 'm1', 'm2', 'm3']) {
      const slots = Array.from({ length: 100 }, (_, n) => ({ entry: `e${n}`, slot: at(n * 60_000) }));
      await markPurgedSlots(stack.db, { queue, slots, now: T0 });
    }
    await stack.sql.query('ANALYZE TABLE queue_recurring_purges');
    const [call] = await statementsOf(stack.db, (db) => insertRecurringMessages(db, [due(20, 'plan', 'a', at(0)), due(21, 'plan', 'b', at(0))], T0));
    const plan = await explain(stack.db, call!);
    expectAccess(plan, { p: 'PRIMARY' });
    expect(plan.filter((row) => row.table !== 'j' && row.table !== 'purged' && row.table !== 'p')).toEqual([]);
  });
});
