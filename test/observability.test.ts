import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger, messageLogKeys, publishQueueMetrics, QUEUE_METRIC_UNITS, REDACTED } from '../lib/observability.js';

/**
 * Powertools writes through its own Console on process.stdout/stderr (not the global console
 * vitest captures), unless POWERTOOLS_DEV is set, which also disables metrics. The tests capture
 * the streams and run with the POWERTOOLS_* variables a deployment would have.
 */
const POWERTOOLS_ENV = ['POWERTOOLS_DEV', 'POWERTOOLS_METRICS_DISABLED', 'POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_METRICS_NAMESPACE', 'POWERTOOLS_LOG_LEVEL'];

let stdout: string[];
let stderr: string[];
/** Both streams in write order: Powertools sends WARN and ERROR to stderr. */
let output: string[];
let savedEnv: Record<string, string | undefined>;

beforeEach(() => {
  savedEnv = Object.fromEntries(POWERTOOLS_ENV.map((key) => [key, process.env[key]]));
  for (const key of POWERTOOLS_ENV) delete process.env[key];
  stdout = [];
  stderr = [];
  output = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout.push(String(chunk));
    output.push(String(chunk));
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr.push(String(chunk));
    output.push(String(chunk));
    return true;
  });
});

afterEach(() => {
  vi.restoreAllMocks();
  for (const [key, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
});

const lines = (chunks: string[]) =>
  chunks
    .join('')
    .split('\n')
    .filter((line) => line.trim() !== '');
const records = () => lines(output).map((line) => JSON.parse(line) as Record<string, any>);

describe('publishQueueMetrics', () => {
  it('writes one EMF record with the service and queue dimensions and each metric with its unit', () => {
    publishQueueMetrics('emails', { Dispatched: 25, Succeeded: 23, Retried: 1, DeadLettered: 1, DrainDurationMs: 812 });

    const [record, ...rest] = records();
    expect(rest).toEqual([]);
    expect(record!._aws).toMatchObject({
      Timestamp: expect.any(Number),
      CloudWatchMetrics: [
        {
          Namespace: 'AuroraQueue',
          Dimensions: [expect.arrayContaining(['service', 'queue'])],
          Metrics: [
            { Name: 'Dispatched', Unit: 'Count' },
            { Name: 'Succeeded', Unit: 'Count' },
            { Name: 'Retried', Unit: 'Count' },
            { Name: 'DeadLettered', Unit: 'Count' },
            { Name: 'DrainDurationMs', Unit: 'Milliseconds' },
          ],
        },
      ],
    });
    expect(record!._aws.CloudWatchMetrics[0].Dimensions[0]).toHaveLength(2);
    expect(record).toMatchObject({
      service: 'aurora-queue',
      queue: 'emails',
      Dispatched: 25,
      Succeeded: 23,
      Retried: 1,
      DeadLettered: 1,
      DrainDurationMs: 812,
    });
    expect(lines(stderr)).toEqual([]);
  });

  it('keeps each queue in its own record when several queues are published in turn', () => {
    publishQueueMetrics('emails', { QueueDepth: 120, OldestDueAgeSeconds: 42.5 });
    publishQueueMetrics('webhooks', { QueueDepth: 0, OldestDueAgeSeconds: 0 });

    const [emails, webhooks] = records();
    expect(emails).toMatchObject({ queue: 'emails', QueueDepth: 120, OldestDueAgeSeconds: 42.5 });
    expect(webhooks).toMatchObject({ queue: 'webhooks', QueueDepth: 0, OldestDueAgeSeconds: 0 });
    expect(emails!._aws.CloudWatchMetrics[0].Metrics).toContainEqual({ Name: 'OldestDueAgeSeconds', Unit: 'Seconds' });
  });

  it('takes namespace and service from the deployment environment', () => {
    process.env.POWERTOOLS_SERVICE_NAME = 'aurora-queue-prod';
    process.env.POWERTOOLS_METRICS_NAMESPACE = 'AuroraQueueTest';
    publishQueueMetrics('orders', { Enqueued: 1 });

    const [record] = records();
    expect(record).toMatchObject({ service: 'aurora-queue-prod', queue: 'orders', Enqueued: 1 });
    expect(record!._aws.CloudWatchMetrics[0].Namespace).toBe('AuroraQueueTest');
  });

  it('writes nothing, and warns about nothing, when there is nothing to publish', () => {
    publishQueueMetrics('emails', {});
    publishQueueMetrics('emails', { Enqueued: undefined });

    expect(stdout).toEqual([]);
    expect(stderr).toEqual([]);
  });

  it('is silenced by POWERTOOLS_METRICS_DISABLED', () => {
    process.env.POWERTOOLS_METRICS_DISABLED = 'true';
    publishQueueMetrics('emails', { Enqueued: 1 });

    expect(stdout).toEqual([]);
  });

  it('covers exactly the product metrics', () => {
    expect(Object.keys(QUEUE_METRIC_UNITS).sort()).toEqual([
      'Cancelled',
      'DeadLettered',
      'Dispatched',
      'DrainDurationMs',
      'Enqueued',
      'OldestDueAgeSeconds',
      'QueueDepth',
      'Retried',
      'Succeeded',
      'ThrottledClaims',
      'WakeFailures',
    ]);
  });
});

describe('createLogger', () => {
  const secretPayload = { to: '+15555550100', text: 'your code is 918273', card: '4111111111111111' };

  it('writes JSON lines with the service, message id and queue', () => {
    const logger = createLogger();
    logger.info('enqueued', messageLogKeys({ id: '0190d6c2-7f3a-7c4e-9d2b-5b1f2a3c4d5e', queue: 'sms', type: 'sms.send', attempts: 2 }));

    const [entry] = records();
    expect(entry).toMatchObject({
      level: 'INFO',
      message: 'enqueued',
      service: 'aurora-queue',
      messageId: '0190d6c2-7f3a-7c4e-9d2b-5b1f2a3c4d5e',
      queue: 'sms',
      jobType: 'sms.send',
      attempt: 2,
      timestamp: expect.any(String),
    });
  });

  it('never writes a payload, even when a whole message or API event is logged', () => {
    const logger = createLogger();
    const row = { id: 'm-1', queue: 'sms', payload: secretPayload };
    const apiEvent = {
      rawPath: '/queues/sms/messages',
      body: JSON.stringify({ payload: secretPayload }),
      headers: { Authorization: 'AWS4-HMAC-SHA256 Credential=AKIA...' },
    };

    logger.info('claimed', { job: row });
    logger.warn('bad request', { event: apiEvent });
    logger.error('job failed', { ...messageLogKeys(row), Payload: secretPayload, error: new Error('downstream 503') });

    for (const fragment of ['+15555550100', '918273', '4111111111111111', 'AKIA']) expect(output.join('')).not.toContain(fragment);
    const [claimed, badRequest, failed] = records();
    expect(claimed).toMatchObject({ message: 'claimed', job: { id: 'm-1', queue: 'sms', payload: REDACTED } });
    expect(badRequest!.event).toMatchObject({ rawPath: '/queues/sms/messages', body: REDACTED, headers: { Authorization: REDACTED } });
    expect(failed).toMatchObject({ messageId: 'm-1', queue: 'sms', Payload: REDACTED, error: { name: 'Error', message: 'downstream 503' } });
  });

  it('logs payloads only when redaction is switched off explicitly', () => {
    createLogger({ redactedKeys: [] }).info('debug', { payload: { text: 'hello' } });

    expect(records()[0]).toMatchObject({ payload: { text: 'hello' } });
  });

  it('respects the log level', () => {
    const logger = createLogger({ logLevel: 'WARN' });
    logger.info('hidden');
    logger.warn('shown');

    expect(records().map((entry) => entry.message)).toEqual(['shown']);
  });
});
