/** Dead letters: redrive and purge act on chosen ids, so a call re-sent after a lost reply does no more than asked. */
import { beforeEach, describe, expect, it } from 'vitest';
import {
  COUNT_CHOSEN_DEAD_LETTERS_NOT_OF_TYPES,
  COUNT_DEAD_LETTERS_NOT_OF_TYPES,
  countDeadLettersNotOfTypes,
  deadLetterIds,
  listDeadLetters,
  PURGE_DEAD_LETTERS,
  purgeDeadLettersById,
  REDRIVE_DEAD_LETTERS,
  redriveDeadLetters,
  redriveDeadLettersById,
  SELECT_DEAD_LETTER_IDS,
  selectDeadLetters,
} from '../../lib/sql/deadLetters.js';
import { RESPONSE_PAGE_BYTES } from '../../lib/sql/responseBytes.js';
import { explain, expectAccess, insertBackground, insertFixtures, messages, onceAndResent, statementsOf } from '../support/statements.js';
import { lostReplyDb } from '../support/lostReply.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

const NOW = new Date('2026-03-01T12:00:00.000Z');
const idOf = (n: number) => `00000000-0000-7000-8000-${String(n).padStart(12, '0')}`;

beforeEach(async () => {
  await stack.sql.query('DELETE FROM queue_messages');
});

/** `n` dead letters on `queue`, ids in order. */
async function deadLetters(queue: string, n: number, from = 0): Promise<string[]> {
  const ids = Array.from({ length: n }, (_, i) => idOf(from + i));
  for (const id of ids) {
    await stack.sql.query(
      `INSERT INTO queue_messages (id, queue, type, payload, payload_bytes, status, priority, attempts, max_attempts, available_at, created_at, updated_at, finished_at)
       VALUES (?, ?, 'any', '{}', 2, 'dead', 0, 3, 3, ?, ?, ?, ?)`,
      [id, queue, NOW, NOW, NOW, NOW],
    );
  }
  return ids;
}

async function countByStatus(queue: string): Promise<Record<string, number>> {
  const [rows] = (await stack.sql.query('SELECT status, COUNT(*) AS n FROM queue_messages WHERE queue = ? GROUP BY status', [queue])) as any;
  return Object.fromEntries(rows.map((row: any) => [row.status, Number(row.n)]));
}

describe('after a lost reply, the re-sent statement', () => {
  it('purges no more than the limit', async () => {
    await deadLetters('q', 10);
    const lost = lostReplyDb(stack, { when: (sql) => sql === PURGE_DEAD_LETTERS });
    await purgeDeadLettersById(lost.db, { queue: 'q', ids: await deadLetterIds(lost.db, { queue: 'q', limit: 3 }) });
    expect([lost.lost(), lost.sent()]).toEqual([1, 2]);
    expect(await countByStatus('q')).toEqual({ dead: 7 });
  });

  it('redrives no more than the limit', async () => {
    await deadLetters('q', 10);
    const lost = lostReplyDb(stack, { when: (sql) => sql === REDRIVE_DEAD_LETTERS });
    await redriveDeadLetters(lost.db, { queue: 'q', limit: 3, now: NOW, groupedAvailableAt: NOW });
    expect([lost.lost(), lost.sent()]).toEqual([1, 2]);
    expect(await countByStatus('q')).toEqual({ dead: 7, waiting: 3 });
  });
});

describe('deadLetterIds', () => {
  it('answers given ids that fit the limit without a call, else the oldest dead letters among them', async () => {
    const ids = await deadLetters('q', 5);
    await deadLetters('other', 1, 100);
    const db = stack.newDb();
    expect(await deadLetterIds(db, { queue: 'q', ids: [ids[3]!, ids[1]!], limit: 2 })).toEqual([ids[3], ids[1]]);
    expect(db.stats.calls).toBe(0);
    expect(await deadLetterIds(db, { queue: 'q', ids: [ids[4]!, idOf(100), ids[2]!, ids[3]!], limit: 2 })).toEqual([ids[2], ids[3]]);
    expect(await deadLetterIds(db, { queue: 'q', limit: 3 })).toEqual(ids.slice(0, 3));
    // Only keys that may name a recurring slot come back: any other, up to 1,020 bytes on each of
    // 1,000 rows, could pass the Data API's 1 MiB.
    const slot = `recurring:${'e'.repeat(64)}:2026-03-01T12:00:00.000Z`;
    await stack.sql.query('UPDATE queue_messages SET dedup_key = ? WHERE id = ?', [slot, ids[1]]);
    await stack.sql.query('UPDATE queue_messages SET dedup_key = ? WHERE id = ?', ['k', ids[2]]);
    await stack.sql.query('UPDATE queue_messages SET dedup_key = ? WHERE id = ?', [`recurring:${'😀'.repeat(200)}`, ids[3]]);
    expect(await selectDeadLetters(db, { queue: 'q', ids: [ids[1]!, ids[2]!, ids[3]!, ids[4]!], limit: 5 })).toEqual([
      { id: ids[1], slotKey: slot },
      { id: ids[2], slotKey: null },
      { id: ids[3], slotKey: null },
      { id: ids[4], slotKey: null },
    ]);
  });

  it('purge and redrive by given ids leave other queues and other ids alone', async () => {
    const ids = await deadLetters('q', 4);
    const [other] = await deadLetters('other', 1, 100);
    await stack.sql.query("INSERT INTO queue_payload_parts (message_id, part, bytes, data) VALUES (?, 0, 2, '{}')", [ids[1]]);
    expect(await redriveDeadLetters(stack.db, { queue: 'q', ids: [ids[0]!, other!], limit: 10, now: NOW, groupedAvailableAt: NOW })).toBe(1);
    expect(await purgeDeadLettersById(stack.db, { queue: 'q', ids: [ids[0]!, ids[1]!, other!] })).toBe(1);
    expect(await countByStatus('q')).toEqual({ dead: 2, waiting: 1 });
    expect(await countByStatus('other')).toEqual({ dead: 1 });
    // A purged message's payload slices go with it.
    const [parts] = (await stack.sql.query('SELECT COUNT(*) AS n FROM queue_payload_parts')) as any;
    expect(Number(parts[0].n)).toBe(0);
  });
});

describe('dead letters by type', () => {
  it('selects and redrives only dead letters of the given types, and counts those of none of them', async () => {
    const ids = await deadLetters('typed', 4);
    await stack.sql.query("UPDATE queue_messages SET type = 'sms.send' WHERE id IN (?, ?)", [ids[1], ids[3]]);
    const sms = ['sms.send', 'mail.send'];
    expect(await deadLetterIds(stack.db, { queue: 'typed', limit: 10, types: sms })).toEqual([ids[1], ids[3]]);
    expect(await deadLetterIds(stack.db, { queue: 'typed', ids: [ids[0]!, ids[1]!, ids[2]!], limit: 2, types: sms })).toEqual([ids[1]]);
    expect(await countDeadLettersNotOfTypes(stack.db, { queue: 'typed', types: sms })).toBe(2);
    expect(await countDeadLettersNotOfTypes(stack.db, { queue: 'typed', ids: [ids[0]!, ids[1]!], types: sms })).toBe(1);
    expect(await countDeadLettersNotOfTypes(stack.db, { queue: 'typed', types: ['any', ...sms] })).toBe(0);
    // Given ids that fit the limit are not read first: the redrive itself leaves the other types alone.
    expect(await redriveDeadLetters(stack.db, { queue: 'typed', ids, limit: 10, now: NOW, groupedAvailableAt: NOW, types: sms })).toBe(2);
    expect(await countByStatus('typed')).toEqual({ dead: 2, waiting: 2 });
    // No type carried: nothing.
    expect(await redriveDeadLetters(stack.db, { queue: 'typed', ids, limit: 10, now: NOW, groupedAvailableAt: NOW, types: [] })).toBe(0);
    expect(await countDeadLettersNotOfTypes(stack.db, { queue: 'typed', types: [] })).toBe(2);
  });
});

describe('dead letters: the conformance subtests', () => {
  it('lists a page in id order, says whether more follow, and pages on after an id', async () => {
    const ids = await deadLetters('list', 5);
    await deadLetters('list-other', 1, 100);
    const page = (limit: number, afterId?: string) => listDeadLetters(stack.db, { queue: 'list', limit, afterId, maxBytes: RESPONSE_PAGE_BYTES });
    const first = await page(2);
    expect([first.messages.map((m) => m.id), first.more]).toEqual([ids.slice(0, 2), true]);
    const last = await page(3, ids[1]);
    expect([last.messages.map((m) => m.id), last.more]).toEqual([ids.slice(2), false]);
    expect(first.messages[0]).toMatchObject({ queue: 'list', status: 'dead', attempts: 3, payload: {} });
  });

  it('redrives a message to the head of its group, due a lease later, with its attempts and lease cleared, and counts what it changed', async () => {
    await insertFixtures(stack, [
      { id: idOf(200), queue: 'redrive', status: 'dead', attempts: 3, leaseToken: 'old', groupKey: 'g', lastError: 'gave up' },
      { id: idOf(201), queue: 'redrive', status: 'dead', attempts: 3, leaseToken: 'old' },
      { id: idOf(202), queue: 'redrive', status: 'done' },
    ]);
    const later = new Date(NOW.getTime() + 30_000);
    expect(await redriveDeadLettersById(stack.db, { queue: 'redrive', ids: [idOf(200), idOf(201), idOf(202)], now: NOW, groupedAvailableAt: later })).toBe(2);
    expect(
      (await messages(stack, { queue: 'redrive' })).map((row) => [
        row.status,
        row.attempts,
        row.available_at,
        row.lease_token,
        row.finished_at,
        row.group_head,
        row.last_error,
      ]),
    ).toEqual([
      ['waiting', 0, later, null, null, 'g', 'gave up'],
      ['waiting', 0, NOW, null, null, null, null],
      ['done', 0, NOW, null, NOW, null, null],
    ]);
    // Re-sent after a lost reply: the second run finds no dead letters left to change.
    const { once, resent } = await onceAndResent(stack, {
      seed: () => deadLetters('redrive-again', 3, 300),
      reset: () => stack.sql.query("DELETE FROM queue_messages WHERE queue = 'redrive-again'"),
      run: (db) => redriveDeadLettersById(db, { queue: 'redrive-again', ids: [idOf(300), idOf(302)], now: NOW, groupedAvailableAt: later }),
      lost: (sql) => sql === REDRIVE_DEAD_LETTERS,
      state: () => messages(stack, { queue: 'redrive-again' }),
    });
    expect(resent.state).toEqual(once.state);
    expect([once.result, resent.result]).toEqual([2, 0]);
  });

  it('finds dead letters through the dead-letter index, and changes chosen ones by primary key', async () => {
    await insertBackground(stack);
    const calls = await statementsOf(stack.db, async (db) => {
      await listDeadLetters(db, { queue: 'bg1', limit: 50, maxBytes: RESPONSE_PAGE_BYTES });
      const ids = await deadLetterIds(db, { queue: 'bg1', limit: 10 });
      await redriveDeadLettersById(db, { queue: 'bg1', ids, now: NOW, groupedAvailableAt: NOW });
      await countDeadLettersNotOfTypes(db, { queue: 'bg1', ids, types: ['t'] });
      await countDeadLettersNotOfTypes(db, { queue: 'bg1', types: ['t'] });
      await purgeDeadLettersById(db, { queue: 'bg1', ids });
    });
    expect(calls.map((call) => call.sql).slice(1)).toEqual([
      SELECT_DEAD_LETTER_IDS,
      REDRIVE_DEAD_LETTERS,
      COUNT_CHOSEN_DEAD_LETTERS_NOT_OF_TYPES,
      COUNT_DEAD_LETTERS_NOT_OF_TYPES,
      PURGE_DEAD_LETTERS,
    ]);
    expectAccess(await explain(stack.db, calls[0]!), { queue_messages: 'ix_queue_messages_dead' });
    expectAccess(await explain(stack.db, calls[1]!), { queue_messages: 'ix_queue_messages_dead' });
    expectAccess(await explain(stack.db, calls[2]!), { m: 'PRIMARY' });
    expectAccess(await explain(stack.db, calls[3]!), { m: 'PRIMARY' });
    expectAccess(await explain(stack.db, calls[4]!), { queue_messages: 'ix_queue_messages_dead' });
    expectAccess(await explain(stack.db, calls[5]!), { m: 'PRIMARY' });
  });
});
