/** A FIFO queue's groups as stats see them: live, with a message in flight, blocked by a retrying head. */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../lib/clock.js';
import { claimMessages } from '../../lib/drain/claim.js';
import { markHeldDone } from '../../lib/sql/markHeldDone.js';
import { deadLetterHeld } from '../../lib/sql/deadLetterHeld.js';
import { groupStats, groupStatsSql } from '../../lib/sql/groupStats.js';
import { rescheduleHeld } from '../../lib/sql/rescheduleHeld.js';
import { appOn, jobType, seed } from '../drain/helpers.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

const T0 = '2026-01-01T00:00:00.000Z';

describe('groupStats', () => {
  it('counts live groups, heads in flight and heads retrying, per queue in the order given', async () => {
    const clock = new ManualClock(T0);
    const app = appOn(stack, {
      queues: [
        { name: 'ledger', fifo: true },
        { name: 'other', fifo: true },
      ],
      jobTypes: [jobType('t', async () => {})],
      clock,
    });
    const ids = await seed(
      app,
      ['a', 'a', 'b', 'c', 'c', 'd', 'e'].map((groupKey) => ({ queue: 'ledger', type: 't', groupKey })),
    );
    await seed(app, [{ queue: 'other', type: 't', groupKey: 'x' }]);
    expect(await groupStats(stack.db, ['ledger'])).toEqual([{ queue: 'ledger', live: 5, inFlight: 0, blocked: 0 }]);

    const { messages } = await claimMessages(app.db, { queue: 'ledger', limit: 100, now: clock.now(), leaseMs: 30_000, fifo: true });
    const head = (id: string) => messages.find((m) => m.id === id)!;
    // a: its head fails and waits for its retry, holding the group (its second message waits too).
    await rescheduleHeld(app.db, {
      retries: [{ id: ids[0]!, leaseToken: head(ids[0]!).leaseToken, availableAt: new Date(clock.now().getTime() + 60_000), error: 'boom' }],
      now: clock.now(),
    });
    // b: its only message is done, so the group is gone. c: its head is dead, and the next one
    // (claimed with it as its follower) leads, in flight.
    await markHeldDone(app.db, { held: [head(ids[2]!)], now: clock.now() });
    await deadLetterHeld(app.db, { dead: [{ id: ids[3]!, leaseToken: head(ids[3]!).leaseToken, error: 'bad' }], now: clock.now() });
    // d and e: still running.

    expect(await groupStats(stack.db, ['other', 'ledger', 'nothing'])).toEqual([
      { queue: 'other', live: 1, inFlight: 0, blocked: 0 },
      { queue: 'ledger', live: 4, inFlight: 3, blocked: 1 },
      { queue: 'nothing', live: 0, inFlight: 0, blocked: 0 },
    ]);
  });

  it('makes no call for no queues', async () => {
    const calls = stack.db.stats.calls;
    expect(await groupStats(stack.db, [])).toEqual([]);
    expect(stack.db.stats.calls).toBe(calls);
  });

  it('finds the heads with one index dive per group (a loose index scan), whatever the backlog and history', async () => {
    // 100 groups of 50 live messages, and as many finished, as the claim's own plan test has.
    const rows = Array.from({ length: 10_000 }, (_, n) => {
      const id = `00000000-0000-7000-8000-${String(n).padStart(12, '0')}`;
      const group = `g${n % 100}`;
      return n < 5_000 ? [id, 'done', group, null, '2026-01-01 00:00:00'] : [id, n < 5_100 ? 'retrying' : 'waiting', group, group, null];
    });
    await stack.sql.query(
      `INSERT INTO queue_messages (id, queue, type, payload, payload_bytes, status, priority, attempts, max_attempts, available_at, created_at, updated_at, group_key, group_head, finished_at)
       SELECT j.id, 'plan', 't', '{}', 2, j.status, 0, 0, 3, NOW(3), NOW(3), NOW(3), j.grp, j.head, j.fin
       FROM JSON_TABLE(?, '$[*]' COLUMNS (id CHAR(36) PATH '$[0]', status VARCHAR(10) PATH '$[1]', grp VARCHAR(128) PATH '$[2]', head VARCHAR(128) PATH '$[3]', fin DATETIME(3) PATH '$[4]')) AS j`,
      [JSON.stringify(rows)],
    );
    await stack.sql.query('ANALYZE TABLE queue_messages');
    for (const queues of [['plan'], ['plan', 'ledger']]) {
      const params = Object.fromEntries(queues.map((queue, i) => [`queue${i}`, queue]));
      const plan = await stack.db.query(
        `EXPLAIN ${groupStatsSql(
          Object.keys(params)
            .map((name) => `:${name}`)
            .join(', '),
        )}`,
        params,
      );
      const heads = plan.find((row) => row.key === 'ix_queue_messages_group')!;
      expect(String(heads.Extra), queues.join(',')).toMatch(/Using index for group-by/);
    }
    expect(await groupStats(stack.db, ['plan'])).toEqual([{ queue: 'plan', live: 100, inFlight: 0, blocked: 100 }]);
  });
});
