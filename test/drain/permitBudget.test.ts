/** How much a lane claims under its queue's queue-wide limits (lib/drain/permitBudget.ts): pure, no database. */
import { describe, expect, it } from 'vitest';
import { claimBatchSize, permittedClaim, type PermittedClaimInput } from '../../lib/drain/permitBudget.js';

// A run of 10 handlers at once, whose time budget allows a claim of 10.
const base: PermittedClaimInput = {
  budget: 10,
  concurrency: 10,
  hasRunPermits: true,
  held: 0,
  running: 0,
  due: 0,
  ownRunPermitsGoingBack: false,
  lateGoingBack: false,
};

describe('claimBatchSize', () => {
  it('takes only what can start at once under queue-wide limits, the batch otherwise', () => {
    expect(claimBatchSize(100, 10, true)).toBe(10);
    expect(claimBatchSize(5, 10, true)).toBe(5);
    expect(claimBatchSize(100, 10, false)).toBe(100);
  });
});

describe('permittedClaim', () => {
  it('takes what the time budget allows while every run slot is free', () => {
    expect(permittedClaim(base)).toBe(10);
    expect(permittedClaim({ ...base, budget: 4 })).toBe(4);
  });

  it('under run permits, claims only for the slots no held message has (claiming, waiting or running)', () => {
    expect(permittedClaim({ ...base, held: 7, running: 2, due: 5 })).toBe(3);
    expect(permittedClaim({ ...base, held: 10 })).toBe(0);
    expect(permittedClaim({ ...base, held: 12 })).toBe(0);
  });

  it('under a rate alone, claims for the slots neither running nor due messages take (those still to start do not count)', () => {
    const rated = { ...base, hasRunPermits: false, held: 9 };
    expect(permittedClaim({ ...rated, running: 3, due: 2 })).toBe(5);
    expect(permittedClaim({ ...rated, running: 6, due: 4 })).toBe(0);
  });

  it('waits while its own run permits go back', () => {
    expect(permittedClaim({ ...base, ownRunPermitsGoingBack: true })).toBe(0);
    // Without run permits there are none of its own to wait for.
    expect(permittedClaim({ ...base, hasRunPermits: false, ownRunPermitsGoingBack: true })).toBe(10);
  });

  it('waits while messages late for their rate permits go back', () => {
    expect(permittedClaim({ ...base, lateGoingBack: true })).toBe(0);
    expect(permittedClaim({ ...base, hasRunPermits: false, lateGoingBack: true })).toBe(0);
  });
});
