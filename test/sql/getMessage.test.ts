/** getMessage: one message by id, every field decoded. */
import { describe, expect, it } from 'vitest';
import { getMessage, readMessageResult } from '../../lib/sql/getMessage.js';
import { at, explain, expectAccess, idOf, insertBackground, insertFixtures, statementsOf } from '../support/statements.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

/** Outputs rows: message id, lease token, result text, progress text, progress time. */
async function outputs(rows: [string, string, string | null, string | null, Date | null][]): Promise<void> {
  await stack.sql.query('INSERT INTO queue_message_outputs (message_id, lease_token, result, result_bytes, progress, progress_at, updated_at) VALUES ?', [
    rows.map(([id, lease, result, progress, progressAt]) => [
      id,
      lease,
      result,
      result === null ? null : Buffer.byteLength(result),
      progress,
      progressAt,
      at(0),
    ]),
  ]);
}

describe('getMessage', () => {
  it('reads a message with its fields decoded, and nothing for an unknown id', async () => {
    const [id] = await insertFixtures(stack, [
      {
        id: idOf(1),
        queue: 'get',
        type: 'sms.send',
        payload: '{"to":"+15550100","text":"é😀"}',
        status: 'retrying',
        priority: -5,
        attempts: 2,
        maxAttempts: 7,
        availableAt: at(90_000),
        dedupKey: 'k-😀',
        groupKey: 'g',
        traceContext: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 rojo=1',
        lastError: 'boom',
        updatedAt: at(1_000),
      },
    ]);
    expect(await getMessage(stack.db, id!)).toEqual({
      id,
      queue: 'get',
      type: 'sms.send',
      payload: { to: '+15550100', text: 'é😀' },
      payloadParts: 0,
      status: 'retrying',
      priority: -5,
      attempts: 2,
      maxAttempts: 7,
      availableAt: at(90_000),
      dedupKey: 'k-😀',
      groupKey: 'g',
      traceContext: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 rojo=1',
      lastError: 'boom',
      createdAt: at(0),
      updatedAt: at(1_000),
      finishedAt: null,
      cancelRequested: false,
      outputs: { result: undefined, resultBytes: null, progress: null, progressAt: null },
    });
    expect(await getMessage(stack.db, idOf(2))).toBeUndefined();
  });

  it('reads the outputs in the same call: progress always, the result when it fits beside the payload, else in a second call', async () => {
    const payload = JSON.stringify('x'.repeat(40_000));
    const result = JSON.stringify({ sent: 'y'.repeat(20_000) });
    await insertFixtures(stack, [
      { id: idOf(10), queue: 'get', status: 'done', leaseToken: 'lease-10' },
      { id: idOf(11), queue: 'get', status: 'done', leaseToken: 'lease-11', payload },
      { id: idOf(12), queue: 'get', status: 'running', leaseToken: 'lease-12' },
    ]);
    await outputs([
      [idOf(10), 'lease-10', '{"n":1}', '0.5', at(2_000)],
      [idOf(11), 'lease-11', result, null, null],
      [idOf(12), 'lease-12', null, '{"step":"b"}', at(3_000)],
    ]);
    const small = stack.newDb();
    expect((await getMessage(small, idOf(10)))!.outputs).toEqual({ result: '{"n":1}', resultBytes: 7, progress: '0.5', progressAt: at(2_000) });
    expect(small.stats.calls).toBe(1);
    // 40,000 + 20,000 bytes pass the row's budget: the result comes alone, in a second call.
    const large = stack.newDb();
    expect((await getMessage(large, idOf(11)))!.outputs).toEqual({ result, resultBytes: result.length, progress: null, progressAt: null });
    expect(large.stats.calls).toBe(2);
    const running = stack.newDb();
    expect((await getMessage(running, idOf(12)))!.outputs).toEqual({ result: undefined, resultBytes: null, progress: '{"step":"b"}', progressAt: at(3_000) });
    expect(running.stats.calls).toBe(1);
  });

  it("hides a result written under another lease than the message's own, or while the message is not done", async () => {
    await insertFixtures(stack, [
      { id: idOf(20), queue: 'get', status: 'done', leaseToken: 'lease-b' },
      { id: idOf(21), queue: 'get', status: 'retrying', leaseToken: 'lease-21' },
    ]);
    await outputs([
      [idOf(20), 'lease-a', '"stale"', null, null],
      [idOf(21), 'lease-21', '"early"', null, null],
    ]);
    for (const id of [idOf(20), idOf(21)]) {
      const db = stack.newDb();
      expect((await getMessage(db, id))!.outputs).toMatchObject({ result: undefined, resultBytes: null });
      expect(db.stats.calls).toBe(1);
      expect(await readMessageResult(stack.db, id)).toBeUndefined();
    }
  });

  it("says a running message's cancel is requested only for a request of its current attempt", async () => {
    await insertFixtures(stack, [
      { id: idOf(40), queue: 'get', status: 'running', leaseToken: 'lease-40' },
      { id: idOf(41), queue: 'get', status: 'running', leaseToken: 'lease-41' },
      { id: idOf(42), queue: 'get', status: 'done', leaseToken: 'lease-42' },
      { id: idOf(43), queue: 'get', status: 'running', leaseToken: 'lease-43' },
    ]);
    await stack.sql.query('INSERT INTO queue_cancel_requests (message_id, lease_token, requested_at) VALUES ?', [
      [
        [idOf(40), 'lease-40', at(0)],
        [idOf(41), 'an-earlier-attempt', at(0)],
        [idOf(42), 'lease-42', at(0)],
      ],
    ]);
    const requested = async (n: number) => (await getMessage(stack.db, idOf(n)))!.cancelRequested;
    expect([await requested(40), await requested(41), await requested(42), await requested(43)]).toEqual([true, false, false, false]);
  });

  it('reads one row by primary key, and its outputs and cancel request by theirs', async () => {
    await insertBackground(stack);
    await insertFixtures(stack, [{ id: idOf(30), queue: 'get', status: 'done', leaseToken: 'lease-30' }]);
    await outputs([[idOf(30), 'lease-30', '[1]', '1', at(0)]]);
    const [call] = await statementsOf(stack.db, (db) => getMessage(db, idOf(30)));
    const plan = await explain(stack.db, call!);
    expectAccess(plan, { m: 'PRIMARY', o: 'PRIMARY' });
    expect(plan.map((row) => row.type)).toEqual(['const', 'const', null]); // the cancel request's subquery: impossible for a done message
    // A running message's cancel request is read by its primary key too.
    await insertFixtures(stack, [{ id: idOf(31), queue: 'get', status: 'running', leaseToken: 'lease-31' }]);
    await stack.sql.query('INSERT INTO queue_cancel_requests (message_id, lease_token, requested_at) VALUES (?, ?, ?)', [idOf(31), 'lease-31', at(0)]);
    const [running] = await statementsOf(stack.db, (db) => getMessage(db, idOf(31)));
    expectAccess(await explain(stack.db, running!), { m: 'PRIMARY', o: 'PRIMARY', c: 'PRIMARY' });
    const [read] = await statementsOf(stack.db, (db) => readMessageResult(db, idOf(30)));
    expectAccess(await explain(stack.db, read!), { m: 'PRIMARY', o: 'PRIMARY' });
  });
});
