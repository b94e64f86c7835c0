/**
 * Structured JSON logs and CloudWatch metrics (Embedded Metric Format) for the queue, on Powertools
 * for AWS Lambda.
 *
 * Where the objects live: Powertools expects one Logger and one Metrics per module, created at
 * init, and keeps what belongs to a single invocation (temporary log keys, buffered metrics and
 * dimensions) in invocation-scoped stores, which become per-invocation once Lambda runs several
 * invocations in one environment (AWS_LAMBDA_MAX_CONCURRENCY). So handlers create the logger at
 * module scope with `createLogger()`. What those stores cannot separate is concurrent work inside
 * ONE invocation, and the drain processes many messages and queues at once. Hence:
 *   - per-message log keys go in each call (`logger.info('dispatched', messageLogKeys(m))`), never
 *     through `appendKeys`, which every message in flight would share;
 *   - per-queue metrics go through `publishQueueMetrics`, which builds, dimensions and writes one
 *     EMF record in a single synchronous call, so two queues' counts can never mix.
 *
 * Logs carry message ids and queue names. Keys that hold user payloads or credentials are replaced
 * by "[redacted]" at any depth (see DEFAULT_REDACTED_KEYS), so logging a whole message row or a
 * whole API Gateway event does not leak a payload.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { LogLevel } from '@aws-lambda-powertools/logger/types';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { traceIdOf } from './tracing.js';

export const SERVICE_NAME = 'aurora-queue';
export const METRICS_NAMESPACE = 'AuroraQueue';
export const REDACTED = '[redacted]';

/** Compared case-insensitively against every key of every logged object. */
export const DEFAULT_REDACTED_KEYS: readonly string[] = [
  'payload',
  'body',
  'rawBody',
  'password',
  'secretString',
  'authorization',
  'cookie',
  'x-amz-security-token',
];

export interface LoggerOptions {
  /** Default: POWERTOOLS_SERVICE_NAME, else "aurora-queue". */
  serviceName?: string;
  /** Default: Powertools reads POWERTOOLS_LOG_LEVEL / AWS_LAMBDA_LOG_LEVEL, else INFO. */
  logLevel?: LogLevel;
  /** Pass [] to log payloads, e.g. while debugging locally. */
  redactedKeys?: readonly string[];
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const redacted = new Set((options.redactedKeys ?? DEFAULT_REDACTED_KEYS).map((key) => key.toLowerCase()));
  return new Logger({
    serviceName: options.serviceName ?? serviceNameFromEnv(),
    ...(options.logLevel ? { logLevel: options.logLevel } : {}),
    jsonReplacerFn: (key, value) => (redacted.has(key.toLowerCase()) ? REDACTED : value),
  });
}

export interface MetricsOptions {
  /** Default: POWERTOOLS_METRICS_NAMESPACE, else "AuroraQueue". */
  namespace?: string;
  /** Becomes the `service` dimension. Default: POWERTOOLS_SERVICE_NAME, else "aurora-queue". */
  serviceName?: string;
}

/**
 * A Metrics for the handler's own metrics (e.g. with the `logMetrics` middleware). The queue
 * metrics below do not go through it; a handler that records nothing else does not need one, and
 * `logMetrics` on an empty buffer logs a "No application metrics to publish" warning.
 */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  return new Metrics({
    namespace: options.namespace ?? namespaceFromEnv(),
    serviceName: options.serviceName ?? serviceNameFromEnv(),
  });
}

/** The product's metrics and their units; every one carries the dimensions `service` and `queue`. */
export const QUEUE_METRIC_UNITS = {
  Enqueued: MetricUnit.Count,
  Dispatched: MetricUnit.Count,
  Succeeded: MetricUnit.Count,
  Retried: MetricUnit.Count,
  DeadLettered: MetricUnit.Count,
  /** Running messages stopped by a cancel request (DELETE /messages/{id}) and settled `cancelled`. */
  Cancelled: MetricUnit.Count,
  /** Claims on a queue with per-group limits that the groups' limits held back (README: Groups). */
  ThrottledClaims: MetricUnit.Count,
  DrainDurationMs: MetricUnit.Milliseconds,
  QueueDepth: MetricUnit.Count,
  OldestDueAgeSeconds: MetricUnit.Seconds,
  /** Timed wakes a run could not set (lib/timedWakes.ts): the safety-net schedule drains those queues. */
  WakeFailures: MetricUnit.Count,
} as const;

export type QueueMetricName = keyof typeof QUEUE_METRIC_UNITS;
export type QueueMetricValues = Partial<Record<QueueMetricName, number>>;

/**
 * Writes one EMF record holding `values` for `queue`, immediately. Zero counts are written (an
 * explicit 0 keeps graphs and Metrics Insights alarms continuous); absent names are not. Writes
 * nothing when `values` is empty. The alarms in serverless.yml query these metrics by the
 * dimension set (queue, service), so keep both.
 */
export function publishQueueMetrics(queue: string, values: QueueMetricValues, options: MetricsOptions = {}): void {
  const entries = Object.entries(values).filter((entry): entry is [QueueMetricName, number] => entry[1] !== undefined);
  if (entries.length === 0) return;
  const record = new Metrics({
    namespace: options.namespace ?? namespaceFromEnv(),
    serviceName: options.serviceName ?? serviceNameFromEnv(),
    defaultDimensions: { queue },
  });
  for (const [name, value] of entries) record.addMetric(name, QUEUE_METRIC_UNITS[name], value);
  record.publishStoredMetrics();
}

// A type, not an interface: Logger's extra-keys parameter takes an index signature, which only
// type aliases satisfy implicitly.
export type MessageLogKeys = {
  messageId: string;
  queue: string;
  jobType?: string;
  attempt?: number;
  /** The trace the message was enqueued in (lib/tracing.ts), when it has one. */
  traceId?: string;
};

/** The fields of a message that are safe to log: identity and progress, never the payload. */
export function messageLogKeys(message: { id: string; queue: string; type?: string; attempts?: number; traceContext?: string | null }): MessageLogKeys {
  const traceId = traceIdOf(message.traceContext);
  return {
    messageId: message.id,
    queue: message.queue,
    ...(message.type !== undefined ? { jobType: message.type } : {}),
    ...(message.attempts !== undefined ? { attempt: message.attempts } : {}),
    ...(traceId === null ? {} : { traceId }),
  };
}

function serviceNameFromEnv(): string {
  return process.env.POWERTOOLS_SERVICE_NAME || SERVICE_NAME;
}

function namespaceFromEnv(): string {
  return process.env.POWERTOOLS_METRICS_NAMESPACE || METRICS_NAMESPACE;
}
