import { handlerLeaseMs } from '../queues.js';
import { leaseFitsOneMessage } from './budget.js';

/**
 * When a lane keeps its promise to poll its queue (lib/drain/activity.ts) while it waits on its
 * own permits: the queue's capacity is taken and this lane holds some of it, so it claims again as
 * its own permits free (its releases wake it). Its promise is then kept (renewed each interval):
 * enqueues into the saturated queue wake no drain, which could take nothing, and this lane claims
 * their messages as its permits free. Pure: the lane renews the promise and arms the timer.
 */

export interface OwnPermitsInput {
  /** Whether the queue has queue-wide limits at all. */
  hasQueueWideLimits: boolean;
  /** Whether it has a queue-wide concurrency (run permits). */
  hasRunPermits: boolean;
  /** Whether the lane holds queue-wide permits: run permits of handlers not ended, rate permits within their window. */
  holdsPermits: boolean;
  /** Whether its last claim was held back by the limits. */
  heldBack: boolean;
  /** Handlers this run may run at once. */
  concurrency: number;
  /** The queue-wide concurrency, if any. */
  queueConcurrency: number | undefined;
  /** Messages the lane has taken on and not finished: claims in flight, waiting and running. */
  held: number;
}

/** Whether the queue's capacity is taken and this lane holds some of it: it claims again as its own permits free. */
export function waitsOnOwnPermits(input: OwnPermitsInput): boolean {
  if (!input.hasQueueWideLimits || !input.holdsPermits) return false;
  if (input.heldBack) return true;
  // Its own fan-out is the queue's whole concurrency, and it is all in use.
  return input.hasRunPermits && input.concurrency === input.queueConcurrency && input.held >= input.concurrency;
}

export interface AfterPromiseInput {
  /** Time left in the run. */
  remainingMs: number;
  /** How often the promise is renewed (DrainActivity.intervalMs): it reaches two intervals ahead. */
  intervalMs: number;
  leaseMs: number;
  /** The longest handler timeout. */
  timeoutMs: number;
  marginMs: number;
}

/** Whether the lane could still claim and run a message after its promise's end: only then is it kept. */
export function canRunAfterPromise(input: AfterPromiseInput): boolean {
  const afterPromiseMs = input.remainingMs - 2 * input.intervalMs;
  // The run must fit the handler whole; the lease only as heartbeats need it.
  return handlerLeaseMs(input.timeoutMs, input.marginMs) <= afterPromiseMs && leaseFitsOneMessage(input.leaseMs, input.timeoutMs, input.marginMs);
}
