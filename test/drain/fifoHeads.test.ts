/** When a FIFO lane claims heads again (lib/drain/fifoHeads.ts): pure, no database. */
import { describe, expect, it } from 'vitest';
import { FIFO_HEADS_POLL_MS, FifoHeads } from '../../lib/drain/fifoHeads.js';
import type { ClaimedMessage } from '../../lib/sql/readClaimedMessages.js';

function message(id: string, groupKey: string | null, nextInGroup?: [string | null, string | null]): ClaimedMessage {
  return {
    id,
    queue: 'q',
    type: 't',
    payload: null,
    attempts: 1,
    maxAttempts: 3,
    priority: 0,
    payloadParts: 0,
    traceContext: null,
    groupKey,
    ...(nextInGroup ? { nextInGroup } : {}),
  };
}

describe('FifoHeads', () => {
  it('claims at once until a claim lands while the run holds messages, then looks again shortly', () => {
    const heads = new FifoHeads();
    expect(heads.msUntilClaim(1_000)).toBeLessThanOrEqual(0);
    heads.claimedWhileHolding(1_000);
    expect(heads.msUntilClaim(1_000)).toBe(FIFO_HEADS_POLL_MS);
    expect(heads.msUntilClaim(1_000 + FIFO_HEADS_POLL_MS)).toBe(0);
  });

  it('starts a follower once its head’s outcome is written, and drops it if the write was given up', () => {
    const heads = new FifoHeads();
    heads.claimedWhileHolding(1_000);
    expect(heads.written(message('1', 'g'), true, true)).toBe('start-follower');
    expect(heads.written(message('1', 'g'), false, true)).toBe('drop-follower');
    // Neither lets another group's head lead: the wait stands.
    expect(heads.msUntilClaim(1_000)).toBe(FIFO_HEADS_POLL_MS);
  });

  it('claims now once the last message of its group the run held is written, its group’s next the candidate', () => {
    const heads = new FifoHeads();
    heads.candidates.read([], 1_000); // the last read found no other head
    heads.claimedWhileHolding(1_000);
    expect(heads.written(message('1', 'g', ['2', '3']), true, false)).toBe('claim-now');
    expect(heads.msUntilClaim(1_000)).toBeLessThanOrEqual(0);
    expect(heads.candidates.left(1_000)).toEqual([{ id: '2', groupKey: 'g', nextId: '3' }]);
  });

  it('claims now after a write given up too, with no new candidate', () => {
    const heads = new FifoHeads();
    heads.candidates.read([], 1_000);
    heads.claimedWhileHolding(1_000);
    expect(heads.written(message('1', 'g', ['2', null]), false, false)).toBe('claim-now');
    expect(heads.msUntilClaim(1_000)).toBeLessThanOrEqual(0);
    expect(heads.candidates.left(1_000)).toBeUndefined();
  });
});
