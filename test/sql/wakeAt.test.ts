/** wakeAt: each queue's pending timed wake: who may set it, reading it back, giving it back, forgetting them all. */
import { beforeEach, describe, expect, it } from 'vitest';
import { ensureQueueStates } from '../../lib/sql/drainActivity.js';
import { claimWakeAt, clearAllWakes, readWakeAt, releaseWakeAt } from '../../lib/sql/wakeAt.js';
import { at, tableRows } from '../support/statements.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

const claim = (queue: string, atMs: number, nowMs: number) => claimWakeAt(stack.db, { queue, at: at(atMs), now: at(nowMs), firedBefore: at(nowMs - 90_000) });
const wakes = async () => (await tableRows(stack, 'queue_state', 'queue')).map((row) => [row.queue, row.wake_at]);

describe('wakeAt', () => {
  beforeEach(async () => {
    await stack.sql.query('DELETE FROM queue_state');
    await ensureQueueStates(stack.db, ['a', 'b'], at(0));
  });

  it('lets a wake be set when none is pending, or for an earlier time; a later one leaves the pending wake', async () => {
    expect(await claim('a', 600_000, 0)).toBe(true);
    expect(await claim('a', 900_000, 1_000)).toBe(false);
    expect(await claim('a', 300_000, 2_000)).toBe(true);
    expect(await readWakeAt(stack.db, 'a')).toEqual(at(300_000));
    // Another queue's row is its own; a queue without a row takes none (the caller makes it).
    expect(await claim('b', 900_000, 2_000)).toBe(true);
    expect(await claim('none', 900_000, 2_000)).toBe(false);
    expect(await wakes()).toEqual([
      ['a', at(300_000)],
      ['b', at(900_000)],
    ]);
  });

  it('keeps a wake whose time has come but may not have fired yet, and gives way once it is stale', async () => {
    expect(await claim('a', 60_000, 0)).toBe(true);
    // 30 s past its time: within the Scheduler's minute and its margin, still standing.
    expect(await claim('a', 3_600_000, 90_000)).toBe(false);
    // 91 s past: it has fired and its run, which takes it off, failed.
    expect(await claim('a', 3_600_000, 151_001)).toBe(true);
  });

  it('gives back only the wake it names (not one set since), and forgets every wake at once', async () => {
    await claim('a', 600_000, 0);
    await claim('b', 600_000, 0);
    await releaseWakeAt(stack.db, { queue: 'a', at: at(300_000), now: at(1_000) });
    expect(await readWakeAt(stack.db, 'a')).toEqual(at(600_000));
    await releaseWakeAt(stack.db, { queue: 'a', at: at(600_000), now: at(1_000) });
    expect(await readWakeAt(stack.db, 'a')).toBeUndefined();
    expect(await clearAllWakes(stack.db)).toBe(1);
    expect(await wakes()).toEqual([
      ['a', null],
      ['b', null],
    ]);
    expect(await clearAllWakes(stack.db)).toBe(0);
  });
});
