import middy from '@middy/core';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { lazyApp, type App } from '../lib/app.js';
import { listGroups, pauseGroup, resumeGroup, setGroupLimits } from '../lib/groups.js';
import { httpErrorHandler, jsonBody, ok, routes, validInput, zodValidator, type ErrorLogger, type HttpResponse } from '../lib/http/index.js';
import { createLogger } from '../lib/observability.js';
import { groupLimitsBody, groupListQuery, groupParams } from '../schema/groups.js';
import { queueParams } from '../schema/messages.js';
import config from '../queue.config.js';

const logger = createLogger();

/** A change of limits is two numbers. */
const MAX_BODY_BYTES = 4_096;

const listSchemas = { path: queueParams, query: groupListQuery };
const limitsSchemas = { path: groupParams, body: groupLimitsBody };
const groupSchemas = { path: groupParams };

/** What this handler validates, by route: test/openapi.test.ts checks it is what the API document says. */
export const ROUTE_SCHEMAS = {
  'GET /queues/{queue}/groups': listSchemas,
  'PUT /queues/{queue}/groups/{groupKey}/limits': limitsSchemas,
  'POST /queues/{queue}/groups/{groupKey}/pause': groupSchemas,
  'POST /queues/{queue}/groups/{groupKey}/resume': groupSchemas,
};

/**
 * The groups of a queue with per-group limits (README: Groups):
 *   GET  /queues/{queue}/groups?limit=N                  the groups with the most backlog, and those paused or set
 *   PUT  /queues/{queue}/groups/{groupKey}/limits        { concurrency?, ratePerSecond? }: a number, or null for the queue's
 *   POST /queues/{queue}/groups/{groupKey}/pause|resume  idempotent; running messages finish, enqueues go on
 * The key is percent-encoded in the path; API Gateway (and serverless offline) hand it over decoded
 * in pathParameters, so it is read as it comes: decoding it again would turn a key's own "%41" into "A".
 */
export function createGroupsHandler(getApp: () => App, deps: { logger?: ErrorLogger } = {}) {
  const errors = httpErrorHandler({ logger: deps.logger ?? logger });

  const list = middy<APIGatewayProxyEventV2, HttpResponse>()
    .use(zodValidator(listSchemas))
    .use(errors)
    .handler(async (event) => {
      const { path, query } = validInput(event, listSchemas);
      return ok(await listGroups(getApp(), path.queue, { limit: query.limit }));
    });

  const limits = middy<APIGatewayProxyEventV2, HttpResponse>()
    .use(jsonBody({ maxBytes: MAX_BODY_BYTES, required: true }))
    .use(zodValidator(limitsSchemas))
    .use(errors)
    .handler(async (event) => {
      const { path, body } = validInput(event, limitsSchemas);
      return ok(await setGroupLimits(getApp(), path.queue, path.groupKey, body));
    });

  const control = (action: typeof pauseGroup) =>
    middy<APIGatewayProxyEventV2, HttpResponse>()
      .use(zodValidator(groupSchemas))
      .use(errors)
      .handler(async (event) => {
        const { path } = validInput(event, groupSchemas);
        return ok(await action(getApp(), path.queue, path.groupKey));
      });

  return routes({
    'GET /queues/{queue}/groups': list,
    'PUT /queues/{queue}/groups/{groupKey}/limits': limits,
    'POST /queues/{queue}/groups/{groupKey}/pause': control(pauseGroup),
    'POST /queues/{queue}/groups/{groupKey}/resume': control(resumeGroup),
  });
}

export const handler = createGroupsHandler(lazyApp({ config }));
