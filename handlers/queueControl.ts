import middy from '@middy/core';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { lazyApp, type App } from '../lib/app.js';
import { httpErrorHandler, HttpError, ok, validInput, zodValidator, matchRoute, type ErrorLogger, type HttpResponse } from '../lib/http/index.js';
import { createLogger } from '../lib/observability.js';
import { pauseQueue, resumeQueue } from '../lib/operations.js';
import { queueParams } from '../schema/messages.js';
import config from '../queue.config.js';

const logger = createLogger();
const schemas = { path: queueParams };

/** What this handler validates, by route: test/openapi.test.ts checks it is what the API document says. */
export const ROUTE_SCHEMAS = { 'POST /queues/{queue}/pause': schemas, 'POST /queues/{queue}/resume': schemas };
const PAUSE = 'POST /queues/{queue}/pause';
const RESUME = 'POST /queues/{queue}/resume';

/**
 * POST /queues/{queue}/pause and /resume (the route decides): a paused queue keeps accepting
 * messages, drain runs leave them alone until it is resumed. Both are idempotent.
 */
export function createQueueControlHandler(getApp: () => App, deps: { logger?: ErrorLogger } = {}) {
  return middy<APIGatewayProxyEventV2, HttpResponse>()
    .use(zodValidator(schemas))
    .use(httpErrorHandler({ logger: deps.logger ?? logger }))
    .handler(async (event) => {
      const { queue } = validInput(event, schemas).path;
      switch (matchRoute(event, [PAUSE, RESUME])) {
        case PAUSE:
          return ok(await pauseQueue(getApp(), queue));
        case RESUME:
          return ok(await resumeQueue(getApp(), queue));
        default:
          throw new HttpError(404, { code: 'unknown_route', message: `no route for ${event.requestContext?.http?.method} ${event.rawPath}` });
      }
    });
}

export const handler = createQueueControlHandler(lazyApp({ config }));
