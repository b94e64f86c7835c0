/** When a lane held back by the queue-wide limits claims again (lib/drain/permitWait.ts): pure, no database. */
import { describe, expect, it } from 'vitest';
import { PERMIT_POLL_MAX_MS, PERMIT_POLL_MIN_MS, PermitWait } from '../../lib/drain/permitWait.js';

describe('PermitWait', () => {
  it('does not hold a claim back until one was', () => {
    expect(new PermitWait(undefined).msLeft(1_000)).toBeLessThanOrEqual(0);
  });

  it('polls for other drains’ run permits from 100 ms, doubling to 800 ms, and from the start once a claim gets all it asked for', () => {
    const wait = new PermitWait(undefined);
    const waits = [0, 1, 2, 3, 4].map(() => {
      wait.heldBack(10_000, 5);
      return wait.msLeft(10_000);
    });
    expect(waits).toEqual([PERMIT_POLL_MIN_MS, 200, 400, PERMIT_POLL_MAX_MS, PERMIT_POLL_MAX_MS]);
    wait.notHeldBack();
    wait.heldBack(20_000, 5);
    expect(wait.msLeft(20_050)).toBe(50);
  });

  it('under a rate, waits half the time the window takes to free what the claim wanted, at least 25 ms', () => {
    const wait = new PermitWait({ slots: 10, windowMs: 1_000 });
    wait.heldBack(0, 4);
    expect(wait.msLeft(0)).toBe(200);
    wait.heldBack(0, 50); // more than there are permits: the whole window's half
    expect(wait.msLeft(0)).toBe(500);
    wait.heldBack(0, 0);
    expect(wait.msLeft(0)).toBe(25);
  });

  it('claims at once when permits are given back', () => {
    const wait = new PermitWait(undefined);
    wait.heldBack(0, 1);
    wait.clear();
    expect(wait.msLeft(0)).toBeLessThanOrEqual(0);
  });
});
