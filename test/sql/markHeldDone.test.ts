/** markHeldDone: marks held messages done; the settle suite's subtests (test/support/statements.ts). */
import { describe } from 'vitest';
import { markHeldDone, MARK_HELD_DONE } from '../../lib/sql/markHeldDone.js';
import { settleConformance } from '../support/statements.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

describe('markHeldDone', () => {
  settleConformance(stack, 'markHeldDone', {
    settle: (db, held, now) => markHeldDone(db, { held, now }),
    is: (sql) => sql === MARK_HELD_DONE,
    settled: (before, now) => ({
      status: 'done',
      attempts: before.attempts,
      finished_at: now,
      group_head: null,
      lease_token: before.lease_token,
      available_at: before.available_at,
      updated_at: now,
    }),
  });
});
