/** insertMessages: a batch in one statement, duplicates counted from the affected rows. */
import { describe, expect, it } from 'vitest';
import { DataApiUnavailableError } from '../../lib/db/errors.js';
import { insertMessages, type NewMessage } from '../../lib/sql/insertMessages.js';
import { at, explain, idOf, insertBackground, messages, statementsOf, T0 } from '../support/statements.js';
import { lostReplyDb } from '../support/lostReply.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

const isInsert = (sql: string) => sql.includes('INSERT INTO queue_messages');

const message = (n: number, queue: string, fields: Partial<NewMessage> = {}): NewMessage => ({
  id: idOf(n),
  queue,
  type: 't',
  payloadJson: `{"n":${n},"text":"é😀"}`,
  priority: 0,
  maxAttempts: 3,
  availableAt: at(n * 1_000),
  dedupKey: null,
  ...fields,
});

const stored = async (queue: string) =>
  (await messages(stack, { queue })).map((row) => [
    row.id,
    row.status,
    row.attempts,
    row.available_at,
    row.dedup_key,
    row.dedup_hits,
    row.group_key,
    row.group_head,
  ]);

describe('insertMessages', () => {
  it("stores each message's trace context as given, alone or in a batch, and none when it has none", async () => {
    const traced = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 rojo=1';
    await insertMessages(stack.db, [message(60, 'traced-one', { traceContext: traced })], T0);
    await insertMessages(
      stack.db,
      [message(61, 'traced-many', { traceContext: traced }), message(62, 'traced-many'), message(63, 'traced-many', { traceContext: null })],
      T0,
    );
    const [rows] = (await stack.sql.query("SELECT id, trace_context FROM queue_messages WHERE queue LIKE 'traced-%' ORDER BY id")) as unknown as [
      { id: string; trace_context: string | null }[],
    ];
    expect(rows.map((row) => [row.id, row.trace_context])).toEqual([
      [idOf(60), traced],
      [idOf(61), traced],
      [idOf(62), null],
      [idOf(63), null],
    ]);
  });

  it('stores one message, or a batch, as given: waiting, no attempt, a grouped one heading its group', async () => {
    expect(await insertMessages(stack.db, [message(1, 'one', { groupKey: 'g', dedupKey: 'k', priority: 7 })], T0)).toEqual({ duplicates: 0 });
    expect(await insertMessages(stack.db, [message(2, 'many'), message(3, 'many', { groupKey: 'g' }), message(4, 'many', { dedupKey: '😀' })], T0)).toEqual({
      duplicates: 0,
    });
    expect([...(await stored('one')), ...(await stored('many'))]).toEqual([
      [idOf(1), 'waiting', 0, at(1_000), 'k', 0, 'g', 'g'],
      [idOf(2), 'waiting', 0, at(2_000), null, 0, null, null],
      [idOf(3), 'waiting', 0, at(3_000), null, 0, 'g', 'g'],
      [idOf(4), 'waiting', 0, at(4_000), '😀', 0, null, null],
    ]);
    const [row] = (await stack.sql.query('SELECT payload, payload_bytes, created_at, updated_at FROM queue_messages WHERE id = ?', [idOf(1)]))[0] as any[];
    expect(row).toEqual({ payload: { n: 1, text: 'é😀' }, payload_bytes: Buffer.byteLength('{"n":1,"text":"é😀"}'), created_at: T0, updated_at: T0 });
  });

  it('counts a stored dedup key as a duplicate (1 affected row per insert, 2 per duplicate), in a batch or alone, and stores the rest', async () => {
    await insertMessages(stack.db, [message(10, 'dup', { dedupKey: 'a' }), message(11, 'dup', { dedupKey: 'b' })], T0);
    const batch = [message(12, 'dup', { dedupKey: 'a' }), message(13, 'dup'), message(14, 'dup', { dedupKey: 'c' }), message(15, 'dup', { dedupKey: 'c' })];
    expect(await insertMessages(stack.db, batch, T0)).toEqual({ duplicates: 2 });
    expect(await insertMessages(stack.db, [message(16, 'dup', { dedupKey: 'b' })], T0)).toEqual({ duplicates: 1 });
    // Another queue's keys are its own.
    expect(await insertMessages(stack.db, [message(17, 'dup-other', { dedupKey: 'a' })], T0)).toEqual({ duplicates: 0 });
    expect((await stored('dup')).map(([id, , , , key, hits]) => [id, key, hits])).toEqual([
      [idOf(10), 'a', 1],
      [idOf(11), 'b', 1],
      [idOf(13), null, 0],
      [idOf(14), 'c', 1],
    ]);
  });

  it('is not re-sent after a lost reply (the caller sees the failure); sent again, it stores nothing twice and counts every message a duplicate', async () => {
    const batch = [message(20, 'lost'), message(21, 'lost', { dedupKey: 'k' })];
    const lost = lostReplyDb(stack, { when: isInsert });
    await expect(insertMessages(lost.db, batch, T0)).rejects.toBeInstanceOf(DataApiUnavailableError);
    expect([lost.lost(), lost.sent()]).toEqual([1, 1]);
    const first = await stored('lost');
    expect(first).toHaveLength(2);
    // Ids are the product's own, so the same batch again hits its own rows (by primary key or dedup key).
    expect(await insertMessages(stack.db, batch, T0)).toEqual({ duplicates: 2 });
    expect((await stored('lost')).map((row) => row.filter((_, i) => i !== 5))).toEqual(first.map((row) => row.filter((_, i) => i !== 5)));
    const lostOne = lostReplyDb(stack, { when: isInsert });
    await expect(insertMessages(lostOne.db, [message(22, 'lost')], T0)).rejects.toBeInstanceOf(DataApiUnavailableError);
    expect(await insertMessages(stack.db, [message(22, 'lost')], T0)).toEqual({ duplicates: 1 });
  });

  it('reads nothing of queue_messages: the rows come from the JSON document', async () => {
    await insertBackground(stack);
    const [call] = await statementsOf(stack.db, (db) => insertMessages(db, [message(30, 'plan'), message(31, 'plan')], T0));
    const plan = await explain(stack.db, call!);
    expect(plan.map((row) => [row.table, row.type])).toEqual([['j', 'ALL']]);
    await stack.sql.query("DELETE FROM queue_messages WHERE queue = 'plan'");
  });
});
