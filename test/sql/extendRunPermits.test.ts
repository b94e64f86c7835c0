/** extendRunPermits: a heartbeat keeps the run permits of the claims it keeps. */
import { describe, expect, it } from 'vitest';
import { extendRunPermits, EXTEND_RUN_PERMITS } from '../../lib/sql/extendRunPermits.js';
import { at, explain, onceAndResent, statementsOf, tableRows } from '../support/statements.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

async function seed(queue: string) {
  await stack.sql.query('DELETE FROM queue_permits WHERE queue = ?', [queue]);
  await stack.sql.query(
    `INSERT INTO queue_permits (queue, kind, slot, free_at, held_by) VALUES
       (?, 'run', 0, ?, 'lease-a'), (?, 'run', 1, ?, 'lease-a'), (?, 'run', 2, ?, 'lease-b'),
       (?, 'run', 3, ?, NULL), (?, 'rate', 0, ?, 'lease-a'), (?, 'run', 4, ?, 'lease-z')`,
    [queue, at(30_000), queue, at(30_000), queue, at(90_000), queue, at(0), queue, at(30_000), queue, at(30_000)],
  );
}
const permits = async (queue: string) =>
  (await tableRows(stack, 'queue_permits', 'queue, kind, slot'))
    .filter((row) => row.queue === queue)
    .map((row) => [row.kind, row.slot, row.free_at, row.held_by]);

describe('extendRunPermits', () => {
  it("moves the free time of the claims' run permits, never earlier, and nothing else; counts them", async () => {
    await seed('runs');
    const db = stack.newDb();
    expect(await extendRunPermits(db, { queue: 'runs', leaseTokens: ['lease-a', 'lease-a', 'lease-b'], freeAt: at(60_000) })).toBe(3);
    expect(db.stats.calls).toBe(1);
    expect(await permits('runs')).toEqual([
      ['rate', 0, at(30_000), 'lease-a'],
      ['run', 0, at(60_000), 'lease-a'],
      ['run', 1, at(60_000), 'lease-a'],
      ['run', 2, at(90_000), 'lease-b'],
      ['run', 3, at(0), null],
      ['run', 4, at(30_000), 'lease-z'],
    ]);
    expect(await extendRunPermits(db, { queue: 'runs', leaseTokens: [], freeAt: at(60_000) })).toBe(0);
    expect(db.stats.calls).toBe(1);
  });

  it('leaves the state of one run, and the same count, when re-sent after a lost reply', async () => {
    const { once, resent } = await onceAndResent(stack, {
      seed: () => seed('resend'),
      reset: async () => {},
      run: (db) => extendRunPermits(db, { queue: 'resend', leaseTokens: ['lease-a'], freeAt: at(60_000) }),
      lost: (sql) => sql === EXTEND_RUN_PERMITS,
      state: () => permits('resend'),
    });
    expect([resent.lost, resent.sent]).toEqual([1, 2]);
    expect(resent.state).toEqual(once.state);
    expect(resent.result).toBe(once.result);
  });

  it("reaches each claim's permits by their holder from the JSON rows", async () => {
    await seed('plan');
    const [call] = (await statementsOf(stack.db, (db) => extendRunPermits(db, { queue: 'plan', leaseTokens: ['lease-a'], freeAt: at(60_000) }))).filter(
      (c) => c.sql === EXTEND_RUN_PERMITS,
    );
    const plan = await explain(stack.db, call!);
    expect(plan.find((row) => row.table === 'p')!.key).toBe('ix_queue_permits_holder');
    expect(plan.findIndex((row) => row.table === 'p')).toBeGreaterThan(0);
  });
});
