/** debounceWaiting: a waiting message with the key takes the new payload and due time; nothing else does. */
import { describe, expect, it } from 'vitest';
import { debounceWaiting } from '../../lib/sql/debounceWaiting.js';
import type { NewMessage } from '../../lib/sql/insertMessages.js';
import { at, explain, expectAccess, idOf, insertBackground, insertFixtures, messages, statementsOf, T0 } from '../support/statements.js';
import { DataApiUnavailableError } from '../../lib/db/index.js';
import { lostReplyDb } from '../support/lostReply.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

const STATUSES = ['waiting', 'retrying', 'running', 'done', 'dead', 'cancelled'] as const;

const newer = (queue: string, dedupKey: string, over: Partial<NewMessage> = {}): NewMessage => ({
  id: idOf(99_000),
  queue,
  type: 't2',
  payloadJson: '{"n": 2}',
  priority: 5,
  maxAttempts: 7,
  availableAt: at(60_000),
  dedupKey,
  traceContext: null,
  ...over,
});

async function stored(queue: string) {
  const [rows] = await stack.sql.query(
    'SELECT id, type, CAST(payload AS CHAR) AS payload, payload_bytes, priority, max_attempts, available_at, dedup_hits, updated_at, group_key FROM queue_messages WHERE queue = ? ORDER BY id',
    [queue],
  );
  return rows as Record<string, unknown>[];
}

describe('debounceWaiting', () => {
  it('gives a waiting message the new payload, type, priority, attempts and due time, keeping its id and group', async () => {
    await insertFixtures(stack, [{ id: idOf(1), queue: 'deb', dedupKey: 'k', payload: '{"n": 1}', groupKey: 'g' }]);
    expect(await debounceWaiting(stack.db, idOf(1), newer('deb', 'k'), at(1_000))).toBe(true);
    expect(await stored('deb')).toEqual([
      {
        id: idOf(1),
        type: 't2',
        payload: '{"n": 2}',
        payload_bytes: 8,
        priority: 5,
        max_attempts: 7,
        available_at: at(60_000),
        dedup_hits: 1,
        updated_at: at(1_000),
        group_key: 'g',
      },
    ]);
    // The same values again still count as a change: a repeat is not mistaken for "not waiting".
    expect(await debounceWaiting(stack.db, idOf(1), newer('deb', 'k'), at(1_000))).toBe(true);
  });

  it('changes no message that is not waiting, or does not hold the key, or is of another queue', async () => {
    await insertFixtures(stack, [
      ...STATUSES.map((status, n) => ({ id: idOf(10 + n), queue: 'deb2', status, dedupKey: `k${n}`, leaseToken: status === 'running' ? 'l' : null })),
      { id: idOf(20), queue: 'deb2', dedupKey: 'other' },
    ]);
    const before = await messages(stack, { queue: 'deb2' });
    const answers = [];
    for (const n of STATUSES.keys()) answers.push(await debounceWaiting(stack.db, idOf(10 + n), newer('deb2', `k${n}`), T0));
    expect(answers).toEqual([true, false, false, false, false, false]);
    expect(await debounceWaiting(stack.db, idOf(20), newer('deb2', 'k0'), T0)).toBe(false);
    expect(await debounceWaiting(stack.db, idOf(20), newer('elsewhere', 'other'), T0)).toBe(false);
    const after = await messages(stack, { queue: 'deb2' });
    expect(after.slice(1)).toEqual(before.slice(1));
  });

  it('stores a sliced payload as null with its slice count', async () => {
    await insertFixtures(stack, [{ id: idOf(30), queue: 'deb3', dedupKey: 'k' }]);
    expect(await debounceWaiting(stack.db, idOf(30), newer('deb3', 'k', { payloadJson: 'null', parts: ['a', 'b', 'c'] }), T0)).toBe(true);
    const [row] = await messages(stack, { queue: 'deb3' });
    expect(row!.payload_parts).toBe(3);
  });

  // A re-send could find the message claimed meanwhile and answer "not waiting" for an update that
  // ran: the caller sees the failure and sends its enqueue again, which ends the same way.
  it('is not re-sent after a lost reply: the caller sees the failure, and the update stands', async () => {
    await insertFixtures(stack, [{ id: idOf(40), queue: 'deb4', dedupKey: 'k' }]);
    const lost = lostReplyDb(stack, { when: (sql) => sql.includes('dedup_hits = dedup_hits + 1') });
    await expect(debounceWaiting(lost.db, idOf(40), newer('deb4', 'k'), at(1_000))).rejects.toBeInstanceOf(DataApiUnavailableError);
    expect([lost.lost(), lost.sent()]).toEqual([1, 1]);
    expect((await stored('deb4')).map((row) => [row.payload, row.dedup_hits])).toEqual([['{"n": 2}', 1]]);
  });

  it('reaches the message by primary key', async () => {
    await insertBackground(stack);
    const [call] = await statementsOf(stack.db, (db) => debounceWaiting(db, idOf(900_005), newer('bg0', 'bg0-key-3'), T0));
    expectAccess(await explain(stack.db, call!), { queue_messages: 'PRIMARY' });
  });
});
