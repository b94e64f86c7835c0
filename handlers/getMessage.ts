import middy from '@middy/core';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { lazyApp, type App } from '../lib/app.js';
import { httpErrorHandler, ok, validInput, zodValidator, type ErrorLogger, type HttpResponse } from '../lib/http/index.js';
import { getMessageStatus } from '../lib/messages.js';
import { createLogger } from '../lib/observability.js';
import { messageIdParams } from '../schema/messages.js';
import config from '../queue.config.js';

const logger = createLogger();
const schemas = { path: messageIdParams };

/** What this handler validates, by route: test/openapi.test.ts checks it is what the API document says. */
export const ROUTE_SCHEMAS = { 'GET /messages/{id}': schemas };

/** GET /messages/{id}: the message's status and progress (not its payload); 404 for an unknown id. */
export function createGetMessageHandler(getApp: () => App, deps: { logger?: ErrorLogger } = {}) {
  return middy<APIGatewayProxyEventV2, HttpResponse>()
    .use(zodValidator(schemas))
    .use(httpErrorHandler({ logger: deps.logger ?? logger }))
    .handler(async (event) => ok(await getMessageStatus(getApp(), validInput(event, schemas).path.id)));
}

export const handler = createGetMessageHandler(lazyApp({ config }));
