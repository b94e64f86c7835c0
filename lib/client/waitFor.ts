/** Waiting for a message to finish: a poll of its status with backoff, never a busy loop. */
import type { MessageStatus, MessageView } from '../../schema/messages.js';
import { systemClock, type Clock } from '../clock.js';
import { QueueError } from '../errors.js';
import { sleep as realSleep } from '../sleep.js';

export interface WaitForOptions {
  /** How long to wait in all; rejects with a WaitTimeoutError once it has passed. */
  timeoutMs: number;
  /** Stops waiting: rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Time as a parameter, so a wait is tested exactly. */
export interface WaitTime {
  clock: Clock;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
}

export const systemWaitTime: WaitTime = { clock: systemClock, sleep: realSleep, random: Math.random };

/** The statuses a message does not leave by itself. */
export const FINISHED_STATUSES: readonly MessageStatus[] = ['done', 'dead', 'cancelled'];

/** The first poll waits about 50 ms, each next one twice as long, up to about 1 s. */
export const WAIT_POLL = { firstMs: 50, maxMs: 1_000 } as const;

/** The message did not finish in time. `status` is the last one seen. */
export class WaitTimeoutError extends QueueError {
  readonly id: string;
  readonly timeoutMs: number;
  readonly status: MessageStatus;

  constructor(id: string, timeoutMs: number, status: MessageStatus) {
    super(`message ${id} did not finish within ${timeoutMs} ms (still ${status})`, { retryable: true });
    this.id = id;
    this.timeoutMs = timeoutMs;
    this.status = status;
  }
}

/**
 * The wait before poll number `poll` (1 after the first read): 50 ms doubling to 1 s, the upper
 * half of it jittered, so many waiters spread out and none polls in a tight loop.
 */
export function waitPollDelayMs(poll: number, random: () => number): number {
  const ceiling = Math.min(WAIT_POLL.maxMs, WAIT_POLL.firstMs * 2 ** Math.max(0, poll - 1));
  return Math.floor(ceiling / 2 + (ceiling / 2) * Math.min(Math.max(random(), 0), 1));
}

/**
 * Reads the message with `get` until it is done, dead or cancelled, and answers that view. The
 * last read is at the deadline, so a message finishing just before it is not missed.
 */
export async function waitForMessage<V extends Pick<MessageView, 'status'>>(
  get: () => Promise<V>,
  id: string,
  options: WaitForOptions,
  time: WaitTime = systemWaitTime,
): Promise<V> {
  if (!(options.timeoutMs >= 0)) throw new RangeError(`timeoutMs must be a number >= 0, got ${options.timeoutMs}`);
  const deadlineMs = time.clock.now().getTime() + options.timeoutMs;
  for (let poll = 1; ; poll++) {
    options.signal?.throwIfAborted();
    const view = await get();
    if (FINISHED_STATUSES.includes(view.status)) return view;
    const leftMs = deadlineMs - time.clock.now().getTime();
    if (leftMs <= 0) throw new WaitTimeoutError(id, options.timeoutMs, view.status);
    await untilAborted(time.sleep(Math.min(waitPollDelayMs(poll, time.random), leftMs)), options.signal);
  }
}

/** The sleep, cut short by the signal (the sleep's own timer then ends by itself, within 1 s). */
function untilAborted(sleeping: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return sleeping;
  signal.throwIfAborted();
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    void sleeping.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}
