/** deadLetter: held messages to the dead letters; the settle suite's subtests (test/support/statements.ts). */
import { describe } from 'vitest';
import { deadLetterHeld, DEAD_LETTER_HELD } from '../../lib/sql/deadLetterHeld.js';
import { settleConformance } from '../support/statements.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

describe('deadLetter', () => {
  settleConformance(stack, 'dead', {
    settle: (db, held, now) => deadLetterHeld(db, { dead: held.map((h) => ({ ...h, error: `gave up on ${h.id}` })), now }),
    is: (sql) => sql === DEAD_LETTER_HELD,
    settled: (before, now) => ({
      status: 'dead',
      dead_queue: before.queue,
      attempts: before.attempts,
      available_at: before.available_at,
      last_error: `gave up on ${String(before.id)}`,
      lease_token: before.lease_token,
      finished_at: now,
      group_head: null,
      updated_at: now,
    }),
  });
});
