/**
 * queueOverview: what a drain run reads of every queue first and last, in one call: the backlog
 * (live messages, the oldest due one's age), whether one is due now, when the next comes due, and
 * whether retention has work.
 */
import { describe, expect, it } from 'vitest';
import { queueOverview } from '../../lib/sql/queueOverview.js';
import { at, explain, idOf, insertBackground, insertFixtures, statementsOf } from '../support/statements.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

describe('queueOverview', () => {
  it('answers every queue in one call: backlog, due now, next due (still to come), expired history', async () => {
    await insertFixtures(stack, [
      { id: idOf(11), queue: 'o-due', availableAt: at(-20_000) },
      { id: idOf(12), queue: 'o-due', status: 'retrying', availableAt: at(60_000) },
      { id: idOf(13), queue: 'o-later', status: 'retrying', availableAt: at(90_000) },
      { id: idOf(14), queue: 'o-later', status: 'running', leaseToken: 'l', availableAt: at(30_000) },
      { id: idOf(15), queue: 'o-old', status: 'done', availableAt: at(-900_000), finishedAt: at(-86_400_000) },
      { id: idOf(16), queue: 'o-old', status: 'done', availableAt: at(-900_000), finishedAt: at(-1_000) },
      // Dead letters are kept unless the queue sets a cutoff for them: an old one is not expired.
      { id: idOf(17), queue: 'o-dead', status: 'dead', availableAt: at(-900_000), finishedAt: at(-86_400_000) },
    ]);
    const before = at(-3_600_000);
    const db = stack.newDb();
    const overview = await queueOverview(
      db,
      ['o-due', 'o-later', 'o-old', 'o-none', 'o-dead'].map((queue) => ({ queue, before, deadBefore: undefined })),
      at(0),
    );
    expect(db.stats.calls).toBe(1);
    expect(Object.fromEntries(overview)).toEqual({
      // The message due now is the run's to claim; the next one still to come is the retry.
      'o-due': { live: 2, oldestDueAgeSeconds: 20, dueNow: true, nextDueAt: at(60_000), hasExpired: false },
      // A running message's lease end is when it comes due, should its drain never settle it.
      'o-later': { live: 2, oldestDueAgeSeconds: 0, dueNow: false, nextDueAt: at(30_000), hasExpired: false },
      'o-old': { live: 0, oldestDueAgeSeconds: 0, dueNow: false, nextDueAt: undefined, hasExpired: true },
      'o-none': { live: 0, oldestDueAgeSeconds: 0, dueNow: false, nextDueAt: undefined, hasExpired: false },
      'o-dead': { live: 0, oldestDueAgeSeconds: 0, dueNow: false, nextDueAt: undefined, hasExpired: false },
    });
    const withDeadCutoff = await queueOverview(db, [{ queue: 'o-dead', before, deadBefore: at(-3_600_000) }], at(0));
    expect(withDeadCutoff.get('o-dead')?.hasExpired).toBe(true);
    expect(await queueOverview(db, [], at(0))).toEqual(new Map());
    expect(db.stats.calls).toBe(2);
  });

  it('reads only the claim index, each queue its live range and one dive into its history', async () => {
    await insertBackground(stack, { queues: ['ov1', 'ov2'], from: 800_000 });
    const [call] = await statementsOf(stack.db, (db) =>
      queueOverview(
        db,
        ['ov1', 'ov2'].map((queue) => ({ queue, before: at(-3_600_000), deadBefore: undefined })),
        at(0),
      ),
    );
    const plan = await explain(stack.db, call!);
    const reads = plan.filter((row) => row.table === 'queue_messages');
    expect(reads.length).toBe(4);
    expect(
      reads.every((row) => row.key === 'ix_queue_messages_claim' && String(row.Extra).includes('Using index')),
      JSON.stringify(plan),
    ).toBe(true);
  });
});
