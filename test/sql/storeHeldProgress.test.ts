/** storeHeldProgress: a running message's latest progress, under its lease. */
import { describe, expect, it } from 'vitest';
import { getMessage } from '../../lib/sql/getMessage.js';
import { storeHeldProgress, STORE_HELD_PROGRESS } from '../../lib/sql/storeHeldProgress.js';
import { at, explain, expectAccess, idOf, insertBackground, insertFixtures, onceAndResent, statementsOf, tableRows } from '../support/statements.js';
import { useStack } from '../support/stack.js';

const stack = useStack();
const is = (sql: string) => sql === STORE_HELD_PROGRESS;
const seed = () =>
  insertFixtures(stack, [
    { id: idOf(1), queue: 'progress', status: 'running', attempts: 1, leaseToken: 'lease-1', availableAt: at(30_000) },
    { id: idOf(2), queue: 'progress', status: 'running', attempts: 1, leaseToken: 'lease-9', availableAt: at(30_000) },
  ]);
const reset = () => stack.sql.query("DELETE FROM queue_messages WHERE queue = 'progress'");
const progressOf = async (id: string) => (await getMessage(stack.db, id))!.outputs;

describe('storeHeldProgress', () => {
  it('stores the latest value under the lease, replacing the one before; a stale lease stores nothing', async () => {
    await reset();
    await seed();
    const db = stack.newDb();
    expect(await storeHeldProgress(db, { held: { id: idOf(1), leaseToken: 'lease-1' }, progress: '0.25', now: at(1_000) })).toBe(true);
    expect(await storeHeldProgress(db, { held: { id: idOf(1), leaseToken: 'lease-1' }, progress: '{"step":"b"}', now: at(2_000) })).toBe(true);
    expect(db.stats.calls).toBe(2);
    expect(await progressOf(idOf(1))).toMatchObject({ progress: '{"step":"b"}', progressAt: at(2_000) });
    expect(await storeHeldProgress(db, { held: { id: idOf(2), leaseToken: 'lease-2' }, progress: '1', now: at(2_000) })).toBe(false);
    expect(await progressOf(idOf(2))).toMatchObject({ progress: null, progressAt: null });
  });

  it('leaves the state of one run when re-sent after a lost reply', async () => {
    const { once, resent } = await onceAndResent(stack, {
      seed,
      reset,
      run: (db) => storeHeldProgress(db, { held: { id: idOf(1), leaseToken: 'lease-1' }, progress: '0.5', now: at(1_000) }),
      lost: is,
      state: () => tableRows(stack, 'queue_message_outputs', 'message_id'),
    });
    expect([resent.lost, resent.sent]).toEqual([1, 2]);
    expect(resent.state).toEqual(once.state);
    expect([once.result, resent.result]).toEqual([true, true]);
  });

  it('reaches the message by primary key', async () => {
    await insertBackground(stack, { from: 600_000 });
    await reset();
    await seed();
    const [call] = await statementsOf(stack.db, (db) => storeHeldProgress(db, { held: { id: idOf(1), leaseToken: 'lease-1' }, progress: '1', now: at(0) }));
    expectAccess(await explain(stack.db, call!), { m: 'PRIMARY' });
  });
});
