import { describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF, MAX_RETRY_AFTER_MS, backoffDelayMs, nextAvailableAt, resolveBackoff } from '../lib/backoff.js';

const policy = { baseMs: 1_000, factor: 2, maxMs: 10_000 };
const always = (value: number) => () => value;

describe('backoffDelayMs', () => {
  it('grows exponentially from baseMs at attempt 1', () => {
    const delays = [1, 2, 3, 4].map((attempt) => backoffDelayMs(attempt, policy, always(0.999_999)));
    expect(delays).toEqual([999, 1_999, 3_999, 7_999]);
  });

  it('applies full jitter: random() scales the whole delay', () => {
    expect(backoffDelayMs(3, policy, always(0))).toBe(0);
    expect(backoffDelayMs(3, policy, always(0.5))).toBe(2_000);
    expect(backoffDelayMs(3, policy, always(0.25))).toBe(1_000);
  });

  it('is capped at maxMs', () => {
    expect(backoffDelayMs(5, policy, always(0.5))).toBe(5_000);
    expect(backoffDelayMs(30, policy, always(0.5))).toBe(5_000);
  });

  it('stays capped where the exponent overflows', () => {
    expect(backoffDelayMs(5_000, policy, always(0.5))).toBe(5_000);
    expect(backoffDelayMs(5_000, { baseMs: 0, factor: 2, maxMs: 10_000 }, always(0.5))).toBe(5_000);
  });

  it('returns whole milliseconds', () => {
    expect(backoffDelayMs(1, { baseMs: 3, factor: 2, maxMs: 10 }, always(0.5))).toBe(1);
  });

  it('treats attempt 0 like attempt 1 and clamps a random outside [0, 1]', () => {
    expect(backoffDelayMs(0, policy, always(0.5))).toBe(500);
    expect(backoffDelayMs(1, policy, always(7))).toBe(1_000);
    expect(backoffDelayMs(1, policy, always(-1))).toBe(0);
  });

  it('uses Math.random by default and stays within bounds', () => {
    for (let i = 0; i < 100; i++) {
      const delay = backoffDelayMs(4, policy);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(8_000);
    }
  });
});

describe('resolveBackoff', () => {
  it('returns the default without partials', () => {
    expect(resolveBackoff()).toEqual(DEFAULT_BACKOFF);
    expect(DEFAULT_BACKOFF).toEqual({ baseMs: 1_000, factor: 2, maxMs: 900_000 });
  });

  it('lets the type override the queue, and the queue override the default', () => {
    const queue = { baseMs: 5_000, maxMs: 60_000 };
    const type = { maxMs: 30_000, factor: 3 };
    expect(resolveBackoff(queue, type)).toEqual({ baseMs: 5_000, factor: 3, maxMs: 30_000 });
  });

  it('ignores undefined partials and undefined fields', () => {
    expect(resolveBackoff(undefined, { baseMs: undefined, factor: 4 })).toEqual({ ...DEFAULT_BACKOFF, factor: 4 });
  });

  it('does not mutate the default', () => {
    resolveBackoff({ baseMs: 1 });
    expect(DEFAULT_BACKOFF.baseMs).toBe(1_000);
  });

  it('refuses policies that cannot work', () => {
    expect(() => resolveBackoff({ baseMs: -1 })).toThrow(RangeError);
    expect(() => resolveBackoff({ factor: 0.5 })).toThrow(/factor/);
    expect(() => resolveBackoff({ maxMs: Number.NaN })).toThrow(/maxMs/);
  });
});

describe('nextAvailableAt', () => {
  const now = new Date('2026-01-01T00:00:00.000Z');

  it('adds the backoff delay to now', () => {
    expect(nextAvailableAt(now, 3, policy, undefined, always(0.5)).toISOString()).toBe('2026-01-01T00:00:02.000Z');
  });

  it('lets retryAfterMs win over the backoff', () => {
    expect(nextAvailableAt(now, 30, policy, 1_500, always(0.5)).toISOString()).toBe('2026-01-01T00:00:01.500Z');
    expect(nextAvailableAt(now, 1, policy, 0, always(0.5)).getTime()).toBe(now.getTime());
  });

  it('caps retryAfterMs at 12 hours and never goes back in time', () => {
    expect(MAX_RETRY_AFTER_MS).toBe(12 * 3_600_000);
    expect(nextAvailableAt(now, 1, policy, 3 * 86_400_000).toISOString()).toBe('2026-01-01T12:00:00.000Z');
    expect(nextAvailableAt(now, 1, policy, Number.POSITIVE_INFINITY).toISOString()).toBe('2026-01-01T12:00:00.000Z');
    expect(nextAvailableAt(now, 1, policy, -5_000).getTime()).toBe(now.getTime());
  });

  it('falls back to the backoff for a NaN retryAfterMs', () => {
    expect(nextAvailableAt(now, 2, policy, Number.NaN, always(0.5)).toISOString()).toBe('2026-01-01T00:00:01.000Z');
  });
});
