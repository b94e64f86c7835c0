import middy from '@middy/core';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { lazyApp, type App } from '../lib/app.js';
import { httpErrorHandler, ok, validInput, zodValidator, type ErrorLogger, type HttpResponse } from '../lib/http/index.js';
import { createLogger } from '../lib/observability.js';
import { getQueueStats } from '../lib/operations.js';
import { queueParams } from '../schema/messages.js';
import config from '../queue.config.js';

const logger = createLogger();
const schemas = { path: queueParams };

/** What this handler validates, by route: test/openapi.test.ts checks it is what the API document says. */
export const ROUTE_SCHEMAS = { 'GET /queues/{queue}/stats': schemas };

/** GET /queues/{queue}/stats: counts by status, delayed messages, age of the oldest due one, paused; a FIFO queue's groups, permits in use. */
export function createStatsHandler(getApp: () => App, deps: { logger?: ErrorLogger } = {}) {
  return middy<APIGatewayProxyEventV2, HttpResponse>()
    .use(zodValidator(schemas))
    .use(httpErrorHandler({ logger: deps.logger ?? logger }))
    .handler(async (event) => ok(await getQueueStats(getApp(), validInput(event, schemas).path.queue)));
}

export const handler = createStatsHandler(lazyApp({ config }));
