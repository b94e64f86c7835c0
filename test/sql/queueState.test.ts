/** queueState: pausing a queue, and the paused queues. */
import { describe, expect, it } from 'vitest';
import { listPausedQueues, setQueuePaused } from '../../lib/sql/queueState.js';
import { at, onceAndResent, tableRows } from '../support/statements.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

const isSet = (sql: string) => sql.includes('INSERT INTO queue_state');
const state = async () => (await tableRows(stack, 'queue_state', 'queue')).map((row) => [row.queue, row.paused_at, row.updated_at]);

describe('queueState', () => {
  it('pauses and resumes a queue, with or without its row, leaving the other queues alone', async () => {
    await setQueuePaused(stack.db, 'a', true, at(1_000));
    await setQueuePaused(stack.db, 'b', true, at(2_000));
    await setQueuePaused(stack.db, 'c', false, at(3_000));
    expect(await listPausedQueues(stack.db)).toEqual(new Set(['a', 'b']));
    await setQueuePaused(stack.db, 'a', false, at(4_000));
    // Paused again: the time of the latest pause.
    await setQueuePaused(stack.db, 'b', true, at(5_000));
    expect(await state()).toEqual([
      ['a', null, at(4_000)],
      ['b', at(5_000), at(5_000)],
      ['c', null, at(3_000)],
    ]);
    expect(await listPausedQueues(stack.db)).toEqual(new Set(['b']));
  });

  it('leaves the state of one run when re-sent after a lost reply', async () => {
    const { once, resent } = await onceAndResent(stack, {
      seed: () => stack.sql.query("INSERT INTO queue_state (queue, updated_at) VALUES ('r', ?)", [at(0)]),
      reset: () => stack.sql.query('DELETE FROM queue_state'),
      run: async (db) => {
        await setQueuePaused(db, 'r', true, at(1_000));
        await setQueuePaused(db, 'new', true, at(1_000));
      },
      lost: isSet,
      state,
    });
    expect([resent.lost, resent.sent]).toEqual([1, 3]);
    expect(resent.state).toEqual(once.state);
  });

  // No plan to check: the write is an INSERT … VALUES on the primary key, and the read lists a table of one row per queue.
});
