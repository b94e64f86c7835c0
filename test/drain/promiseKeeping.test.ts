/** When a lane keeps its promise to poll while it waits on its own permits (lib/drain/promiseKeeping.ts): pure, no database. */
import { describe, expect, it } from 'vitest';
import { handlerLeaseMs } from '../../lib/queues.js';
import { canRunAfterPromise, waitsOnOwnPermits, type OwnPermitsInput } from '../../lib/drain/promiseKeeping.js';

// A run whose fan-out is the queue's whole concurrency of 10, holding permits, not held back.
const base: OwnPermitsInput = {
  hasQueueWideLimits: true,
  hasRunPermits: true,
  holdsPermits: true,
  heldBack: false,
  concurrency: 10,
  queueConcurrency: 10,
  held: 10,
};

describe('waitsOnOwnPermits', () => {
  it('waits on its own permits when held back by the limits while holding some', () => {
    expect(waitsOnOwnPermits({ ...base, heldBack: true, held: 0, queueConcurrency: 50 })).toBe(true);
    expect(waitsOnOwnPermits({ ...base, heldBack: true, hasRunPermits: false, queueConcurrency: undefined })).toBe(true);
  });

  it('waits on its own permits when its fan-out is the queue’s whole concurrency and all of it is in use', () => {
    expect(waitsOnOwnPermits(base)).toBe(true);
    expect(waitsOnOwnPermits({ ...base, held: 12 })).toBe(true);
    expect(waitsOnOwnPermits({ ...base, held: 9 })).toBe(false);
    expect(waitsOnOwnPermits({ ...base, queueConcurrency: 20 })).toBe(false); // other drains may run the rest
    expect(waitsOnOwnPermits({ ...base, hasRunPermits: false, queueConcurrency: undefined })).toBe(false);
  });

  it('never while it holds no permits, or the queue has no queue-wide limits', () => {
    expect(waitsOnOwnPermits({ ...base, holdsPermits: false, heldBack: true })).toBe(false);
    expect(waitsOnOwnPermits({ ...base, hasQueueWideLimits: false, heldBack: true })).toBe(false);
  });
});

describe('canRunAfterPromise', () => {
  // 10 s handlers, 5 s margin, 60 s lease, a promise renewed every 5 s.
  const promise = { remainingMs: 60_000, intervalMs: 5_000, leaseMs: 60_000, timeoutMs: 10_000, marginMs: 5_000 };

  it('keeps the promise while a message could still be claimed and run after it ends (two intervals ahead)', () => {
    expect(canRunAfterPromise(promise)).toBe(true);
  });

  it('not once the run’s time after the promise cannot fit a message', () => {
    const afterPromiseMs = (remainingMs: number) => canRunAfterPromise({ ...promise, remainingMs });
    const needMs = handlerLeaseMs(promise.timeoutMs, promise.marginMs) + 2 * promise.intervalMs;
    expect(afterPromiseMs(needMs)).toBe(true);
    expect(afterPromiseMs(needMs - 1)).toBe(false);
  });

  it('not when the lease is too short even for heartbeats', () => {
    expect(canRunAfterPromise({ ...promise, leaseMs: 15_000 })).toBe(true);
    expect(canRunAfterPromise({ ...promise, leaseMs: 12_000 })).toBe(false);
  });
});
