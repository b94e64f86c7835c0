/** cancelHeld: settles held messages cancelled; the settle suite's subtests (test/support/statements.ts). */
import { describe } from 'vitest';
import { cancelHeld, CANCEL_HELD } from '../../lib/sql/cancelHeld.js';
import { settleConformance } from '../support/statements.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

describe('cancelHeld', () => {
  settleConformance(stack, 'cancelHeld', {
    settle: (db, held, now) => cancelHeld(db, { held, now }),
    is: (sql) => sql === CANCEL_HELD,
    settled: (before, now) => ({
      status: 'cancelled',
      attempts: before.attempts,
      finished_at: now,
      group_head: null,
      lease_token: before.lease_token,
      available_at: before.available_at,
      updated_at: now,
    }),
  });
});
