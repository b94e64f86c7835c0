/** A run's maxMessages shared among its lanes (lib/drain/quota.ts): pure, no database. */
import { describe, expect, it } from 'vitest';
import { MessageQuota } from '../../lib/drain/quota.js';

describe('MessageQuota', () => {
  it('splits the maximum evenly, the remainder to the first lanes', () => {
    const shares = MessageQuota.split(10, 3);
    expect(shares.map((share) => share.reserve(100))).toEqual([4, 3, 3]);
  });

  it('gives every lane an unlimited share when the run has no maximum', () => {
    const [a, b] = MessageQuota.split(Number.POSITIVE_INFINITY, 2);
    expect(a!.reserve(1_000)).toBe(1_000);
    expect(b!.reserve(5)).toBe(5);
  });

  it('reserves no more than the share holds, and takes back what a claim did not use', () => {
    const [share] = MessageQuota.split(5, 1);
    expect(share!.reserve(3)).toBe(3);
    share!.giveBack(2);
    expect(share!.reserve(10)).toBe(4);
    expect(share!.reserve(1)).toBe(0);
  });

  it('hands a closed lane’s unused part to the lanes still claiming, once', () => {
    const [a, b, c] = MessageQuota.split(9, 3);
    expect(a!.reserve(1)).toBe(1);
    a!.close();
    expect(b!.reserve(10)).toBe(5); // its own 3 and the 2 the closed lane left
    expect(c!.reserve(10)).toBe(3); // the pool is empty again
    a!.close();
    expect(b!.reserve(1)).toBe(0);
  });

  it('adds nothing to the pool when an unlimited share closes', () => {
    const [a, b] = MessageQuota.split(Number.POSITIVE_INFINITY, 2);
    a!.close();
    expect(b!.reserve(3)).toBe(3);
    expect(a!.reserve(3)).toBe(0);
  });
});
