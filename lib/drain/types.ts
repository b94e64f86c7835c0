import { DEFAULT_HANDLER_TIMEOUT_MS, LEASE_MARGIN_MS } from '../queues.js';
import { DEFAULT_MAX_PAGE_BYTES } from './claim.js';
import { DEFAULT_SETTLE_FLUSH_SIZE, DEFAULT_SETTLE_LINGER_MS } from './settle.js';

/** Where a drain run reports what goes wrong; a Powertools Logger fits. */
export interface DrainLog {
  warn(message: string, attributes: Record<string, unknown>): void;
  error(message: string, attributes: Record<string, unknown>): void;
}

export const silentLog: DrainLog = { warn: () => {}, error: () => {} };

/** Knobs of a drain run that are not queue configuration; the defaults suit a Lambda. */
export interface DrainTuning {
  /**
   * Kept free at the end of every lease and of the run: the claim's round trip, the settle calls
   * and the retention calls must fit in it.
   */
  safetyMarginMs: number;
  /** A handler's timeout when its job type sets none. */
  defaultTimeoutMs: number;
  /** Claims a lane keeps in flight at once (pipelining depth). */
  maxClaimsInFlight: number;
  /** A lane claims no more while this many outcomes wait to be written. */
  maxUnsettled: number;
  /** Most rows in one settle call. */
  settleFlushSize: number;
  /** How long an outcome waits for others to share its settle call. */
  settleLingerMs: number;
  /** What one read of claimed messages may take in the response, at its worst case (lib/sql/responseBytes.ts). */
  maxPageBytes: number;
  /** Finished messages deleted per retention call. */
  retentionBatchSize: number;
  /** Retention calls per queue per run, at most. */
  retentionMaxCalls: number;
  /** How often a lane with running handlers reads their cancel requests (lib/drain/cancelWatch.ts). */
  cancelPollMs: number;
}

export const DEFAULT_DRAIN_TUNING: DrainTuning = {
  safetyMarginMs: LEASE_MARGIN_MS,
  defaultTimeoutMs: DEFAULT_HANDLER_TIMEOUT_MS,
  maxClaimsInFlight: 6,
  maxUnsettled: 2_000,
  settleFlushSize: DEFAULT_SETTLE_FLUSH_SIZE,
  settleLingerMs: DEFAULT_SETTLE_LINGER_MS,
  maxPageBytes: DEFAULT_MAX_PAGE_BYTES,
  retentionBatchSize: 1_000,
  retentionMaxCalls: 5,
  cancelPollMs: 500,
};
