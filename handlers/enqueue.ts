import middy from '@middy/core';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { lazyApp, type App } from '../lib/app.js';
import { enqueueRequest } from '../lib/enqueue.js';
import { accepted, httpErrorHandler, jsonBody, validInput, zodValidator, type ErrorLogger, type HttpResponse } from '../lib/http/index.js';
import { createLogger, publishQueueMetrics, type QueueMetricValues } from '../lib/observability.js';
import { traceContextFromHeaders } from '../lib/tracing.js';
import { ENQUEUE_LIMITS, queueParams } from '../schema/messages.js';
import config from '../queue.config.js';

const logger = createLogger();

export interface EnqueueHandlerDeps {
  logger?: ErrorLogger;
  publishMetrics?: (queue: string, values: QueueMetricValues) => void;
}

const schemas = { path: queueParams };

/** What this handler validates, by route (the messages themselves in lib/enqueue): test/openapi.test.ts checks it. */
export const ROUTE_SCHEMAS = { 'POST /queues/{queue}/messages': schemas };

/**
 * POST /queues/{queue}/messages: one message, or `{ messages: [...] }` (up to 500). Answers 202
 * with `{ id, duplicate }`, or `{ messages: [{ id, duplicate }, ...] }` in the order given. The
 * messages themselves are validated by lib/enqueue (queue, type, payload schema, limits). The
 * request's trace context (`traceparent`, else `X-Amzn-Trace-Id`) is stored with the messages.
 */
export function createEnqueueHandler(getApp: () => App, deps: EnqueueHandlerDeps = {}) {
  const publishMetrics = deps.publishMetrics ?? publishQueueMetrics;
  return middy<APIGatewayProxyEventV2, HttpResponse>()
    .use(jsonBody({ maxBytes: ENQUEUE_LIMITS.maxBodyBytes, required: true }))
    .use(zodValidator(schemas))
    .use(httpErrorHandler({ logger: deps.logger ?? logger }))
    .handler(async (event) => {
      const { path } = validInput(event, schemas);
      const { batch, messages } = await enqueueRequest(getApp(), path.queue, event.body, { traceContext: traceContextFromHeaders(event.headers) });
      publishMetrics(path.queue, { Enqueued: messages.filter((m) => !m.duplicate).length });
      return accepted(batch ? { messages } : messages[0]);
    });
}

export const handler = createEnqueueHandler(lazyApp({ config }));
