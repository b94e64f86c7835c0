/** readClaimedMessages: a claim's messages, by its lease token, in id order and pages cut by their worst-case size. */
import { describe, expect, it } from 'vitest';
import { readClaimedMessages, READ_CLAIMED_MESSAGES, READ_CLAIMED_WITH_GROUP_NEXT } from '../../lib/sql/readClaimedMessages.js';
import { JSON_RECORDS_ROW_BYTES_PARAMS, RESPONSE_PAGE_BYTES, ROW_OVERHEAD_BYTES } from '../../lib/sql/responseBytes.js';
import { explain, expectAccess, idOf, insertBackground, insertFixtures, onceAndResent, statementsOf } from '../support/statements.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

describe('readClaimedMessages', () => {
  it("reads the claim's running messages only, in id order, with their fields", async () => {
    await insertFixtures(stack, [
      { id: idOf(3), queue: 'read', status: 'running', leaseToken: 'a', attempts: 2, maxAttempts: 5, priority: 4, payload: '{"n":3}' },
      {
        id: idOf(1),
        queue: 'read',
        status: 'running',
        leaseToken: 'a',
        attempts: 1,
        groupKey: 'g',
        payload: '[1,"é"]',
        traceContext: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 rojo=1',
      },
      { id: idOf(2), queue: 'read', status: 'running', leaseToken: 'b' },
      { id: idOf(4), queue: 'read', status: 'done', leaseToken: 'a' }, // settled since
      { id: idOf(5), queue: 'read', status: 'retrying', leaseToken: 'a' },
    ]);
    expect(await readClaimedMessages(stack.db, { leaseToken: 'a', maxBytes: RESPONSE_PAGE_BYTES })).toEqual([
      {
        id: idOf(1),
        queue: 'read',
        type: 't',
        payload: [1, 'é'],
        attempts: 1,
        maxAttempts: 3,
        priority: 0,
        payloadParts: 0,
        groupKey: 'g',
        traceContext: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 rojo=1',
      },
      {
        id: idOf(3),
        queue: 'read',
        type: 't',
        payload: { n: 3 },
        attempts: 2,
        maxAttempts: 5,
        priority: 4,
        payloadParts: 0,
        groupKey: null,
        traceContext: null,
      },
    ]);
    expect(await readClaimedMessages(stack.db, { leaseToken: 'nobody', maxBytes: RESPONSE_PAGE_BYTES })).toEqual([]);
  });

  it("cuts pages by the rows' worst case in the response (at least one a page), and pages on after an id", async () => {
    const payload = `"${'x'.repeat(998)}"`; // 1,000 bytes: 4,000 at worst as JSON records, and 1 KiB for the row
    const rowBytes = payload.length * JSON_RECORDS_ROW_BYTES_PARAMS.payloadFactor + ROW_OVERHEAD_BYTES;
    await insertFixtures(
      stack,
      Array.from({ length: 5 }, (_, n) => ({ id: idOf(10 + n), queue: 'pages', status: 'running' as const, leaseToken: 'p', payload })),
    );
    const page = (maxBytes: number, afterId?: string) => readClaimedMessages(stack.db, { leaseToken: 'p', maxBytes, afterId });
    const ids = async (maxBytes: number, afterId?: string) => (await page(maxBytes, afterId)).map((m) => m.id);
    expect(await ids(rowBytes * 2)).toEqual([idOf(10), idOf(11)]);
    expect(await ids(rowBytes * 2 - 1)).toEqual([idOf(10)]);
    expect(await ids(1)).toEqual([idOf(10)]);
    expect(await ids(rowBytes * 2, idOf(11))).toEqual([idOf(12), idOf(13)]);
    expect(await ids(rowBytes * 10, idOf(13))).toEqual([idOf(14)]);
    expect(await ids(rowBytes * 10, idOf(14))).toEqual([]);
  });

  it("reads each message's next two unfinished messages of its group when asked", async () => {
    await insertFixtures(stack, [
      { id: idOf(20), queue: 'groups', groupKey: 'g', status: 'done' },
      { id: idOf(21), queue: 'groups', groupKey: 'g', status: 'running', leaseToken: 'g' },
      { id: idOf(22), queue: 'groups', groupKey: 'h', status: 'running', leaseToken: 'g' },
      { id: idOf(23), queue: 'groups', groupKey: 'g' },
      { id: idOf(24), queue: 'groups', groupKey: 'g', status: 'cancelled' },
      { id: idOf(25), queue: 'groups', groupKey: 'g', status: 'retrying' },
      { id: idOf(26), queue: 'groups', groupKey: 'g' },
      { id: idOf(27), queue: 'groups', groupKey: 'h' },
    ]);
    const read = await readClaimedMessages(stack.db, { leaseToken: 'g', maxBytes: RESPONSE_PAGE_BYTES, groupNext: true });
    expect(read.map((m) => [m.id, m.nextInGroup])).toEqual([
      [idOf(21), [idOf(23), idOf(25)]],
      [idOf(22), [idOf(27), null]],
    ]);
  });

  it('reads the same messages when re-sent after a lost reply', async () => {
    await insertFixtures(stack, [{ id: idOf(30), queue: 'resend', status: 'running', leaseToken: 'r' }]);
    const { once, resent } = await onceAndResent(stack, {
      seed: async () => {},
      reset: async () => {},
      run: (db) => readClaimedMessages(db, { leaseToken: 'r', maxBytes: RESPONSE_PAGE_BYTES }),
      lost: (sql) => sql === READ_CLAIMED_MESSAGES,
      state: async () => {},
    });
    expect([resent.lost, resent.sent]).toEqual([1, 2]);
    expect(resent.result).toEqual(once.result);
    expect(once.result.map((m) => m.id)).toEqual([idOf(30)]);
  });

  it("finds the claim's rows through the lease index, then each by primary key, and a group's next ones in the group index", async () => {
    await insertBackground(stack);
    const [plain] = await statementsOf(stack.db, (db) => readClaimedMessages(db, { leaseToken: 'lease-bg1-3', maxBytes: RESPONSE_PAGE_BYTES }));
    expect(plain!.sql).toBe(READ_CLAIMED_MESSAGES);
    expectAccess(await explain(stack.db, plain!), { queue_messages: 'ix_queue_messages_lease', m: 'PRIMARY' });
    const [grouped] = await statementsOf(stack.db, (db) =>
      readClaimedMessages(db, { leaseToken: 'lease-bg1-3', maxBytes: RESPONSE_PAGE_BYTES, groupNext: true }),
    );
    expect(grouped!.sql).toBe(READ_CLAIMED_WITH_GROUP_NEXT);
    expectAccess(await explain(stack.db, grouped!), {
      queue_messages: 'ix_queue_messages_lease',
      m: 'PRIMARY',
      n: ['ix_queue_messages_group', 'ix_queue_messages_group'],
    });
  });
});
