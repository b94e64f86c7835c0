/** Draining queues: claim with a lease, dispatch, settle, retention. */
export { DEFAULT_BACKOFF, backoffDelayMs, nextAvailableAt, resolveBackoff } from '../backoff.js';
export { claimLimit, mayStart, worstCaseMs, type ClaimBudgetInput, type StartCheckInput } from './budget.js';
export { claimMessages, DEFAULT_MAX_PAGE_BYTES, type Claim, type HeldClaimedMessage } from './claim.js';
export { dispatch, finalOutcome, type Outcome } from './dispatch.js';
export { drain, UnknownQueueError, type DrainOptions, type DrainSummary, type QueueDrainSummary } from './drain.js';
export type { StopReason } from './laneTypes.js';
export { TokenBucket } from './rateLimiter.js';
export { drainMetrics } from './report.js';
export { deleteExpiredMessages } from './retention.js';
export { Settler, type SettleCounts } from './settle.js';
export { DEFAULT_DRAIN_TUNING, type DrainLog, type DrainTuning } from './types.js';
