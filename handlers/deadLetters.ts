import middy from '@middy/core';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import * as z from 'zod';
import { lazyApp, type App } from '../lib/app.js';
import { ValidationError } from '../lib/errors.js';
import { httpErrorHandler, jsonBody, ok, routes, validInput, zodValidator, type ErrorLogger, type HttpResponse } from '../lib/http/index.js';
import { createLogger } from '../lib/observability.js';
import { listDeadLetters, purgeDeadLetters, redrive } from '../lib/operations.js';
import { deadLetterPageQuery, purgeQuery, purgeSelection, queueParams, redriveBody } from '../schema/messages.js';
import config from '../queue.config.js';

const logger = createLogger();

/** Bodies of redrive and purge are small: at most 1,000 ids. */
const MAX_BODY_BYTES = 65_536;

const listSchemas = { path: queueParams, query: deadLetterPageQuery };
const redriveSchemas = { path: queueParams, body: redriveBody };
const purgeSchemas = { path: queueParams, query: purgeQuery, body: z.unknown() };

/** What this handler validates, by route (a purge body by purgeSelection once read): test/openapi.test.ts checks it. */
export const ROUTE_SCHEMAS = {
  'GET /queues/{queue}/dead': listSchemas,
  'POST /queues/{queue}/redrive': redriveSchemas,
  'DELETE /queues/{queue}/dead': { ...purgeSchemas, body: purgeSelection },
};

/**
 *   GET    /queues/{queue}/dead?limit=&after=   a page of dead letters with payloads and errors;
 *                                              `next` is the `after` of the following page
 *   POST   /queues/{queue}/redrive              { ids?, limit? } → { redriven, more }
 *   DELETE /queues/{queue}/dead                 { ids } or { all: true }, optional limit, as a
 *                                              body or a query string → { purged, more }
 * Redrive and purge change at most 1,000 dead letters per call; `more: true` says call again.
 */
export function createDeadLettersHandler(getApp: () => App, deps: { logger?: ErrorLogger } = {}) {
  const errors = httpErrorHandler({ logger: deps.logger ?? logger });

  const list = middy<APIGatewayProxyEventV2, HttpResponse>()
    .use(zodValidator(listSchemas))
    .use(errors)
    .handler(async (event) => {
      const { path, query } = validInput(event, listSchemas);
      return ok(await listDeadLetters(getApp(), path.queue, query));
    });

  const redriveRoute = middy<APIGatewayProxyEventV2, HttpResponse>()
    .use(jsonBody({ maxBytes: MAX_BODY_BYTES, required: false }))
    .use(zodValidator(redriveSchemas))
    .use(errors)
    .handler(async (event) => {
      const { path, body } = validInput(event, redriveSchemas);
      const result = await redrive(getApp(), path.queue, body);
      return ok({ redriven: result.count, more: result.more, notCarried: result.notCarried });
    });

  const purge = middy<APIGatewayProxyEventV2, HttpResponse>()
    .use(jsonBody({ maxBytes: MAX_BODY_BYTES, required: false }))
    .use(zodValidator(purgeSchemas))
    .use(errors)
    .handler(async (event) => {
      const { path, query, body } = validInput(event, purgeSchemas);
      if (body !== undefined && Object.keys(query).length > 0) {
        throw new ValidationError([{ field: 'query', rule: 'exclusive', message: 'give the selection as a body or as a query string, not both' }]);
      }
      const { limit, ...selection } = purgeSelection.parse(body ?? query);
      const result = await purgeDeadLetters(getApp(), path.queue, selection.all ? { all: true } : { ids: selection.ids! }, { limit });
      return ok({ purged: result.count, more: result.more });
    });

  return routes({
    'GET /queues/{queue}/dead': list,
    'POST /queues/{queue}/redrive': redriveRoute,
    'DELETE /queues/{queue}/dead': purge,
  });
}

export const handler = createDeadLettersHandler(lazyApp({ config }));
