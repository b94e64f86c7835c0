/** The claim's plan: its derived SELECT reads the claim index in order, never a scan and sort. */
import { describe, expect, it } from 'vitest';
import { CLAIM_BATCH } from '../../lib/sql/claimBatch.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

describe('claimBatch', () => {
  it('scans the claim index in its order (no filesort, no table scan), whatever the table holds', async () => {
    // A tiny table is where an optimizer would rather scan and sort.
    await stack.sql.query(
      `INSERT INTO queue_messages (id, queue, type, payload, payload_bytes, status, priority, attempts, max_attempts, available_at, created_at, updated_at)
       VALUES ('00000000-0000-7000-8000-000000000001', 'q', 't', '{}', 2, 'waiting', 0, 0, 3, NOW(3), NOW(3), NOW(3))`,
    );
    await stack.sql.query('ANALYZE TABLE queue_messages');
    // Through the Data API with bound parameters, as the drain sends it.
    const now = new Date();
    const plan = await stack.db.query(`EXPLAIN ${CLAIM_BATCH}`, { queue: 'q', now, limit: 100, leaseToken: 't', leaseUntil: now });
    const derived = plan.find((row) => row.table === 'queue_messages')!;
    expect(derived).toMatchObject({ key: 'ix_queue_messages_claim' });
    expect(derived.type).not.toBe('ALL');
    expect(String(derived.Extra)).not.toMatch(/filesort/);
  });
});
