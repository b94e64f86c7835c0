/** queueThroughput: done, retried and dead messages per queue and minute, from what the rows say now. */
import { describe, expect, it } from 'vitest';
import { queueThroughput } from '../../lib/sql/queueThroughput.js';
import { at, explain, expectAccess, idOf, insertBackground, insertFixtures, statementsOf } from '../support/statements.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

const MINUTE = 60_000;

describe('queueThroughput', () => {
  it('counts finished messages by the minute they finished, and retrying ones by the minute of their last failure', async () => {
    await insertFixtures(stack, [
      { id: idOf(1), queue: 't', status: 'done', finishedAt: at(10_000) },
      { id: idOf(2), queue: 't', status: 'done', finishedAt: at(59_999) },
      { id: idOf(3), queue: 't', status: 'dead', finishedAt: at(MINUTE) },
      { id: idOf(4), queue: 't', status: 'cancelled', finishedAt: at(MINUTE) }, // neither done nor dead
      { id: idOf(5), queue: 't', status: 'retrying', updatedAt: at(2 * MINUTE + 1), availableAt: at(3 * MINUTE) },
      { id: idOf(6), queue: 't', status: 'retrying', updatedAt: at(-1), availableAt: at(MINUTE) }, // failed before the window
      { id: idOf(7), queue: 't', status: 'done', finishedAt: at(-1) }, // before the window
      { id: idOf(8), queue: 't', status: 'done', finishedAt: at(3 * MINUTE) }, // at its end
      { id: idOf(9), queue: 'u', status: 'done', finishedAt: at(0) },
      { id: idOf(10), queue: 'v', status: 'done', finishedAt: at(0) },
    ]);
    const rows = await queueThroughput(stack.db, { queues: ['t', 'u'], since: at(0), until: at(3 * MINUTE) });
    const sorted = rows.sort((a, b) => a.queue.localeCompare(b.queue) || a.minute - b.minute || a.retried - b.retried);
    expect(sorted).toEqual([
      { queue: 't', minute: 0, done: 2, retried: 0, dead: 0 },
      { queue: 't', minute: 1, done: 0, retried: 0, dead: 1 },
      { queue: 't', minute: 2, done: 0, retried: 1, dead: 0 },
      { queue: 'u', minute: 0, done: 1, retried: 0, dead: 0 },
    ]);
    // A caller holding the earlier minutes reads the finished ones from later only.
    const later = await queueThroughput(stack.db, { queues: ['t'], since: at(0), finishedSince: at(MINUTE), until: at(3 * MINUTE) });
    expect(later.sort((a, b) => a.minute - b.minute)).toEqual([
      { queue: 't', minute: 1, done: 0, retried: 0, dead: 1 },
      { queue: 't', minute: 2, done: 0, retried: 1, dead: 0 },
    ]);
    const db = stack.newDb();
    expect(await queueThroughput(db, { queues: [], since: at(0), until: at(MINUTE) })).toEqual([]);
    expect(db.stats.calls).toBe(0);
  });

  it("reads each queue's window of finished rows and its live retrying rows through the claim index", async () => {
    await insertBackground(stack);
    const [call] = await statementsOf(stack.db, (db) => queueThroughput(db, { queues: ['bg1', 'bg2'], since: at(-60 * MINUTE), until: at(0) }));
    const plan = await explain(stack.db, call!);
    expectAccess(plan, { m: ['ix_queue_messages_claim', 'ix_queue_messages_claim'] });
    expect(plan.filter((row) => row.table === 'm').map((row) => row.type)).toEqual(['range', 'range']);
  });
});
