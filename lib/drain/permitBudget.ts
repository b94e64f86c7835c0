/**
 * How much a lane claims under its queue's queue-wide limits (lib/sql/permits.ts), on top of the
 * time budget (budget.ts): pure functions of the lane's counts, so they can be pinned in tests.
 */

/** Most messages one claim takes: under queue-wide limits only what can start at once (smaller claims). */
export function claimBatchSize(batchSize: number, concurrency: number, hasQueueWideLimits: boolean): number {
  return hasQueueWideLimits ? Math.min(batchSize, concurrency) : batchSize;
}

export interface PermittedClaimInput {
  /** What the time budget allows now (claimLimit). */
  budget: number;
  /** Handlers this run may run at once. */
  concurrency: number;
  /** Whether the queue has a queue-wide concurrency (run permits), not only a rate. */
  hasRunPermits: boolean;
  /** Messages the lane has taken on and not finished: claims in flight, waiting and running. */
  held: number;
  running: number;
  /** Ready messages whose start time has come. */
  due: number;
  /** Whether run permits of this lane are being given back (writes in flight). */
  ownRunPermitsGoingBack: boolean;
  /** Whether messages late for their rate permits are going back, or waiting to (RateStarts.lateGoingBack). */
  lateGoingBack: boolean;
}

/**
 * How many messages a claim may take under the queue-wide limits; 0 means not now.
 *
 * Permits are taken for messages that have a run slot. A run permit held while its message waits
 * for a handler would idle the queue's capacity. A rate permit vouches for a start at its own time
 * (notBeforeMs), not whenever a slot frees: claims wait while due messages wait for slots, and one
 * that cannot start in time goes back (RateStarts). Our own run permits, or messages late for their
 * rate permits, on their way back: claim once they are, not to be held back by them or to find the
 * queue dry without them.
 */
export function permittedClaim(input: PermittedClaimInput): number {
  const taken = input.hasRunPermits ? input.held : input.running + input.due;
  const budget = Math.min(input.budget, input.concurrency - taken);
  if (budget <= 0) return 0;
  if ((input.hasRunPermits && input.ownRunPermitsGoingBack) || input.lateGoingBack) return 0;
  return budget;
}
