/** A fair queue's turns: what enqueue gives each message (lib/sql/fairRounds.ts), read back from the table. */
import { describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { ManualClock } from '../../lib/clock.js';
import { enqueue } from '../../lib/enqueue.js';
import { enqueueInTransaction } from '../../lib/index.js';
import { claimFairMessages } from '../../lib/sql/groupLimits.js';
import { FAIR_ROUND_BASES, readFairRoundBases } from '../../lib/sql/fairRounds.js';
import { expectAccess, explain, statementsOf } from '../support/statements.js';
import { appOn, jobType } from '../drain/helpers.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

const T0 = '2026-01-01T00:00:00.000Z';

function fairApp(queue: string, groups: { fair?: boolean; concurrency?: number } = { fair: true }) {
  const clock = new ManualClock(T0);
  const app = appOn(stack, { queues: [{ name: queue, groups }], jobTypes: [jobType('t', async () => {})], clock });
  const send = (...groupKeys: string[]) =>
    enqueue(
      app,
      queue,
      groupKeys.map((groupKey) => ({ type: 't', groupKey, payload: {} })),
    );
  /** One claim in fair order (the one-statement claim); answers how many it leased. */
  const claim = (limit: number) =>
    claimFairMessages(app.db, { queue, limit, leaseToken: randomUUID(), now: clock.now(), leaseUntil: new Date(clock.now().getTime() + 60_000) });
  return { app, clock, send, claim };
}

/** Each message's group and turn, in enqueue order. */
async function turns(queue: string): Promise<string[]> {
  const rows = await stack.db.query('SELECT group_key, fair_round FROM queue_messages WHERE queue = :queue ORDER BY id', { queue });
  return rows.map((row) => `${String(row.group_key)}${row.fair_round === null ? '-' : Number(row.fair_round)}`);
}

describe('fair turns at enqueue', () => {
  it('numbers a batch within each group, and a later enqueue after the group’s last (a new group: after the front’s turn)', async () => {
    const { send } = fairApp('turns-batch');
    await send('a', 'b', 'a', 'a', 'b');
    await send('a', 'c');
    expect(await turns('turns-batch')).toEqual(['a1', 'b1', 'a2', 'a3', 'b2', 'a4', 'c2']);
  });

  it('starts a new group at the front, not behind another group’s backlog', async () => {
    const { send, claim } = fairApp('turns-front');
    await send(...Array(10).fill('big'));
    // Four of the big group's are claimed (in flight): the front is its fifth.
    expect(await claim(4)).toBe(4);
    await send('small', 'small');
    expect((await turns('turns-front')).slice(-2)).toEqual(['small6', 'small7']);
  });

  it('keeps an ungrouped message out of the fair index’s changing columns (its key never changes), and a finished grouped one out of its queue’s range', async () => {
    const clock = new ManualClock(T0);
    const app = appOn(stack, { queues: [{ name: 'plainq' }], jobTypes: [jobType('t', async () => {})], clock });
    await enqueue(app, 'plainq', [{ type: 't', payload: {} }]);
    const { send } = fairApp('turns-key');
    await send('a');
    await stack.db.execute("UPDATE queue_messages SET available_at = available_at + INTERVAL 1 MINUTE WHERE queue IN ('plainq', 'turns-key')");
    const key = async (queue: string) =>
      (await stack.db.query('SELECT group_queue, fair_round, fair_due_at IS NULL AS no_due FROM queue_messages WHERE queue = :queue', { queue }))[0];
    expect(await key('plainq')).toMatchObject({ group_queue: null, fair_round: null, no_due: 1 });
    expect(await key('turns-key')).toMatchObject({ group_queue: 'turns-key', no_due: 0 });
    await stack.db.execute("UPDATE queue_messages SET group_head = NULL, status = 'done', finished_at = available_at WHERE queue = 'turns-key'");
    expect(await key('turns-key')).toMatchObject({ group_queue: null, no_due: 1 });
  });

  it('gives no turns on a queue that is not fair', async () => {
    const { send } = fairApp('turns-unfair', { concurrency: 2 });
    await send('a', 'a');
    expect(await turns('turns-unfair')).toEqual(['a-', 'a-']);
  });

  it('counts a message without a turn (enqueued before migration 014) as turn 0', async () => {
    const { app, clock, send } = fairApp('turns-null');
    await send('a', 'a');
    await stack.db.execute("UPDATE queue_messages SET fair_round = NULL WHERE queue = 'turns-null'");
    expect(await readFairRoundBases(app.db, { queue: 'turns-null', groups: ['a', 'new'], now: clock.now() })).toEqual(
      new Map([
        ['a', 0],
        ['new', 0],
      ]),
    );
  });

  it('gives turns inside a producer’s transaction with a plain read: the claim takes every committed message meanwhile', async () => {
    const { app, send, claim } = fairApp('turns-outbox');
    await send('a', 'b');
    await stack.db.transaction(async (tx) => {
      await enqueueInTransaction(app, tx.transactionId!, 'turns-outbox', [{ type: 't', groupKey: 'a', payload: {} }]);
      expect(await claim(10)).toBe(2);
    });
    expect(await turns('turns-outbox')).toEqual(['a1', 'b1', 'a2']);
  });

  it('reads each group’s last turn and the queue’s front by index, never by a scan of the queue', async () => {
    const { app, clock, send } = fairApp('turns-plan');
    await send('a', 'b', 'a');
    const [call] = await statementsOf(app.db, (db) => readFairRoundBases(db, { queue: 'turns-plan', groups: ['a', 'b'], now: clock.now() }));
    expect(call!.sql).toBe(FAIR_ROUND_BASES);
    expectAccess(await explain(stack.db, call!), { m: 'ix_queue_messages_group', f: 'ix_queue_messages_fair' });
  });
});
