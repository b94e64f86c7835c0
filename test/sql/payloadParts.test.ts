/** payloadParts: a large payload's slices, stored in one statement and read back in pages by their worst-case size. */
import { describe, expect, it } from 'vitest';
import { DataApiUnavailableError } from '../../lib/db/errors.js';
import { insertPayloadParts, readPayloadText } from '../../lib/sql/payloadParts.js';
import { RESPONSE_PAGE_BYTES } from '../../lib/sql/responseBytes.js';
import { explain, expectAccess, idOf, insertBackground, insertFixtures, onceAndResent, statementsOf } from '../support/statements.js';
import { lostReplyDb } from '../support/lostReply.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

const isInsert = (sql: string) => sql.includes('INSERT INTO queue_payload_parts');
const isRead = (sql: string) => sql.includes('FROM queue_payload_parts');

/** A message whose payload is `slices`, stored in its parts. */
async function sliced(n: number, slices: readonly string[]): Promise<string> {
  const [id] = await insertFixtures(stack, [{ id: idOf(n), queue: 'parts', payloadParts: slices.length }]);
  await insertPayloadParts(
    stack.db,
    slices.map((data, part) => ({ messageId: id!, part, data })),
  );
  return id!;
}

describe('payloadParts', () => {
  it('reassembles the slices in order, in as many pages as their worst case in the response needs', async () => {
    const slices = ['{"text":"', 'é'.repeat(10_000), '😀'.repeat(5_000), '中"}'];
    const id = await sliced(1, slices);
    const db = stack.newDb();
    expect(await readPayloadText(db, id, RESPONSE_PAGE_BYTES)).toBe(slices.join(''));
    expect(db.stats.calls).toBe(2); // one page, and the empty one that ends it
    // A budget smaller than any slice still reads one slice a page.
    const small = stack.newDb();
    expect(await readPayloadText(small, id, 1)).toBe(slices.join(''));
    expect(small.stats.calls).toBe(slices.length + 1);
    expect(await readPayloadText(stack.db, idOf(2), RESPONSE_PAGE_BYTES)).toBe('');
  });

  it("stores one message's slices, or several messages', in one call, and makes none for no slices", async () => {
    const db = stack.newDb();
    await insertFixtures(stack, [
      { id: idOf(10), queue: 'parts' },
      { id: idOf(11), queue: 'parts' },
    ]);
    await insertPayloadParts(db, [
      { messageId: idOf(10), part: 0, data: '[1,' },
      { messageId: idOf(11), part: 0, data: '"a' },
      { messageId: idOf(10), part: 1, data: '2]' },
      { messageId: idOf(11), part: 1, data: 'b"' },
    ]);
    await insertPayloadParts(db, []);
    expect(db.stats.calls).toBe(1);
    expect([await readPayloadText(stack.db, idOf(10), RESPONSE_PAGE_BYTES), await readPayloadText(stack.db, idOf(11), RESPONSE_PAGE_BYTES)]).toEqual([
      '[1,2]',
      '"ab"',
    ]);
  });

  it('is not re-sent after a lost reply: a second run would fail on the slices the first stored', async () => {
    await insertFixtures(stack, [{ id: idOf(20), queue: 'parts' }]);
    const lost = lostReplyDb(stack, { when: isInsert });
    await expect(insertPayloadParts(lost.db, [{ messageId: idOf(20), part: 0, data: '{}' }])).rejects.toBeInstanceOf(DataApiUnavailableError);
    expect([lost.lost(), lost.sent()]).toEqual([1, 1]);
    expect(await readPayloadText(stack.db, idOf(20), RESPONSE_PAGE_BYTES)).toBe('{}');
  });

  it('reads the same page when re-sent after a lost reply', async () => {
    const id = await sliced(25, ['"a', 'b"']);
    const { once, resent } = await onceAndResent(stack, {
      seed: async () => {},
      reset: async () => {},
      run: (db) => readPayloadText(db, id, RESPONSE_PAGE_BYTES),
      lost: isRead,
      state: async () => {},
    });
    expect([resent.lost, resent.sent]).toEqual([1, 3]);
    expect([once.result, resent.result]).toEqual(['"ab"', '"ab"']);
  });

  it("reads one message's slices by primary key, and nothing of queue_messages", async () => {
    await insertBackground(stack);
    await sliced(
      30,
      Array.from({ length: 50 }, (_, n) => `"${n}"`),
    );
    await stack.sql.query('ANALYZE TABLE queue_payload_parts');
    const [read] = (await statementsOf(stack.db, (db) => readPayloadText(db, idOf(30), RESPONSE_PAGE_BYTES))).filter((call) => isRead(call.sql));
    const plan = await explain(stack.db, read!);
    expectAccess(plan, { queue_payload_parts: 'PRIMARY', p: 'PRIMARY' });
    expect(plan.find((row) => row.table === 'p')!.type).toBe('eq_ref');
  });
});
