import type { BackoffPolicy } from './backoff.js';

/**
 * Keyed flow control (README: Groups): limits per group of a queue whose messages carry a
 * groupKey (an account, a tenant), held across every drain run at once (lib/sql/groupLimits.ts).
 * A group's runtime override (`aurora-queue groups set`) wins over these.
 */
export interface GroupLimits {
  /** Most messages of one group in flight at once; undefined = no per-group limit. */
  concurrency?: number;
  /** Most starts of one group per second; undefined = no per-group rate. */
  ratePerSecond?: number;
  /**
   * Share the queue's capacity across the groups with due messages, round-robin within a
   * priority: one group's backlog delays another group's first message by at most a claim.
   */
  fair?: boolean;
}

/**
 * A queue's limits. Messages of any registered type may go to any declared queue unless it names
 * the types it carries; the queue decides how fast and how wide a drain run delivers them (peak
 * shaving), the type decides what delivery means.
 */
export interface QueueConfig {
  name: string;
  /**
   * The job types this queue carries; undefined = every registered type. Its leases and its
   * drain's budget fit the longest of these, not of every type: a queue of fast types holds (and
   * pipelines) more per lease beside a slow type elsewhere. Other types are refused at enqueue.
   */
  types: readonly string[] | undefined;
  /** Messages taken per claim. */
  batchSize: number;
  /**
   * Handlers running at once for this queue across every drain run together (queue-wide, held in
   * the database: lib/sql/permits.ts); undefined = no queue-wide limit.
   */
  concurrency: number | undefined;
  /**
   * Messages started per second for this queue across every drain run together (queue-wide: at
   * most this many in any one-second window); undefined = as fast as the handlers go.
   */
  ratePerSecond: number | undefined;
  /** Handlers running at once for this queue within one drain run (the run's own fan-out). */
  drainConcurrency: number;
  /** Messages started per second by one drain run on its own; undefined = no per-run limit. */
  drainRatePerSecond: number | undefined;
  /**
   * A FIFO queue: every message carries a groupKey, and the messages of one group run one at a
   * time in enqueue order (lib/sql/claimGroupHeads.ts). Different groups run in parallel.
   */
  fifo: boolean;
  /**
   * Per-group limits and fairness: every message carries a groupKey; undefined = not a grouped queue
   * (a FIFO queue is grouped its own way, one in flight per group).
   */
  groups: GroupLimits | undefined;
  /** Visibility timeout: a claimed message not settled by then is claimable again. */
  leaseSeconds: number;
  /** Attempts before a message is dead-lettered, unless its type or the message says otherwise. */
  maxAttempts: number;
  /** Per-queue backoff; a type's own backoff wins over it. */
  backoff: Partial<BackoffPolicy>;
  /** How long done and cancelled messages stay queryable before retention deletes them. */
  retentionSeconds: number;
  /** How long dead letters are kept; undefined = until redriven or purged. */
  deadRetentionSeconds: number | undefined;
}

export type QueueDeclaration = Pick<QueueConfig, 'name'> & Partial<Omit<QueueConfig, 'name'>>;

/**
 * Time kept free at the end of every lease for the claim's round trip and the settle calls; the
 * drain's default safety margin. A lease must fit the longest handler timeout plus this.
 */
export const LEASE_MARGIN_MS = 5_000;

/**
 * Wake on enqueue: at most one wake per queue per interval, and a lingering drain keeps its
 * promise to poll at least this far ahead (lib/wake.ts, lib/drain/activity.ts).
 */
export const WAKE_INTERVAL_MS = 1_000;

/** A handler's timeout when its job type sets none. */
export const DEFAULT_HANDLER_TIMEOUT_MS = 10_000;

/**
 * What a claim's round trip (the claim and the read of its messages) may take: a lease starts
 * when the claim statement runs, its messages start only after the read returns.
 */
export const CLAIM_ALLOWANCE_MS = 2_000;

/**
 * What a heartbeat's round trip (lib/drain/leaseKeeper.ts: one statement extending a lane's
 * held messages) may take.
 */
export const BEAT_ALLOWANCE_MS = 2_000;

/**
 * A lease that fits its handler whole, with no heartbeat: the message starts while its lease has
 * its handler's whole timeout plus the settle margin left, and a claim's round trip has already
 * used some of the lease by then. E.g. a 10 s handler timeout, the 5 s margin and the 2 s
 * allowance: 17 s. Also the time a claimed message needs of the run, at worst.
 */
export function handlerLeaseMs(timeoutMs: number, marginMs: number = LEASE_MARGIN_MS): number {
  return timeoutMs + marginMs + CLAIM_ALLOWANCE_MS;
}

/**
 * The shortest lease heartbeats can keep, whatever the handler's timeout. The drain beats every
 * third of the lease (leaseKeeper.ts), so after a beat a handler that ends just before the next
 * one still has two thirds of the lease, less a beat's round trip, to settle in: 2/3 of the lease
 * must hold the margin and a beat's round trip; and the claim's round trip comes before the first
 * beat. E.g. the 5 s margin: 2 + 1.5 × (5 + 2) = 12.5 s.
 */
export function heartbeatLeaseMs(marginMs: number = LEASE_MARGIN_MS): number {
  return CLAIM_ALLOWANCE_MS + Math.ceil(1.5 * (marginMs + BEAT_ALLOWANCE_MS));
}

/**
 * The one rule for "fits in the lease", used by the config check at load, the drain's selection
 * and the lane: a lease that fits the handler whole (handlerLeaseMs), or one heartbeats can keep
 * (heartbeatLeaseMs), whichever is shorter. A lease shorter than both is refused.
 */
export function minimumLeaseMs(timeoutMs: number, marginMs: number = LEASE_MARGIN_MS): number {
  return Math.min(handlerLeaseMs(timeoutMs, marginMs), heartbeatLeaseMs(marginMs));
}

function positiveNumber(env: NodeJS.ProcessEnv, name: string, fallback: number): number;
function positiveNumber(env: NodeJS.ProcessEnv, name: string, fallback: undefined): number | undefined;
function positiveNumber(env: NodeJS.ProcessEnv, name: string, fallback: number | undefined): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got "${raw}"`);
  return value;
}

/** Drain-wide defaults, tunable per deployment through the environment. */
export function queueDefaults(env: NodeJS.ProcessEnv = process.env): Omit<QueueConfig, 'name'> {
  return {
    types: undefined,
    batchSize: Math.floor(positiveNumber(env, 'DRAIN_BATCH_SIZE', 100)),
    concurrency: undefined,
    ratePerSecond: undefined,
    drainConcurrency: Math.floor(positiveNumber(env, 'DRAIN_CONCURRENCY', 50)),
    drainRatePerSecond: positiveNumber(env, 'DRAIN_RATE_PER_SECOND', undefined),
    fifo: false,
    groups: undefined,
    leaseSeconds: positiveNumber(env, 'LEASE_SECONDS', 60),
    maxAttempts: Math.floor(positiveNumber(env, 'MAX_ATTEMPTS', 5)),
    backoff: {},
    retentionSeconds: positiveNumber(env, 'RETENTION_SECONDS', 7 * 24 * 3600),
    deadRetentionSeconds: positiveNumber(env, 'DEAD_RETENTION_SECONDS', undefined),
  };
}

/** Handlers one drain run may run at once on a queue: its own fan-out within the queue-wide limit. */
export function runConcurrency(queue: Pick<QueueConfig, 'concurrency' | 'drainConcurrency'>): number {
  return Math.min(queue.drainConcurrency, queue.concurrency ?? Number.POSITIVE_INFINITY);
}

/** Whether a claim on this queue must take permits first (a queue-wide limit is set). */
export function hasQueueWideLimits(queue: Pick<QueueConfig, 'concurrency' | 'ratePerSecond'>): boolean {
  return queue.concurrency !== undefined || queue.ratePerSecond !== undefined;
}

/**
 * A queue's per-group limits as the drain and the operations apply them: none for a FIFO queue,
 * which runs one message per group its own way (its `groups` may only say concurrency 1).
 */
export function groupLimitsOf(queue: Partial<Pick<QueueConfig, 'fifo' | 'groups'>>): GroupLimits | undefined {
  return queue.fifo === true ? undefined : queue.groups;
}

/** Declares a per-group concurrency or rate (fairness alone limits nothing). */
export function declaresGroupLimits(groups: GroupLimits): boolean {
  return groups.concurrency !== undefined || groups.ratePerSecond !== undefined;
}

/** Whether a queue's messages carry a groupKey: a FIFO queue or one with per-group limits. */
export function isGroupedQueue(queue: Pick<QueueConfig, 'fifo' | 'groups'>): boolean {
  return queue.fifo || queue.groups !== undefined;
}

/** The declared queues with defaults filled in, by name. */
export function resolveQueues(declarations: readonly QueueDeclaration[], env: NodeJS.ProcessEnv = process.env): Map<string, QueueConfig> {
  const defaults = queueDefaults(env);
  return new Map(declarations.map((d) => [d.name, { ...defaults, ...d, backoff: { ...defaults.backoff, ...d.backoff } }]));
}
