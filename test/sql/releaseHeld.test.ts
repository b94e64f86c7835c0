/** releaseHeld: claimed messages never dispatched go back, due now, their attempt returned; the settle suite's subtests. */
import { describe } from 'vitest';
import { releaseHeld, RELEASE_HELD } from '../../lib/sql/releaseHeld.js';
import { idOf, settleConformance } from '../support/statements.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

/** The attempts each claim counted, as the caller read them after the claim (see the suite's fixtures). */
const CLAIMED: Record<string, number> = { [idOf(1)]: 1, [idOf(2)]: 2, [idOf(3)]: 0, [idOf(4)]: 2 };

describe('releaseHeld', () => {
  settleConformance(stack, 'release', {
    settle: (db, held, now) => releaseHeld(db, { held: held.map((h) => ({ ...h, attempts: h.attempts ?? CLAIMED[h.id]! })), now }),
    is: (sql) => sql === RELEASE_HELD,
    // An attempt counted at claim is returned: the first goes back to waiting, a later one to retrying.
    settled: (before, now) => ({
      status: Number(before.attempts) <= 1 ? 'waiting' : 'retrying',
      attempts: Math.max(Number(before.attempts) - 1, 0),
      available_at: now,
      lease_token: before.lease_token,
      finished_at: null,
      group_head: before.group_key,
      updated_at: now,
    }),
  });
});
