/** requestCancel and readCancelRequests: a cancel asked for a running message, found by the drain that holds it. */
import { describe, expect, it } from 'vitest';
import { readCancelRequests, READ_CANCEL_REQUESTS } from '../../lib/sql/readCancelRequests.js';
import { requestCancel, REQUEST_CANCEL } from '../../lib/sql/requestCancel.js';
import { at, explain, expectAccess, idOf, insertBackground, insertFixtures, onceAndResent, statementsOf, tableRows } from '../support/statements.js';
import { useStack } from '../support/stack.js';

const stack = useStack();
const STATUSES = ['waiting', 'retrying', 'running', 'done', 'dead', 'cancelled'] as const;

async function seed(queue: string, base: number) {
  await stack.sql.query('DELETE FROM queue_messages WHERE queue = ?', [queue]);
  return insertFixtures(
    stack,
    STATUSES.map((status, n) => ({ id: idOf(base + n), queue, status, leaseToken: status === 'running' ? `lease-${base}` : null })),
  );
}
const requests = async (from: number) =>
  (await tableRows(stack, 'queue_cancel_requests', 'message_id')).filter(
    (row) => String(row.message_id) >= idOf(from) && String(row.message_id) < idOf(from + 100),
  );

describe('requestCancel', () => {
  it('records a request under the lease of a running message, and nothing for any other status or an unknown id', async () => {
    const ids = await seed('request', 0);
    const answers = [];
    for (const id of ids) answers.push(await requestCancel(stack.db, id, at(1_000)));
    expect(answers).toEqual([false, false, true, false, false, false]);
    expect(await requestCancel(stack.db, idOf(99_999), at(1_000))).toBe(false);
    expect(await requests(0)).toEqual([{ message_id: idOf(2), lease_token: 'lease-0', requested_at: at(1_000) }]);
    // Asked again: still true, still one request.
    expect(await requestCancel(stack.db, idOf(2), at(2_000))).toBe(true);
    expect((await requests(0)).length).toBe(1);
  });

  it('leaves the state of one run, and the same answer, when re-sent after a lost reply', async () => {
    const { once, resent } = await onceAndResent(stack, {
      seed: () => seed('resend', 100),
      reset: () => stack.sql.query('DELETE FROM queue_cancel_requests WHERE message_id = ?', [idOf(102)]),
      run: (db) => requestCancel(db, idOf(102), at(1_000)),
      lost: (sql) => sql === REQUEST_CANCEL,
      state: () => requests(100),
    });
    expect([resent.lost, resent.sent]).toEqual([1, 2]);
    expect(resent.state).toEqual(once.state);
    expect(resent.result).toBe(true);
  });

  it('is deleted with its message', async () => {
    await seed('cascade', 200);
    expect(await requestCancel(stack.db, idOf(202), at(1_000))).toBe(true);
    await stack.sql.query('DELETE FROM queue_messages WHERE id = ?', [idOf(202)]);
    expect(await requests(200)).toEqual([]);
  });
});

describe('readCancelRequests', () => {
  it('answers the held messages with a request under their own lease, not one made for an earlier attempt', async () => {
    await seed('read', 300);
    await insertFixtures(stack, [{ id: idOf(310), queue: 'read', status: 'running', leaseToken: 'lease-old' }]);
    expect(await requestCancel(stack.db, idOf(302), at(1_000))).toBe(true);
    expect(await requestCancel(stack.db, idOf(310), at(1_000))).toBe(true);
    // idOf(310) was claimed again since: its request was for the attempt before.
    const held = [
      { id: idOf(302), leaseToken: 'lease-300' },
      { id: idOf(310), leaseToken: 'lease-new' },
      { id: idOf(300), leaseToken: 'lease-300' },
    ];
    expect([...(await readCancelRequests(stack.db, held))]).toEqual([idOf(302)]);
    const db = stack.newDb();
    expect((await readCancelRequests(db, [])).size).toBe(0);
    expect(db.stats.calls).toBe(0);
  });

  it('reads the JSON rows, then each request by primary key; the request reads its message by primary key', async () => {
    await insertBackground(stack, { from: 600_000 });
    await seed('plan', 400);
    await requestCancel(stack.db, idOf(402), at(1_000));
    const [read] = (await statementsOf(stack.db, (db) => readCancelRequests(db, [{ id: idOf(402), leaseToken: 'lease-400' }]))).filter(
      (c) => c.sql === READ_CANCEL_REQUESTS,
    );
    const plan = await explain(stack.db, read!);
    expectAccess(plan, { r: 'PRIMARY' });
    expect(plan.findIndex((row) => row.table === 'r')).toBeGreaterThan(0);
    const [request] = (await statementsOf(stack.db, (db) => requestCancel(db, idOf(402), at(2_000)))).filter((c) => c.sql === REQUEST_CANCEL);
    expectAccess(await explain(stack.db, request!), { m: 'PRIMARY' });
  });
});
