/**
 * E1 and E2: messages through the enqueue Lambda handler (middy, validation, lib/enqueue, the SDK,
 * the local Data API server, MariaDB), called in this process as API Gateway would call it.
 */
import { inBatches } from '../lib/batches.js';
import { createEnqueueHandler } from '../../handlers/enqueue.js';
import type { App } from '../../lib/app.js';
import { benchPayload, BENCH_TYPE } from '../lib/seed.js';
import { BENCH_QUEUE, enqueueEvent, lambdaContext } from '../lib/benchApp.js';
import { ratePerSecond } from '../lib/stats.js';

export interface EnqueueResult {
  messages: number;
  ms: number;
  perSecond: number;
  /** Data API calls counted by the App's Db. */
  calls: number;
}

const quietLogger = { error: () => {}, warn: () => {} };

/**
 * Sends `count` messages in requests of `batch` (1: the single-message body, else `{ messages }`),
 * `inFlight` requests at once. Every answer must be 202.
 */
export async function enqueueThroughHandler(app: App, count: number, batch: number, inFlight: number): Promise<EnqueueResult> {
  // Metrics off: Powertools would print an EMF line per request to stdout.
  const handler = createEnqueueHandler(() => app, { logger: quietLogger, publishMetrics: () => {} });
  const callsBefore = app.db.stats.calls;
  const ms = await inBatches(count, batch, inFlight, async (first, size) => {
    const messages = Array.from({ length: size }, (_, i) => ({ type: BENCH_TYPE, payload: benchPayload(first + i) }));
    const body = batch === 1 ? messages[0] : { messages };
    const response = await handler(enqueueEvent(BENCH_QUEUE, body), lambdaContext());
    if (response.statusCode !== 202) throw new Error(`enqueue answered ${response.statusCode}: ${response.body}`);
  });
  return { messages: count, ms, perSecond: ratePerSecond(count, ms), calls: app.db.stats.calls - callsBefore };
}
