/** waitForMessage: a poll with backoff on a fake clock, exactly: when it reads, how long it sleeps, when it gives up. */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../lib/clock.js';
import { WaitTimeoutError, waitForMessage, waitPollDelayMs, type WaitTime } from '../../lib/client/waitFor.js';
import type { MessageStatus } from '../../schema/messages.js';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');

/** A clock moved by the sleeps, which are recorded; the message's status by read, from a script. */
function fake(statuses: MessageStatus[], random = () => 1) {
  const clock = new ManualClock(T0);
  const sleeps: number[] = [];
  const reads: number[] = [];
  const time: WaitTime = {
    clock,
    random,
    sleep: async (ms) => {
      sleeps.push(ms);
      clock.advance(ms);
    },
  };
  const get = async () => {
    reads.push(clock.now().getTime() - T0);
    return { id: 'm', status: statuses[Math.min(reads.length - 1, statuses.length - 1)]! };
  };
  return { time, get, sleeps, reads };
}

describe('waitForMessage', () => {
  it('polls at 50 ms doubling to 1 s until the message is done, and answers that read', async () => {
    const { time, get, sleeps, reads } = fake(['waiting', 'running', 'running', 'running', 'running', 'running', 'running', 'running', 'done']);
    expect(await waitForMessage(get, 'm', { timeoutMs: 60_000 }, time)).toEqual({ id: 'm', status: 'done' });
    expect(sleeps).toEqual([50, 100, 200, 400, 800, 1_000, 1_000, 1_000]);
    expect(reads).toEqual([0, 50, 150, 350, 750, 1_550, 2_550, 3_550, 4_550]);
  });

  it('answers dead and cancelled too, at the first read that sees them', async () => {
    for (const status of ['dead', 'cancelled'] as const) {
      const { time, get, reads } = fake(['retrying', status]);
      expect((await waitForMessage(get, 'm', { timeoutMs: 1_000 }, time)).status).toBe(status);
      expect(reads).toHaveLength(2);
    }
  });

  it('jitters the upper half of each wait', () => {
    expect([1, 2, 5, 6, 30].map((poll) => waitPollDelayMs(poll, () => 0))).toEqual([25, 50, 400, 500, 500]);
    expect([1, 2, 5, 6, 30].map((poll) => waitPollDelayMs(poll, () => 0.5))).toEqual([37, 75, 600, 750, 750]);
  });

  it('rejects with a WaitTimeoutError after a last read at the deadline, naming the id, the time and the last status', async () => {
    const { time, get, sleeps, reads } = fake(['running']);
    const error = await waitForMessage(get, 'm', { timeoutMs: 1_000 }, time).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect(error).toMatchObject({ name: 'WaitTimeoutError', id: 'm', timeoutMs: 1_000, status: 'running', retryable: true });
    expect((error as Error).message).toBe('message m did not finish within 1000 ms (still running)');
    // The last sleep is cut to the deadline, and the message is read once more there.
    expect(sleeps).toEqual([50, 100, 200, 400, 250]);
    expect(reads.at(-1)).toBe(1_000);
  });

  it('reads once and gives up at once with timeoutMs 0; refuses a negative one', async () => {
    const { time, get, reads } = fake(['waiting']);
    await expect(waitForMessage(get, 'm', { timeoutMs: 0 }, time)).rejects.toBeInstanceOf(WaitTimeoutError);
    expect(reads).toEqual([0]);
    await expect(waitForMessage(get, 'm', { timeoutMs: -1 }, time)).rejects.toThrow(RangeError);
  });

  it("stops with the signal's reason: before the first read, and during a wait", async () => {
    const { time, get, reads } = fake(['waiting']);
    const aborted = AbortSignal.abort(new Error('gave up'));
    await expect(waitForMessage(get, 'm', { timeoutMs: 1_000, signal: aborted }, time)).rejects.toThrow('gave up');
    expect(reads).toEqual([]);
    const controller = new AbortController();
    const hanging: WaitTime = { ...time, sleep: () => new Promise(() => {}) };
    const waiting = waitForMessage(get, 'm', { timeoutMs: 60_000, signal: controller.signal }, hanging);
    await new Promise((resolve) => setImmediate(resolve));
    controller.abort(new Error('caller left'));
    await expect(waiting).rejects.toThrow('caller left');
    expect(reads).toEqual([0]);
  });
});
