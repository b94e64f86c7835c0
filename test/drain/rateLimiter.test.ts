import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../lib/clock.js';
import { defaultBurst, TokenBucket } from '../../lib/drain/rateLimiter.js';

describe('TokenBucket', () => {
  it('hands out the burst at once, then one token per 1/rate seconds of the clock', () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ ratePerSecond: 10, burst: 1, clock });
    expect(bucket.take(5)).toBe(1);
    expect(bucket.take(5)).toBe(0);
    expect(bucket.msUntilNext()).toBe(100);
    clock.advance(40);
    expect(bucket.msUntilNext()).toBe(60);
    expect(bucket.take(5)).toBe(0);
    clock.advance(60);
    expect(bucket.msUntilNext()).toBe(0);
    expect(bucket.take(5)).toBe(1);
  });

  it('saves up no more than the burst', () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ ratePerSecond: 50, clock });
    expect(bucket.burst).toBe(5);
    expect(bucket.take(100)).toBe(5);
    clock.advance(60_000);
    expect(bucket.take(100)).toBe(5);
  });

  it('starts at most rate + burst in any second', () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ ratePerSecond: 50, clock });
    let started = 0;
    for (let ms = 0; ms < 1_000; ms += 7) {
      started += bucket.take(1_000);
      clock.advance(7);
    }
    expect(started).toBeLessThanOrEqual(55);
    expect(started).toBeGreaterThanOrEqual(49);
  });

  it('adds nothing when the clock goes back', () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ ratePerSecond: 1, burst: 1, clock });
    expect(bucket.take(1)).toBe(1);
    clock.advance(-10_000);
    expect(bucket.take(1)).toBe(0);
    clock.advance(10_000 + 1_000);
    expect(bucket.take(1)).toBe(1);
  });

  it('refuses a rate that is not a positive number', () => {
    const clock = new ManualClock();
    expect(() => new TokenBucket({ ratePerSecond: 0, clock })).toThrow(RangeError);
    expect(() => new TokenBucket({ ratePerSecond: Number.NaN, clock })).toThrow(RangeError);
  });

  it('defaults the burst to a tenth of a second, at least one token', () => {
    expect(defaultBurst(0.5)).toBe(1);
    expect(defaultBurst(10)).toBe(1);
    expect(defaultBurst(200)).toBe(20);
  });
});
