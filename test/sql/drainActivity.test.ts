/** drainActivity: each queue's wake state: who wakes a drain, and a drain run's promise to poll. */
import { beforeEach, describe, expect, it } from 'vitest';
import { DataApiUnavailableError } from '../../lib/db/errors.js';
import { claimWake, ensureQueueStates, extendDrainActivity, readWakeState, withdrawDrainActivity } from '../../lib/sql/drainActivity.js';
import { at, explain, expectAccess, onceAndResent, statementsOf, tableRows, T0 } from '../support/statements.js';
import { lostReplyDb } from '../support/lostReply.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

const state = async () => (await tableRows(stack, 'queue_state', 'queue')).map((row) => [row.queue, row.drain_active_until, row.woken_at, row.paused_at]);
const wake = (queue: string, now: number, db = stack.db) => claimWake(db, { queue, now: at(now), activeBefore: at(now + 1_000), wokenBefore: at(now - 1_000) });

describe('drainActivity', () => {
  beforeEach(() => stack.sql.query('DELETE FROM queue_state'));

  it("adds each queue's row once, keeping the rows there, and makes no call for no queues", async () => {
    await stack.sql.query("INSERT INTO queue_state (queue, paused_at, updated_at, woken_at) VALUES ('a', ?, ?, ?)", [T0, T0, T0]);
    await ensureQueueStates(stack.db, ['a', 'b', 'c'], at(1_000));
    await ensureQueueStates(stack.db, ['b', 'c', 'd'], at(2_000));
    expect(await state()).toEqual([
      ['a', null, T0, T0],
      ['b', null, null, null],
      ['c', null, null, null],
      ['d', null, null, null],
    ]);
    const db = stack.newDb();
    await ensureQueueStates(db, [], T0);
    expect(db.stats.calls).toBe(0);
  });

  it('lets one caller a second take the wake, none while a drain promises to poll, and none without a row', async () => {
    await ensureQueueStates(stack.db, ['w'], T0);
    const racers = await Promise.all(Array.from({ length: 5 }, () => wake('w', 0, stack.newDb())));
    expect(racers.filter(Boolean)).toHaveLength(1);
    expect(await wake('w', 999)).toBe(false);
    expect(await wake('w', 1_001)).toBe(true);
    await extendDrainActivity(stack.db, { queue: 'w', until: at(10_000), now: at(2_000) });
    expect(await wake('w', 5_000)).toBe(false);
    expect(await wake('w', 9_001)).toBe(true);
    expect(await wake('nowhere', 0)).toBe(false);
    expect(await readWakeState(stack.db, 'w')).toEqual({ drainActiveUntil: at(10_000), wokenAt: at(9_001) });
    expect(await readWakeState(stack.db, 'nowhere')).toBeUndefined();
  });

  it('extends a promise, never shortens it, and withdraws only the promise it made', async () => {
    await extendDrainActivity(stack.db, { queue: 'p', until: at(5_000), now: T0 });
    await extendDrainActivity(stack.db, { queue: 'p', until: at(3_000), now: T0 });
    expect((await readWakeState(stack.db, 'p'))!.drainActiveUntil).toEqual(at(5_000));
    await withdrawDrainActivity(stack.db, { queue: 'p', until: at(3_000), now: at(1_000) });
    expect((await readWakeState(stack.db, 'p'))!.drainActiveUntil).toEqual(at(5_000));
    await withdrawDrainActivity(stack.db, { queue: 'p', until: at(5_000), now: at(1_000) });
    expect((await readWakeState(stack.db, 'p'))!.drainActiveUntil).toEqual(at(1_000));
  });

  it('re-sends the row adds, the promise and its withdrawal after a lost reply, leaving the state of one run', async () => {
    const run = async (db: typeof stack.db) => {
      await ensureQueueStates(db, ['x', 'y'], T0);
      await extendDrainActivity(db, { queue: 'x', until: at(5_000), now: T0 });
      await withdrawDrainActivity(db, { queue: 'x', until: at(5_000), now: at(1_000) });
    };
    for (const lost of ['INSERT INTO queue_state (queue, updated_at)', 'drain_active_until = GREATEST', 'SET drain_active_until = :now']) {
      const { once, resent } = await onceAndResent(stack, {
        seed: async () => {},
        reset: () => stack.sql.query('DELETE FROM queue_state'),
        run,
        lost: (sql) => sql.includes(lost),
        state,
      });
      expect([lost, resent.lost, resent.sent]).toEqual([lost, 1, 2]);
      expect(resent.state).toEqual(once.state);
    }
  });

  it('does not re-send a wake after a lost reply: a second run could win it twice, so the caller sees the failure', async () => {
    await ensureQueueStates(stack.db, ['lost'], T0);
    const lost = lostReplyDb(stack, { when: (sql) => sql.includes('SET woken_at = :now') });
    await expect(wake('lost', 0, lost.db)).rejects.toBeInstanceOf(DataApiUnavailableError);
    expect([lost.lost(), lost.sent()]).toEqual([1, 1]);
    // It ran: the wake is taken for this second.
    expect(await wake('lost', 500)).toBe(false);
  });

  // The inserts are INSERT … VALUES (or from the JSON list) on the primary key: nothing to read.
  it('reads and updates one row by primary key', async () => {
    await ensureQueueStates(stack.db, ['plan', 'other'], T0);
    const calls = await statementsOf(stack.db, async (db) => {
      await readWakeState(db, 'plan');
      await wake('plan', 0, db);
      await extendDrainActivity(db, { queue: 'plan', until: at(1), now: T0 });
      await withdrawDrainActivity(db, { queue: 'plan', until: at(1), now: T0 });
    });
    for (const call of calls.filter((c) => !c.sql.trim().startsWith('INSERT'))) {
      const plan = await explain(stack.db, call);
      expectAccess(plan, { queue_state: 'PRIMARY' });
    }
  });
});
