/** The queue-wide permits a lane holds and waits for (lib/drain/lanePermits.ts): pure, no database. */
import { describe, expect, it } from 'vitest';
import { LanePermits } from '../../lib/drain/lanePermits.js';
import { PERMIT_POLL_MIN_MS } from '../../lib/drain/permitWait.js';
import { ratePermits } from '../../lib/sql/permits.js';

const claim = (claimed: number, permitted?: number) => ({ leaseToken: 'lease', claimed, ...(permitted === undefined ? {} : { permitted }) });

describe('LanePermits', () => {
  it('has the queue’s limits: rate permits, run permits, both, or none', () => {
    expect(new LanePermits({ ratePerSecond: undefined, concurrency: undefined }).limits).toBeUndefined();
    expect(new LanePermits({ ratePerSecond: 5, concurrency: undefined }).limits).toEqual({ rate: ratePermits(5) });
    expect(new LanePermits({ ratePerSecond: undefined, concurrency: 3 }).limits).toEqual({ run: { slots: 3 } });
    expect(new LanePermits({ ratePerSecond: 5, concurrency: 3 }).limits).toEqual({ rate: ratePermits(5), run: { slots: 3 } });
    expect(new LanePermits({ ratePerSecond: 5, concurrency: undefined }).rateStarts.applies).toBe(true);
  });

  it('holds a claim’s run permits until its messages have ended', () => {
    const permits = new LanePermits({ ratePerSecond: undefined, concurrency: 3 });
    permits.claimLanded(claim(2, 2), 2, 0, true);
    expect(permits.holdsAny(0)).toBe(true);
    expect(permits.messageEnded('lease')).toEqual({ count: 1, keep: 1 });
    expect(permits.messageEnded('lease')).toEqual({ count: 1, keep: 0 });
    expect(permits.holdsAny(0)).toBe(false);
  });

  it('holds rate permits a window from the claim', () => {
    const permits = new LanePermits({ ratePerSecond: 10, concurrency: undefined });
    permits.claimLanded(claim(1, 1), 1, 1_000, true);
    expect(permits.holdsAny(1_000 + ratePermits(10).windowMs - 1)).toBe(true);
    expect(permits.holdsAny(1_000 + ratePermits(10).windowMs)).toBe(false);
    expect(permits.messageEnded('lease')).toBeUndefined(); // no run permits to give back
  });

  it('is held back by a claim that got fewer permits than it asked for, and waits before asking again', () => {
    const permits = new LanePermits({ ratePerSecond: undefined, concurrency: 3 });
    permits.claimLanded(claim(1, 1), 2, 0, true);
    expect(permits.heldBack).toBe(true);
    expect(permits.heldBackHoldingNone).toBe(false); // it holds the one it got
    expect(permits.msUntilClaim(0)).toBe(PERMIT_POLL_MIN_MS);
    // Its own permits given back: claim at once.
    permits.runPermitsReturned();
    expect(permits.msUntilClaim(0)).toBeLessThanOrEqual(0);
  });

  it('held back holding none is as good as idle: no permits’ wait (its lingering polls pace it)', () => {
    const permits = new LanePermits({ ratePerSecond: undefined, concurrency: 3 });
    permits.claimLanded(claim(0, 0), 2, 0, true);
    expect(permits.heldBack).toBe(true);
    expect(permits.heldBackHoldingNone).toBe(true);
    expect(permits.msUntilClaim(0)).toBeLessThanOrEqual(0);
  });

  it('is not held back holding none while another claim of its own is out (it may have taken the permits)', () => {
    const permits = new LanePermits({ ratePerSecond: undefined, concurrency: 3 });
    permits.claimLanded(claim(0, 0), 2, 0, false);
    expect(permits.heldBackHoldingNone).toBe(false);
    expect(permits.msUntilClaim(0)).toBe(PERMIT_POLL_MIN_MS);
  });

  it('is not held back by a claim that got every permit it asked for, and polls from the start next time', () => {
    const permits = new LanePermits({ ratePerSecond: undefined, concurrency: 3 });
    permits.claimLanded(claim(1, 1), 2, 0, true);
    permits.claimLanded(claim(1, 1), 2, 0, true);
    expect(permits.msUntilClaim(0)).toBe(2 * PERMIT_POLL_MIN_MS);
    permits.claimLanded(claim(1, 1), 1, 0, true);
    expect(permits.heldBack).toBe(false);
    permits.claimLanded(claim(1, 1), 2, 0, true);
    expect(permits.msUntilClaim(0)).toBe(PERMIT_POLL_MIN_MS);
  });

  it('under a rate, given-back run permits do not end the wait: rate permits free only with their window', () => {
    const permits = new LanePermits({ ratePerSecond: 10, concurrency: 3 });
    permits.claimLanded(claim(1, 1), 4, 0, true);
    const waitMs = permits.msUntilClaim(0);
    expect(waitMs).toBeGreaterThan(0);
    permits.runPermitsReturned();
    expect(permits.msUntilClaim(0)).toBe(waitMs);
  });
});
