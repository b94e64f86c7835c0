/**
 * The team's configuration: its queues and their limits, and the job types it runs. Written once
 * in `queue.config.ts` at the repository root and loaded by every entry point (each Lambda
 * handler, the CLI, `npm start`, the demo, the bench). Drain-wide defaults stay in the
 * environment (DRAIN_BATCH_SIZE, LEASE_SECONDS, ...: serverless.yml parameters), so a deployment
 * is tuned without a code change.
 */
import * as z from 'zod';
import { MAX_GROUP_CONCURRENCY, MAX_GROUP_RATE } from '../schema/groups.js';
import { queueName } from '../schema/messages.js';
import { resolveBackoff } from './backoff.js';
import { JobRegistry } from './jobs/JobRegistry.js';
import type { AnyJobType } from './jobs/types.js';
import { recurringProblems, type RecurringEntry } from './recurring.js';
import {
  BEAT_ALLOWANCE_MS,
  CLAIM_ALLOWANCE_MS,
  DEFAULT_HANDLER_TIMEOUT_MS,
  type GroupLimits,
  handlerLeaseMs,
  LEASE_MARGIN_MS,
  minimumLeaseMs,
  type QueueConfig,
  type QueueDeclaration,
} from './queues.js';
import { configProblems } from './validation.js';

export interface QueueAppConfig<J extends AnyJobType = AnyJobType> {
  readonly queues: readonly QueueDeclaration[];
  readonly jobTypes: readonly J[];
  /**
   * Time a lease keeps free beyond the longest handler timeout, for the claim's round trip and
   * the settles: the drain's safety margin. Default 5 s; only tests with tiny leases lower it,
   * together with the drain's own tuning.
   */
  readonly leaseMarginMs?: number;
  /** Messages enqueued on a schedule by every drain run (lib/recurring.ts). */
  readonly recurring?: readonly RecurringEntry<J>[];
}

/** The job types of a config, e.g. `App<JobTypesOf<typeof config>>` for a typed enqueue. */
export type JobTypesOf<C> = C extends QueueAppConfig<infer J> ? J : never;

/** A configuration that cannot work; names the queue or type and the rule. */
export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`invalid queue configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

const whole = (min: number) => z.number().int(`must be a whole number of at least ${min}`).min(min, `must be a whole number of at least ${min}`);
const positive = z.number().positive('must be a positive number').finite('must be a positive number');

/**
 * Queue-wide limits are rows in the database (one permit each), so they are
 * bounded: beyond this, a queue is as good as unlimited and needs no permits.
 */
const MAX_QUEUE_WIDE_LIMIT = 10_000;

const queueDeclaration = z.strictObject({
  name: queueName,
  types: z.array(z.string('must be a job type name'), 'must be a list of job type names').min(1, 'must name at least one job type').optional(),
  batchSize: whole(1).max(1_000, 'must be at most 1000').optional(),
  concurrency: whole(1).max(MAX_QUEUE_WIDE_LIMIT, `must be at most ${MAX_QUEUE_WIDE_LIMIT}`).optional(),
  ratePerSecond: positive.max(MAX_QUEUE_WIDE_LIMIT, `must be at most ${MAX_QUEUE_WIDE_LIMIT}`).optional(),
  drainConcurrency: whole(1).optional(),
  drainRatePerSecond: positive.optional(),
  fifo: z.boolean('must be true or false').optional(),
  groups: z
    .strictObject({
      concurrency: whole(1).max(MAX_GROUP_CONCURRENCY, `must be at most ${MAX_GROUP_CONCURRENCY}`).optional(),
      ratePerSecond: positive.max(MAX_GROUP_RATE, `must be at most ${MAX_GROUP_RATE}`).optional(),
      fair: z.boolean('must be true or false').optional(),
    })
    .optional(),
  leaseSeconds: positive.optional(),
  maxAttempts: whole(1).max(100, 'must be at most 100').optional(),
  backoff: z.strictObject({ baseMs: z.number().optional(), maxMs: z.number().optional(), factor: z.number().optional() }).optional(),
  retentionSeconds: positive.optional(),
  deadRetentionSeconds: positive.optional(),
});

/**
 * `export default defineConfig({ queues: [...], jobTypes: [...], recurring: [...] })`. Checks
 * everything it can at load (names, duplicates, limits, each type's settings, leases that are
 * given, the recurring entries' schedules, queues, types and payloads) and throws a ConfigError
 * listing every problem. Keeps the job types' literal names and payload types, so an enqueue
 * through this config, and a recurring entry in it, is type-checked.
 */
export function defineConfig<const J extends readonly AnyJobType[]>(config: {
  queues: readonly QueueDeclaration[];
  jobTypes: J;
  leaseMarginMs?: number;
  recurring?: NoInfer<readonly RecurringEntry<J[number]>[]>;
}): QueueAppConfig<J[number]> {
  const problems: string[] = [];
  if (config.queues.length === 0) problems.push('queues: declare at least one queue');
  let jobs: JobRegistry | undefined;
  try {
    jobs = new JobRegistry(config.jobTypes);
  } catch (error) {
    problems.push((error as Error).message);
  }
  // Each declared queue by name, with the types it carries (undefined: any).
  const seen = new Map<string, readonly string[] | undefined>();
  for (const [index, declaration] of config.queues.entries()) {
    const label = typeof declaration?.name === 'string' ? `queue "${declaration.name}"` : `queues[${index}]`;
    if (seen.has(declaration.name)) problems.push(`${label}: declared twice`);
    seen.set(declaration.name, undefined);
    const parsed = queueDeclaration.safeParse(declaration);
    if (!parsed.success) {
      problems.push(...configProblems(label, parsed.error));
      continue;
    }
    seen.set(declaration.name, parsed.data.types);
    problems.push(...groupProblems(label, parsed.data));
    if (jobs !== undefined) problems.push(...carriedTypeProblems(label, parsed.data.types, jobs));
    try {
      resolveBackoff(declaration.backoff);
    } catch (error) {
      problems.push(`${label}: ${(error as Error).message}`);
    }
  }
  const recurring = config.recurring ?? [];
  problems.push(...recurringProblems(recurring, { queues: seen, jobs }));
  if (problems.length === 0 && jobs !== undefined)
    problems.push(...leaseProblems(config.queues.filter((q) => q.leaseSeconds !== undefined) as QueueConfig[], jobs, config.leaseMarginMs));
  if (problems.length > 0) throw new ConfigError(problems);
  return { queues: config.queues, jobTypes: config.jobTypes, leaseMarginMs: config.leaseMarginMs, ...(recurring.length > 0 ? { recurring } : {}) };
}

/**
 * A FIFO queue runs one message per group at a time, in order: per-group limits would contradict
 * it (concurrency above 1) or are not offered there yet (rate, fairness).
 */
function groupProblems(label: string, queue: { fifo?: boolean | undefined; groups?: GroupLimits | undefined }): string[] {
  if (queue.fifo !== true || queue.groups === undefined) return [];
  const problems: string[] = [];
  const { concurrency, ratePerSecond, fair } = queue.groups;
  if (concurrency !== undefined && concurrency > 1)
    problems.push(
      `${label}: groups.concurrency ${concurrency} cannot go with fifo: true, which runs one message per group at a time in order; drop fifo or the concurrency`,
    );
  if (ratePerSecond !== undefined || fair !== undefined)
    problems.push(
      `${label}: groups.ratePerSecond and groups.fair are for queues without fifo: true (a FIFO queue already runs its groups side by side, one message each)`,
    );
  return problems;
}

/** Every queue's `types` name registered types, each once (createApp's check of a config not made by defineConfig). */
export function queueTypeProblems(queues: readonly Pick<QueueConfig, 'name' | 'types'>[], jobs: JobRegistry): string[] {
  return queues.flatMap((queue) => carriedTypeProblems(`queue "${queue.name}"`, queue.types, jobs));
}

/** A queue's `types` name registered types, each once. */
function carriedTypeProblems(label: string, types: readonly string[] | undefined, jobs: JobRegistry): string[] {
  if (types === undefined) return [];
  const problems = types.filter((type) => !jobs.has(type)).map((type) => `${label}: types: ${jobs.notRegistered(type)}`);
  const repeated = types.filter((type, i) => types.indexOf(type) !== i);
  if (repeated.length > 0) problems.push(`${label}: types: "${repeated[0]}" is named twice`);
  return problems;
}

/**
 * A queue's lease must fit the longest handler that may run on it (of the types it carries, or
 * of every type), or be long enough for heartbeats to keep it (minimumLeaseMs); otherwise a
 * drain can never start a message there.
 */
export function leaseProblems(
  queues: readonly Pick<QueueConfig, 'name' | 'leaseSeconds' | 'types'>[],
  jobs: JobRegistry,
  marginMs: number = LEASE_MARGIN_MS,
): string[] {
  return queues.flatMap((queue) => leaseProblem(queue, jobs.carriedBy(queue.types).longestTimeout(DEFAULT_HANDLER_TIMEOUT_MS), marginMs));
}

function leaseProblem(queue: Pick<QueueConfig, 'name' | 'leaseSeconds'>, carried: { type: string | undefined; timeoutMs: number }, marginMs: number): string[] {
  const longest = { ...carried, type: carried.type ?? '(default)' };
  const neededSeconds = minimumLeaseMs(longest.timeoutMs, marginMs) / 1_000;
  const withoutBeats = handlerLeaseMs(longest.timeoutMs, marginMs) / 1_000;
  // Say the rule that set the minimum: the handler's whole timeout, or what heartbeats need.
  const rule =
    withoutBeats <= neededSeconds
      ? `the longest handler's timeout (${longest.type}: ${longest.timeoutMs / 1_000} s) + the settle margin (${marginMs / 1_000} s) + ` +
        `the claim's round trip (${CLAIM_ALLOWANCE_MS / 1_000} s) = ${neededSeconds} s`
      : `what heartbeats need (the longest handler, ${longest.type}: ${longest.timeoutMs / 1_000} s, is kept alive by them): the claim's round trip ` +
        `(${CLAIM_ALLOWANCE_MS / 1_000} s) + 1.5 × (the settle margin (${marginMs / 1_000} s) + a beat's round trip (${BEAT_ALLOWANCE_MS / 1_000} s)) = ${neededSeconds} s`;
  if (queue.leaseSeconds >= neededSeconds) return [];
  return [`queue "${queue.name}": leaseSeconds ${queue.leaseSeconds} is too short: it must fit ${rule}; make the lease at least ${neededSeconds} s`];
}
