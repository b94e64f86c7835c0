import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../lib/clock.js';
import { claimLimit, leaseFitsOneMessage, mayStart, runFitsOneMessage, worstCaseMs, type ClaimBudgetInput } from '../../lib/drain/budget.js';

// A Lambda's first minute with the default queue: 60 s lease, 10 s handler timeout, 50 at once.
const base: ClaimBudgetInput = {
  remainingMs: 60_000,
  leaseMs: 60_000,
  marginMs: 5_000,
  timeoutMs: 10_000,
  concurrency: 50,
  ratePerSecond: undefined,
  // The lease time a claim's round trip uses is tested on its own below; 0 keeps the numbers plain.
  claimAllowanceMs: 0,
  held: 0,
  batchSize: 100,
};

describe('worstCaseMs', () => {
  it('is whole waves of timeouts', () => {
    expect(worstCaseMs(0, 50, 10_000, undefined)).toBe(0);
    expect(worstCaseMs(1, 50, 10_000, undefined)).toBe(10_000);
    expect(worstCaseMs(50, 50, 10_000, undefined)).toBe(10_000);
    expect(worstCaseMs(51, 50, 10_000, undefined)).toBe(20_000);
  });

  it('adds the rate limit spacing of the last start, from an empty bucket', () => {
    // 20 messages at 10/s: the 20th token comes 2 s after an empty bucket starts filling.
    expect(worstCaseMs(20, 50, 1_000, 10)).toBe(3_000);
    expect(worstCaseMs(21, 50, 1_000, 10)).toBe(3_100);
    expect(worstCaseMs(1, 50, 1_000, 10)).toBe(1_100);
    expect(worstCaseMs(2, 50, 1_000, 3)).toBe(1_667);
  });
});

describe('claimLimit', () => {
  it('counts a claim of batch-type messages as the handlers they make (messagesPerHandler), held ones as handlers already', () => {
    // 2 at once, 10 s each, 55 s: 10 handlers fit. One message each: 10; 100 a handler: the whole claim of 1,000.
    const narrow = { ...base, concurrency: 2, batchSize: 1_000 };
    expect(claimLimit(narrow)).toBe(10);
    expect(claimLimit({ ...narrow, messagesPerHandler: 100 })).toBe(1_000);
    // 9 handlers held leave room for one more: 100 messages, less than a whole claim, so none while holding.
    expect(claimLimit({ ...narrow, messagesPerHandler: 100, held: 9 })).toBe(0);
    expect(claimLimit({ ...narrow, messagesPerHandler: 100, held: 9, batchSize: 100 })).toBe(100);
  });

  it('claims a whole batch when five waves fit the lease', () => {
    expect(claimLimit(base)).toBe(100);
  });

  it('counts the messages the lane already holds as waves ahead of the new batch', () => {
    expect(claimLimit({ ...base, held: 150 })).toBe(100); // 250 = 5 waves = 50 s <= 55 s
    expect(claimLimit({ ...base, held: 250 })).toBe(0);
  });

  it('claims only whole batches while the lane holds messages, and what fits once it holds none', () => {
    expect(claimLimit({ ...base, held: 151 })).toBe(0); // 99 would fit: wait instead
    expect(claimLimit({ ...base, held: 200 })).toBe(0);
    expect(claimLimit({ ...base, held: 1, remainingMs: 24_999 })).toBe(0);
    expect(claimLimit({ ...base, held: 0, remainingMs: 24_999 })).toBe(50);
  });

  it("plans for the lease time the claim's own round trip uses", () => {
    // 60 s lease - 2 s claim - 5 s margin = 53 s: five waves of 10 s, not the 55 s of a zero allowance.
    expect(claimLimit({ ...base, claimAllowanceMs: 2_000, held: 150 })).toBe(100);
    expect(claimLimit({ ...base, claimAllowanceMs: 6_000, held: 150 })).toBe(0);
  });

  it('shrinks the claim as the run nears its end, to nothing when one wave no longer fits', () => {
    expect(claimLimit({ ...base, remainingMs: 25_000 })).toBe(100); // 2 waves = 20 s <= 25 s - 5 s
    expect(claimLimit({ ...base, remainingMs: 24_999 })).toBe(50);
    expect(claimLimit({ ...base, remainingMs: 15_000 })).toBe(50);
    expect(claimLimit({ ...base, remainingMs: 14_999 })).toBe(0);
    expect(claimLimit({ ...base, remainingMs: 0 })).toBe(0);
    expect(claimLimit({ ...base, remainingMs: -1_000 })).toBe(0);
  });

  it('is bounded by the lease when the lease is shorter than the time left', () => {
    expect(claimLimit({ ...base, leaseMs: 20_000 })).toBe(50);
    expect(claimLimit({ ...base, leaseMs: 14_999 })).toBe(0);
  });

  it('never claims far more than the rate allows in the time left', () => {
    const rated = { ...base, timeoutMs: 1_000, ratePerSecond: 10, remainingMs: 8_000 };
    expect(claimLimit(rated)).toBe(20); // 1 wave + 2 s of spacing = 3 s = 8 s - 5 s
    expect(claimLimit({ ...rated, remainingMs: 7_999 })).toBe(19);
    expect(claimLimit({ ...rated, remainingMs: 60_000 })).toBe(100);
    expect(claimLimit({ ...rated, remainingMs: 60_000, held: 100 })).toBe(100); // 4 s + 20 s <= 55 s
  });

  it('never exceeds the batch size', () => {
    expect(claimLimit({ ...base, timeoutMs: 1, batchSize: 7 })).toBe(7);
    expect(claimLimit({ ...base, batchSize: 0 })).toBe(0);
  });
});

describe('mayStart', () => {
  it('lets a message start only if its handler can time out with the margin left, before its lease and the run end', () => {
    const clock = new ManualClock('2026-01-01T00:00:00.000Z');
    const claimedAt = clock.now().getTime();
    const leaseUntilMs = claimedAt + 60_000;
    const check = (remainingMs: number) => mayStart({ nowMs: clock.now().getTime(), timeoutMs: 10_000, leaseUntilMs, remainingMs, marginMs: 5_000 });

    expect(check(60_000)).toBe(true);
    clock.advance(45_000); // 45 s + 10 s + 5 s = the lease exactly
    expect(check(60_000)).toBe(true);
    clock.advance(1);
    expect(check(60_000)).toBe(false);

    clock.set(claimedAt);
    expect(check(15_000)).toBe(true);
    expect(check(14_999)).toBe(false);
  });
});

describe('mayStart with heartbeats', () => {
  it('needs only the lease held with the margin, and the run to fit the handler whole', () => {
    const check = (leaseLeftMs: number, remainingMs: number) =>
      mayStart({ nowMs: 0, timeoutMs: 90_000, leaseUntilMs: leaseLeftMs, remainingMs, marginMs: 5_000, keptAlive: true });
    expect(check(30_000, 95_000)).toBe(true);
    expect(check(5_000, 95_000)).toBe(true);
    expect(check(4_999, 95_000)).toBe(false);
    // A handler cannot outlive the run.
    expect(check(30_000, 94_999)).toBe(false);
  });
});

describe('leaseFitsOneMessage', () => {
  it('needs the longest timeout plus the margin within the lease, or a lease heartbeats can keep, whichever is shorter', () => {
    // A short handler: its timeout, the margin and the claim's round trip (3.5 s < what beats need).
    expect(leaseFitsOneMessage(3_500, 1_000, 500)).toBe(true);
    expect(leaseFitsOneMessage(3_499, 1_000, 500)).toBe(false);
    // A long one: the claim's round trip + 1.5 × (margin + a beat's round trip) = 12.5 s.
    expect(leaseFitsOneMessage(12_500, 90_000, 5_000)).toBe(true);
    expect(leaseFitsOneMessage(12_499, 90_000, 5_000)).toBe(false);
  });
});

describe('runFitsOneMessage', () => {
  it("is the first claim's own rule on the run's time: the longest timeout, the rate's spacing and the margin", () => {
    const run = { timeoutMs: 10_000, marginMs: 5_000, ratePerSecond: undefined };
    expect(runFitsOneMessage({ ...run, remainingMs: 15_000 })).toBe(true);
    expect(runFitsOneMessage({ ...run, remainingMs: 14_999 })).toBe(false);
    expect(runFitsOneMessage({ ...run, remainingMs: 12_000 })).toBe(false);
    // One start per 2 s: even the first token comes 2 s after an empty bucket's start.
    expect(runFitsOneMessage({ ...run, ratePerSecond: 0.5, remainingMs: 16_000 })).toBe(false);
    expect(runFitsOneMessage({ ...run, ratePerSecond: 0.5, remainingMs: 17_000 })).toBe(true);
    // Exactly where claimLimit, holding nothing, with a lease long enough, starts to take nothing.
    for (const remainingMs of [14_999, 15_000]) {
      const claim = claimLimit({ ...run, remainingMs, leaseMs: 600_000, claimAllowanceMs: 2_000, concurrency: 10, held: 0, batchSize: 100 });
      expect(claim > 0).toBe(runFitsOneMessage({ ...run, remainingMs }));
    }
  });
});
