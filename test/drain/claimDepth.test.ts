import { describe, expect, it } from 'vitest';
import { ClaimDepth } from '../../lib/drain/claimDepth.js';

describe('ClaimDepth', () => {
  it('starts at one claim and grows by one per full claim while round trips stay fast', () => {
    const depth = new ClaimDepth(6);
    expect(depth.limit).toBe(1);
    for (const expected of [2, 3, 4, 5, 6, 6]) {
      depth.observe(20);
      expect(depth.limit).toBe(expected);
    }
  });

  it('keeps growing while round trips stay within the tolerance of the fastest', () => {
    const depth = new ClaimDepth(6, 2);
    depth.observe(20);
    depth.observe(40); // exactly 2× the fastest: still uncontended
    expect(depth.limit).toBe(3);
  });

  it('shrinks in proportion when round trips slow down, never below one', () => {
    const depth = new ClaimDepth(6, 2);
    for (let i = 0; i < 6; i++) depth.observe(20);
    expect(depth.limit).toBe(6);
    depth.observe(80); // 4× the fastest, twice the tolerance: 6 × 0.5 + 1
    expect(depth.limit).toBe(4);
    for (let i = 0; i < 10; i++) depth.observe(400);
    expect(depth.limit).toBe(1);
  });

  it('recovers when round trips come back down', () => {
    const depth = new ClaimDepth(6, 2);
    depth.observe(20);
    for (let i = 0; i < 5; i++) depth.observe(400);
    expect(depth.limit).toBe(1);
    for (let i = 0; i < 5; i++) depth.observe(25);
    expect(depth.limit).toBe(6);
  });
});
