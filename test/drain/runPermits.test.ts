/** When a lane gives back its run permits (lib/drain/runPermits.ts): pure, no database. */
import { describe, expect, it } from 'vitest';
import { RunPermits } from '../../lib/drain/runPermits.js';

describe('RunPermits', () => {
  it('gives a claim’s permits back in two writes: half of them, then the rest with the last handler', () => {
    const permits = new RunPermits();
    permits.took('lease', 4);
    expect(permits.ended('lease')).toBeUndefined();
    expect(permits.ended('lease')).toEqual({ count: 2, keep: 2 });
    expect(permits.ended('lease')).toBeUndefined();
    expect(permits.holdsAny).toBe(true);
    expect(permits.ended('lease')).toEqual({ count: 2, keep: 0 });
    expect(permits.holdsAny).toBe(false);
  });

  it('gives back a claim of one at once', () => {
    const permits = new RunPermits();
    permits.took('lease', 1);
    expect(permits.ended('lease')).toEqual({ count: 1, keep: 0 });
    expect(permits.holdsAny).toBe(false);
  });

  it('rounds the first write up: five permits go back as three, then two', () => {
    const permits = new RunPermits();
    permits.took('lease', 5);
    expect([1, 2, 3].map(() => permits.ended('lease'))).toEqual([undefined, undefined, { count: 3, keep: 2 }]);
    expect([4, 5].map(() => permits.ended('lease'))).toEqual([undefined, { count: 2, keep: 0 }]);
  });

  it('keeps each claim apart, and ignores claims that took none or that it does not know', () => {
    const permits = new RunPermits(1);
    permits.took('a', 2);
    permits.took('b', 0);
    expect(permits.ended('b')).toBeUndefined();
    expect(permits.ended('unknown')).toBeUndefined();
    expect(permits.ended('a')).toBeUndefined();
    expect(permits.ended('a')).toEqual({ count: 2, keep: 0 });
    expect(permits.holdsAny).toBe(false);
  });

  it('releases with every ended handler when asked to write that often', () => {
    const permits = new RunPermits(3);
    permits.took('lease', 3);
    expect([1, 2, 3].map(() => permits.ended('lease'))).toEqual([
      { count: 1, keep: 2 },
      { count: 1, keep: 1 },
      { count: 1, keep: 0 },
    ]);
  });
});
