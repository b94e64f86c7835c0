/** deletePayloadParts: every slice of one message goes, no other message's. */
import { describe, expect, it } from 'vitest';
import { deletePayloadParts } from '../../lib/sql/deletePayloadParts.js';
import { insertPayloadParts } from '../../lib/sql/payloadParts.js';
import { explain, idOf, insertFixtures, statementsOf } from '../support/statements.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

describe('deletePayloadParts', () => {
  it("deletes one message's slices and answers how many, leaving other messages' slices", async () => {
    await insertFixtures(stack, [
      { id: idOf(1), payloadParts: 3, payload: 'null' },
      { id: idOf(2), payloadParts: 1, payload: 'null' },
    ]);
    await insertPayloadParts(stack.db, [
      ...['a', 'b', 'c'].map((data, part) => ({ messageId: idOf(1), part, data })),
      { messageId: idOf(2), part: 0, data: 'z' },
    ]);
    expect(await deletePayloadParts(stack.db, idOf(1))).toBe(3);
    const [rows] = await stack.sql.query('SELECT message_id, part FROM queue_payload_parts ORDER BY message_id, part');
    expect(rows).toEqual([{ message_id: idOf(2), part: 0 }]);
    expect(await deletePayloadParts(stack.db, idOf(1))).toBe(0);
  });

  it('reaches the slices by primary key', async () => {
    const [call] = await statementsOf(stack.db, (db) => deletePayloadParts(db, idOf(2)));
    const plan = await explain(stack.db, call!);
    expect(plan.find((row) => row.table === 'queue_payload_parts')!.key).toBe('PRIMARY');
  });
});
