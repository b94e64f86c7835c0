import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { ZodError } from 'zod';
import { DataApiUnavailableError, DatabaseResumingError } from '../db/index.js';
import { QueueError, ValidationError } from '../errors.js';
import { issuesFromZod } from '../validation.js';
import { HttpError, refusalResponse } from './errors.js';
import { jsonResponse, type HttpResponse } from './responses.js';

/** What the error handler needs of a logger (Powertools' Logger fits). */
export interface ErrorLogger {
  error(message: string, ...extra: unknown[]): void;
  warn(message: string, ...extra: unknown[]): void;
}

/** Seconds a caller should wait before trying again when the database is unavailable. */
const RETRY_AFTER_SECONDS = 1;
/** A Serverless v2 cluster takes up to about 15 s to resume from auto-pause. */
const RESUMING_RETRY_AFTER_SECONDS = 15;

/**
 * Turns any error into a JSON answer `{ error: { code, message, field?, rule?, issues? } }`.
 * Register it last: middy runs `onError` in reverse, so it sees errors first and answers them.
 *   - a refusal of the domain (lib/errors.ts): 400 (413 for sizes), 404 or 409, see refusalResponse.
 *   - ZodError from anywhere: 400 naming each field and rule.
 *   - HttpError (body too large, media type, unknown route): as it says.
 *   - middy's own HTTP errors (createError, 4xx): their status and message.
 *   - a retryable fault (Data API unavailable, cluster resuming, deadlock): 503 + Retry-After.
 *   - anything else: 500 "internal error", logged with its stack. Nothing about the fault (no
 *     stack, no SQL, no driver text) reaches the response.
 */
export function httpErrorHandler(options: { logger: ErrorLogger }): MiddlewareObj<APIGatewayProxyEventV2, HttpResponse> {
  return {
    name: 'httpErrorHandler',
    onError: (request) => {
      const { error, event } = request;
      const route = `${event.requestContext?.http?.method ?? '?'} ${event.rawPath ?? '?'}`;
      request.response = responseForError(error, (level, message, fault) => options.logger[level](message, { route, error: fault }));
    },
  };
}

type Log = (level: 'error' | 'warn', message: string, fault: unknown) => void;

export function responseForError(error: unknown, log: Log): HttpResponse {
  const refusal = refusalResponse(error instanceof ZodError ? new ValidationError(issuesFromZod(error)) : error);
  if (refusal !== undefined) return jsonResponse(refusal.status, { error: refusal.body });
  if (error instanceof HttpError) return jsonResponse(error.status, { error: error.body }, error.headers);
  const middyStatus = middyClientErrorStatus(error);
  if (middyStatus !== undefined) {
    return jsonResponse(middyStatus, { error: { code: 'bad_request', message: (error as Error).message } });
  }
  if (error instanceof QueueError && error.retryable) {
    log('warn', 'request refused while the database is unavailable', error);
    const retryAfter = error instanceof DatabaseResumingError ? RESUMING_RETRY_AFTER_SECONDS : RETRY_AFTER_SECONDS;
    // A write whose answer was lost may have committed; say so rather than promise it did not.
    const mayHaveRun = error instanceof DataApiUnavailableError && error.requestMayHaveRun;
    const message = mayHaveRun
      ? 'the database did not answer; the request may have been applied. Try again (an enqueue with a dedupKey is then answered as a duplicate)'
      : 'the database is unavailable for the moment; nothing was changed. Try again';
    return jsonResponse(503, { error: { code: 'unavailable', message } }, { 'retry-after': String(retryAfter) });
  }
  log('error', 'request failed', error);
  return jsonResponse(500, { error: { code: 'internal', message: 'internal error' } });
}

/** @middy/util's createError marks client errors as exposable; their text is meant for callers. */
function middyClientErrorStatus(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { statusCode, expose } = error as { statusCode?: unknown; expose?: unknown };
  return typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500 && expose === true ? statusCode : undefined;
}
