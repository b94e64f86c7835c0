/** extendHeldLeases and readHeldLeases: a heartbeat for many running messages, and which leases it found gone. */
import { describe, expect, it } from 'vitest';
import type { Db } from '../../lib/db/types.js';
import { extendHeldLeases, EXTEND_HELD_LEASES } from '../../lib/sql/extendHeldLeases.js';
import { readHeldLeases, READ_HELD_LEASES } from '../../lib/sql/readHeldLeases.js';
import { at, explain, expectAccess, idOf, insertBackground, insertFixtures, messages, onceAndResent, statementsOf } from '../support/statements.js';
import { useStack } from '../support/stack.js';

const stack = useStack();
const queue = 'beat';

/** Two held messages (one lease), one of another lease, one taken over since, one finished under its old lease. */
const seed = () =>
  insertFixtures(stack, [
    { id: idOf(1), queue, status: 'running', attempts: 1, leaseToken: 'lease-1', availableAt: at(30_000) },
    { id: idOf(2), queue, status: 'running', attempts: 1, leaseToken: 'lease-1', availableAt: at(30_000) },
    { id: idOf(3), queue, status: 'running', attempts: 1, leaseToken: 'lease-2', availableAt: at(90_000) },
    { id: idOf(4), queue, status: 'running', attempts: 2, leaseToken: 'lease-9', availableAt: at(60_000) },
    { id: idOf(5), queue, status: 'done', attempts: 1, leaseToken: 'lease-1' },
  ]);
const reset = () => stack.sql.query('DELETE FROM queue_messages WHERE queue = ?', [queue]);
const held = [
  { id: idOf(1), leaseToken: 'lease-1' },
  { id: idOf(2), leaseToken: 'lease-1' },
  { id: idOf(3), leaseToken: 'lease-2' },
  { id: idOf(4), leaseToken: 'lease-4' },
  { id: idOf(5), leaseToken: 'lease-1' },
];
const leaseEnds = async () => (await messages(stack, { queue })).map((row) => [row.id, row.status, row.available_at]);

describe('extendHeldLeases', () => {
  it('moves the lease end of every message still held, in one statement, never earlier; counts them; a stale lease or a finished message changes nothing', async () => {
    await reset();
    await seed();
    const db = stack.newDb();
    expect(await extendHeldLeases(db, { held, leaseUntil: at(60_000) })).toBe(3);
    expect(db.stats.calls).toBe(1);
    expect(await leaseEnds()).toEqual([
      [idOf(1), 'running', at(60_000)],
      [idOf(2), 'running', at(60_000)],
      // Its lease already ended later: an extension does not shorten it.
      [idOf(3), 'running', at(90_000)],
      [idOf(4), 'running', at(60_000)],
      [idOf(5), 'done', at(0)],
    ]);
    expect(await extendHeldLeases(db, { held: [], leaseUntil: at(60_000) })).toBe(0);
    expect(db.stats.calls).toBe(1);
  });

  it('leaves the state of one run, and the same count, when re-sent after a lost reply', async () => {
    const { once, resent } = await onceAndResent(stack, {
      seed,
      reset,
      run: (db) => extendHeldLeases(db, { held, leaseUntil: at(45_000) }),
      lost: (sql) => sql === EXTEND_HELD_LEASES,
      state: leaseEnds,
    });
    expect([resent.lost, resent.sent]).toEqual([1, 2]);
    expect(resent.state).toEqual(once.state);
    expect(resent.result).toBe(once.result);
  });

  it('reads the JSON rows, then each message by primary key: no scan of queue_messages', async () => {
    await insertBackground(stack, { from: 700_000 });
    await reset();
    await seed();
    const statements: [(db: Db) => Promise<unknown>, string][] = [
      [(db) => extendHeldLeases(db, { held, leaseUntil: at(60_000) }), EXTEND_HELD_LEASES],
      [(db) => readHeldLeases(db, held), READ_HELD_LEASES],
    ];
    for (const [run, is] of statements) {
      const [call] = (await statementsOf(stack.db, run)).filter((c) => c.sql === is);
      const plan = await explain(stack.db, call!);
      expectAccess(plan, { m: 'PRIMARY' });
      expect(plan.find((row) => row.table === 'm')!.type).toBe('eq_ref');
      expect(plan.findIndex((row) => row.table === 'm')).toBeGreaterThan(0);
    }
  });
});

describe('readHeldLeases', () => {
  it('answers the ids still running under the lease given: the ones missing are lost', async () => {
    await reset();
    await seed();
    expect([...(await readHeldLeases(stack.db, held))].sort()).toEqual([idOf(1), idOf(2), idOf(3)]);
    const db = stack.newDb();
    expect((await readHeldLeases(db, [])).size).toBe(0);
    expect(db.stats.calls).toBe(0);
  });
});
