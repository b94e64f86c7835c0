import { describe, expect, it } from 'vitest';
import { GROUP_RECENT_TAKE_MS, GROUP_THROTTLE_MAX_MS, GROUP_THROTTLE_MIN_MS, GroupThrottle } from '../../lib/drain/groupThrottle.js';

describe('GroupThrottle', () => {
  it('waits longer after each held-back claim, up to the most', () => {
    const throttle = new GroupThrottle(-1_000_000);
    const waits: number[] = [];
    for (let i = 0; i < 8; i++) {
      throttle.claimLanded(true, 0, 0);
      waits.push(throttle.msUntilClaim(0));
    }
    expect(waits).toEqual([GROUP_THROTTLE_MIN_MS, 100, 200, 400, 800, GROUP_THROTTLE_MAX_MS, GROUP_THROTTLE_MAX_MS, GROUP_THROTTLE_MAX_MS]);
    expect(throttle.heldBack).toBe(true);
  });

  it('claims at once after an outcome is written, and starts its backoff again', () => {
    const throttle = new GroupThrottle(-1_000_000);
    throttle.claimLanded(true, 0, 0);
    throttle.claimLanded(true, 0, 0);
    throttle.outcomeWritten();
    expect(throttle.msUntilClaim(0)).toBeLessThanOrEqual(0);
    throttle.claimLanded(true, 0, 10);
    expect(throttle.msUntilClaim(10)).toBe(GROUP_THROTTLE_MIN_MS);
  });

  it('knows whether the lane took messages recently', () => {
    const throttle = new GroupThrottle(-1_000_000);
    expect(throttle.activeRecently(0)).toBe(false);
    throttle.claimLanded(true, 3, 1_000);
    expect(throttle.activeRecently(1_000 + GROUP_RECENT_TAKE_MS)).toBe(true);
    expect(throttle.activeRecently(1_001 + GROUP_RECENT_TAKE_MS)).toBe(false);
  });

  it("counts the lane's start as recent: a run held back from its first claim keeps claiming a while", () => {
    const throttle = new GroupThrottle(500);
    throttle.claimLanded(true, 0, 500);
    expect(throttle.activeRecently(500 + GROUP_RECENT_TAKE_MS)).toBe(true);
    expect(throttle.activeRecently(501 + GROUP_RECENT_TAKE_MS)).toBe(false);
  });

  it('is cleared by a claim that was not held back', () => {
    const throttle = new GroupThrottle(-1_000_000);
    throttle.claimLanded(true, 0, 0);
    throttle.claimLanded(false, 1, 5);
    expect(throttle.heldBack).toBe(false);
    expect(throttle.msUntilClaim(5)).toBeLessThanOrEqual(0);
  });
});
