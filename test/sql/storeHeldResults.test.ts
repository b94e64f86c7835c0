/** storeHeldResults: results stored under the lease the drain still holds, before the mark done. */
import { describe, expect, it } from 'vitest';
import { storeHeldResults, STORE_HELD_RESULTS } from '../../lib/sql/storeHeldResults.js';
import { getMessage } from '../../lib/sql/getMessage.js';
import { markHeldDone } from '../../lib/sql/markHeldDone.js';
import { at, explain, expectAccess, idOf, insertBackground, insertFixtures, onceAndResent, statementsOf, tableRows } from '../support/statements.js';
import { useStack } from '../support/stack.js';

const stack = useStack();
const now = at(5_000);
const is = (sql: string) => sql === STORE_HELD_RESULTS;

const seed = () =>
  insertFixtures(stack, [
    { id: idOf(1), queue: 'results', status: 'running', attempts: 1, leaseToken: 'lease-1', availableAt: at(30_000) },
    { id: idOf(2), queue: 'results', status: 'running', attempts: 1, leaseToken: 'lease-1', availableAt: at(30_000) },
    // Claimed again by another drain since: its token is lease-9 now.
    { id: idOf(3), queue: 'results', status: 'running', attempts: 2, leaseToken: 'lease-9', availableAt: at(30_000) },
  ]);
const reset = () => stack.sql.query("DELETE FROM queue_messages WHERE queue = 'results'");
const held = [
  { id: idOf(1), leaseToken: 'lease-1', result: '{"sid":"é😀"}' },
  { id: idOf(2), leaseToken: 'lease-1', result: '42' },
  { id: idOf(3), leaseToken: 'lease-3', result: '"stale"' },
];
const outputs = async () =>
  (await tableRows(stack, 'queue_message_outputs', 'message_id')).map((row) => ({
    id: row.message_id,
    lease: row.lease_token,
    result: row.result,
    bytes: row.result_bytes,
  }));

describe('storeHeldResults', () => {
  it("stores the held messages' results with their lease in one call; a stale lease stores nothing", async () => {
    await reset();
    await seed();
    const db = stack.newDb();
    expect(await storeHeldResults(db, { held, now })).toBe(2);
    expect(db.stats.calls).toBe(1);
    expect(await outputs()).toEqual([
      { id: idOf(1), lease: 'lease-1', result: '{"sid":"é😀"}', bytes: 16 },
      { id: idOf(2), lease: 'lease-1', result: '42', bytes: 2 },
    ]);
    const none = stack.newDb();
    expect(await storeHeldResults(none, { held: [], now })).toBe(0);
    expect(none.stats.calls).toBe(0);
  });

  it('replaces the result a lost lease left: the run that completes the message shows its own, and one with none shows none', async () => {
    await reset();
    await seed();
    // Drain A stores its result, then loses the lease before its mark: drain B claims the message again.
    await storeHeldResults(stack.db, { held: [{ id: idOf(1), leaseToken: 'lease-1', result: '"from A"' }], now });
    await stack.sql.query("UPDATE queue_messages SET lease_token = 'lease-b' WHERE id = ?", [idOf(1)]);
    expect(await markHeldDone(stack.db, { held: [{ id: idOf(1), leaseToken: 'lease-1' }], now })).toBe(0);
    // B completes it with no result: A's stays stored, and hidden.
    expect(await markHeldDone(stack.db, { held: [{ id: idOf(1), leaseToken: 'lease-b' }], now })).toBe(1);
    expect((await getMessage(stack.db, idOf(1)))!.outputs.result).toBeUndefined();
    // A message completed by B with a result shows B's, over A's.
    await storeHeldResults(stack.db, { held: [{ id: idOf(2), leaseToken: 'lease-1', result: '"from A"' }], now });
    await stack.sql.query("UPDATE queue_messages SET lease_token = 'lease-b' WHERE id = ?", [idOf(2)]);
    expect(await storeHeldResults(stack.db, { held: [{ id: idOf(2), leaseToken: 'lease-b', result: '"from B"' }], now })).toBe(2);
    expect(await markHeldDone(stack.db, { held: [{ id: idOf(2), leaseToken: 'lease-b' }], now })).toBe(1);
    expect((await getMessage(stack.db, idOf(2)))!.outputs.result).toBe('"from B"');
    // A's late store after B's mark matches nothing: its token is not the message's.
    expect(await storeHeldResults(stack.db, { held: [{ id: idOf(2), leaseToken: 'lease-1', result: '"late A"' }], now })).toBe(0);
    expect((await getMessage(stack.db, idOf(2)))!.outputs.result).toBe('"from B"');
  });

  it('matches a done message of its own lease again: a settle retried after its mark landed', async () => {
    await reset();
    await seed();
    await markHeldDone(stack.db, { held: [{ id: idOf(1), leaseToken: 'lease-1' }], now });
    expect(await storeHeldResults(stack.db, { held: [held[0]!], now })).toBe(1);
    expect((await getMessage(stack.db, idOf(1)))!.outputs.result).toBe('{"sid":"é😀"}');
  });

  it('leaves the state of one run when re-sent after a lost reply', async () => {
    const { once, resent } = await onceAndResent(stack, {
      seed,
      reset,
      run: (db) => storeHeldResults(db, { held, now }),
      lost: is,
      state: outputs,
    });
    expect([resent.lost, resent.sent]).toEqual([1, 2]);
    expect(resent.state).toEqual(once.state);
    // A re-send matches its own rows again (an unchanged upsert, counted as matched by the local server).
    expect([once.result, resent.result]).toEqual([2, 2]);
  });

  it('goes with its message: deleting a message (retention, a purge) deletes its outputs', async () => {
    await reset();
    await seed();
    await storeHeldResults(stack.db, { held, now });
    await stack.sql.query('DELETE FROM queue_messages WHERE id = ?', [idOf(1)]);
    expect((await outputs()).map((row) => row.id)).toEqual([idOf(2)]);
  });

  it('reads the JSON rows, then each message by primary key: no scan of queue_messages', async () => {
    await insertBackground(stack, { from: 700_000 });
    await reset();
    await seed();
    const [call] = (await statementsOf(stack.db, (db) => storeHeldResults(db, { held, now }))).filter((c) => is(c.sql));
    const plan = await explain(stack.db, call!);
    expectAccess(plan, { m: 'PRIMARY' });
    expect(plan.find((row) => row.table === 'm')!.type).toBe('eq_ref');
    expect(plan.findIndex((row) => row.table === 'm')).toBeGreaterThan(0);
  });
});
