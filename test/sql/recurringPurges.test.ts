/** Purged recurring slots: the marks a purge leaves, and the recurring insert that honours them. */
import { describe, expect, it } from 'vitest';
import { insertRecurringMessages, type RecurringMessage } from '../../lib/sql/insertRecurringMessages.js';
import { markPurgedSlots, purgeMarks } from '../../lib/sql/recurringPurges.js';
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
