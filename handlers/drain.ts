import type { Context } from 'aws-lambda';
import * as z from 'zod';
import { lazyApp, type App } from '../lib/app.js';
import { drain, type DrainSummary } from '../lib/drain/drain.js';
import { drainMetrics } from '../lib/drain/report.js';
import type { DrainLog } from '../lib/drain/types.js';
import { QueueError } from '../lib/errors.js';
import { createLogger, publishQueueMetrics, type QueueMetricValues } from '../lib/observability.js';
import config from '../queue.config.js';

const logger = createLogger();

/** The EventBridge schedule's event: it carries nothing the run needs. */
const scheduledEvent = z.looseObject({ source: z.literal('aws.events'), 'detail-type': z.literal('Scheduled Event') });

/**
 * `serverless invoke --function drain --data '{"queue":"sms","maxMessages":500}'`, and the wake an
 * enqueue sends (`{ queue, wake: true }`, lib/wake.ts).
 */
const manualInvoke = z.strictObject({
  queue: z.string().min(1).max(64).optional(),
  maxMessages: z.number().int().positive().optional(),
  wake: z.boolean().optional(),
  /** A timed wake's own time (lib/wakeScheduler.ts): the run takes that wake off its queue. */
  wakeAt: z.iso.datetime().optional(),
});

export type DrainInput = z.output<typeof manualInvoke>;

export class DrainInputError extends QueueError {
  constructor(message: string) {
    super(message, { retryable: false });
  }
}

export interface DrainHandlerDeps {
  log?: DrainLog & { info(message: string, attributes: Record<string, unknown>): void };
  publishMetrics?: (queue: string, values: QueueMetricValues) => void;
  /**
   * The run is aborted this long before the Lambda's end, as a last resort: the time budget
   * normally ends it earlier (DEFAULT_DRAIN_TUNING.safetyMarginMs), and an abort abandons running
   * handlers. Must stay below the safety margin.
   */
  hardStopMs?: number;
  /** How long a run polls a queue that ran dry before it stops; 0 stops at once. Default DRAIN_LINGER_SECONDS. */
  lingerMs?: number;
}

/** A run lingers this long on a dry queue by default: twice the wake interval, so wakes coalesce. */
const DEFAULT_LINGER_MS = 2_000;

function lingerFromEnv(env: NodeJS.ProcessEnv): number {
  const raw = env.DRAIN_LINGER_SECONDS;
  if (raw === undefined || raw === '') return DEFAULT_LINGER_MS;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds < 0) throw new DrainInputError(`DRAIN_LINGER_SECONDS must be a number of seconds >= 0, got "${raw}"`);
  return seconds * 1_000;
}

/**
 * One drain run per invocation, on the schedule or by hand. Returns and logs the run's summary
 * (plus the calls spent on backlog metrics), and writes the per-queue metrics.
 */
export function createDrainHandler(getApp: () => App, deps: DrainHandlerDeps = {}) {
  const log = deps.log ?? logger;
  const publish = deps.publishMetrics ?? publishQueueMetrics;
  const hardStopMs = deps.hardStopMs ?? 1_000;
  const lingerMs = deps.lingerMs ?? lingerFromEnv(process.env);
  return async (event: unknown, context: Pick<Context, 'getRemainingTimeInMillis'>): Promise<DrainSummary> => {
    const input = parseInput(event);
    const app = getApp();
    const callsBefore = app.db.stats.calls;
    const remainingTimeMs = () => context.getRemainingTimeInMillis();
    const signal = AbortSignal.timeout(Math.max(0, remainingTimeMs() - hardStopMs));

    const { wake, wakeAt, ...selection } = input;
    const linger = lingerMs > 0 ? { idleMs: lingerMs, woken: wake === true } : undefined;
    // The run reads every queue's backlog as it ends (time allowing): the metrics below.
    const { overview, ...summary } = await drain(app, {
      ...selection,
      remainingTimeMs,
      signal,
      log,
      overview: true,
      ...(linger ? { linger } : {}),
      ...(wakeAt === undefined ? {} : { wakeAt: new Date(wakeAt) }),
    });
    for (const [queue, values] of drainMetrics(summary, overview ?? new Map())) publish(queue, values);

    const result = { ...summary, dataApiCalls: app.db.stats.calls - callsBefore };
    if (result.errors.length > 0) log.error('drain run finished with errors', { ...result });
    else log.info('drain run finished', { ...result });
    return result;
  };
}

function parseInput(event: unknown): DrainInput {
  if (event === null || event === undefined) return {};
  if (scheduledEvent.safeParse(event).success) return {};
  const parsed = manualInvoke.safeParse(event);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(event)'}: ${issue.message}`).join('; ');
    throw new DrainInputError(`expected a scheduled event or { queue?: string, maxMessages?: positive integer }: ${issues}`);
  }
  return parsed.data;
}

export const handler = createDrainHandler(lazyApp({ config }));
