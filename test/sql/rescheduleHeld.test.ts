/** rescheduleHeld: held messages back to retrying at their own next time; the settle suite's subtests (test/support/statements.ts). */
import { describe, expect, it } from 'vitest';
import { LAST_ERROR_MAX_BYTES } from '../../lib/sql/message.js';
import { rescheduleHeld, RESCHEDULE_HELD } from '../../lib/sql/rescheduleHeld.js';
import { at, idOf, insertFixtures, messages, settleConformance } from '../support/statements.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

const retryAt = (id: string) => at(60_000 + Number(id.slice(-2)) * 1_000);

describe('rescheduleHeld', () => {
  settleConformance(stack, 'rescheduleHeld', {
    settle: (db, held, now) => rescheduleHeld(db, { retries: held.map((h) => ({ ...h, availableAt: retryAt(h.id), error: `failed ${h.id}` })), now }),
    is: (sql) => sql === RESCHEDULE_HELD,
    settled: (before, now) => ({
      status: 'retrying',
      attempts: before.attempts,
      available_at: retryAt(before.id as string),
      last_error: `failed ${String(before.id)}`,
      lease_token: before.lease_token,
      finished_at: null,
      group_head: before.group_key,
      updated_at: now,
    }),
  });

  it('stores the error clipped to its byte limit, whole characters only', async () => {
    const [id] = await insertFixtures(stack, [{ id: idOf(50), queue: 'clip', status: 'running', attempts: 1, leaseToken: 'l' }]);
    expect(await rescheduleHeld(stack.db, { retries: [{ id: id!, leaseToken: 'l', availableAt: at(1_000), error: '😀'.repeat(5_000) }], now: at(0) })).toBe(1);
    const [row] = await messages(stack, { ids: [id!] });
    // 499 emoji (4 bytes each) and the ellipsis (3): no emoji cut in half.
    expect(row!.last_error).toBe(`${'😀'.repeat(499)}…`);
    expect(Buffer.byteLength(row!.last_error as string)).toBeLessThanOrEqual(LAST_ERROR_MAX_BYTES);
  });
});
