import middy from '@middy/core';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { lazyApp, type App } from '../lib/app.js';
import { httpErrorHandler, ok, validInput, zodValidator, type ErrorLogger, type HttpResponse } from '../lib/http/index.js';
import { cancelMessage } from '../lib/messages.js';
import { createLogger } from '../lib/observability.js';
import { messageIdParams } from '../schema/messages.js';
import config from '../queue.config.js';

const logger = createLogger();
const schemas = { path: messageIdParams };

/** What this handler validates, by route: test/openapi.test.ts checks it is what the API document says. */
export const ROUTE_SCHEMAS = { 'DELETE /messages/{id}': schemas };

/**
 * DELETE /messages/{id}: cancels a message that is waiting or retrying (answered with status
 * `cancelled`); for a running one, requests its cancel (answered with status `running` and
 * `cancelRequested: true`: its drain stops it within about a second). 409 with `status` when it
 * has finished, 404 for an unknown id.
 */
export function createCancelMessageHandler(getApp: () => App, deps: { logger?: ErrorLogger } = {}) {
  return middy<APIGatewayProxyEventV2, HttpResponse>()
    .use(zodValidator(schemas))
    .use(httpErrorHandler({ logger: deps.logger ?? logger }))
    .handler(async (event) => ok(await cancelMessage(getApp(), validInput(event, schemas).path.id)));
}

export const handler = createCancelMessageHandler(lazyApp({ config }));
