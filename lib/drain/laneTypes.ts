import type { Clock } from '../clock.js';
import type { Db } from '../db/types.js';
import type { JobRegistry } from '../jobs/JobRegistry.js';
import type { QueueConfig } from '../queues.js';
import type { DrainActivity } from './activity.js';
import type { QuotaShare } from './quota.js';
import type { SettleCounts } from './settle.js';
import type { DrainLog, DrainTuning } from './types.js';

/** What a queue's lane (lib/drain/lane.ts) is given, and what it reports. */

/** Why a lane stopped claiming. */
export type StopReason =
  /** A claim found fewer due messages than it asked for: the queue is drained for now. */
  | 'empty'
  /** The run's maxMessages were claimed. */
  | 'max-messages'
  /** Not even one more message could finish before the run must stop. */
  | 'time'
  /** The queue's lease is shorter than the longest handler timeout plus the margin. */
  | 'lease-too-short'
  | 'aborted'
  /** A claim failed (after the Db layer's own retries, and the lane's: lib/drain/claimRetry.ts). */
  | 'error';

export interface LaneSummary extends SettleCounts {
  queue: string;
  claimed: number;
  dispatched: number;
  stoppedBecause: StopReason;
  errors: string[];
  /** A queue with per-group limits: claims its groups' limits held back. */
  throttledClaims?: number;
}

export interface LaneOptions {
  db: Db;
  clock: Clock;
  queue: QueueConfig;
  /** The job types the queue carries (JobRegistry.carriedBy): what the lane dispatches and budgets by. */
  jobs: JobRegistry;
  quota: QuotaShare;
  /** Time left in the run, as the Lambda sees it. */
  remainingTimeMs: () => number;
  signal: AbortSignal;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
  tuning: DrainTuning;
  log: DrainLog;
  /** Keep polling a queue that runs dry, briefly, instead of stopping (see LaneLinger). */
  linger?: LaneLinger;
}

/**
 * A lane that lingers keeps claiming while work arrives; when its queue runs dry it polls with a
 * backing-off interval for `idleMs`, and until its activity promise has passed, before it stops.
 */
export interface LaneLinger {
  idleMs: number;
  pollMinMs: number;
  pollMaxMs: number;
  /** The longest poll interval while held back by other runs' permits (LingerSchedule). */
  heldBackPollMaxMs?: number;
  /** Linger only once a claim has found work (a scheduled run on an idle queue stays one call). */
  onlyAfterWork: boolean;
  activity: DrainActivity;
}
