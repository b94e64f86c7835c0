/** ack: marks held messages done; the settle suite's subtests (test/support/statements.ts). */
import { describe } from 'vitest';
import { ack, ACK } from '../../lib/sql/ack.js';
import { settleConformance } from '../support/statements.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

describe('ack', () => {
  settleConformance(stack, 'ack', {
    settle: (db, held, now) => ack(db, { held, now }),
    is: (sql) => sql === ACK,
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
